"""The runtime: the pallets a chain spec names, loaded as pluggy plugins, and what they declare.

Pallets are found through the `payable.pallets` entry-point group, so a separately installed package
adds a pallet with no edit here: install it, name it in the chain spec.
"""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint, entry_points

import pluggy

from payable.runtime.v1 import extrinsic_pb2, metadata_pb2

from . import hookspecs
from .canonical import NonCanonical, check_declared, decode_canonical, decode_signed
from .chainspec import ChainSpec
from .codec import CodecError
from .errors import ChainSpecError, Invalid, InvalidTransaction
from .extrinsic import make_call
from .metadata import build_metadata
from .pallet import CallDef, Pallet, config_from_dict, config_to_json

ENTRY_POINT_GROUP = "payable.pallets"


def available_pallets() -> dict[str, EntryPoint]:
    """Installed pallets by name (entry points, not yet imported)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def make_call_by_name(pallet: str, name: str, args) -> extrinsic_pb2.Call:
    """The call `pallet.name` with `args`, its index resolved from the installed pallet's declared calls
    (with a chain at hand, `Runtime.make_call` resolves it from that chain's pallets)."""
    return make_call(pallet, load_pallet(pallet).calls.named(name).index, args)


def load_pallet(name: str) -> Pallet:
    found = available_pallets()
    if name not in found:
        raise ChainSpecError(f"no installed pallet named {name!r}; installed: {sorted(found)} "
                             f"(a pallet package registers itself in the {ENTRY_POINT_GROUP!r} entry-point group)")
    pallet = found[name].load()
    if not isinstance(pallet, Pallet) or pallet.name != name:
        raise ChainSpecError(f"entry point {name!r} must point to a runtime.pallet.Pallet named {name!r}")
    return pallet


class Runtime:
    def __init__(self, spec: ChainSpec, pallets: dict[str, Pallet] | None = None):
        """Load the spec's pallets (from entry points unless given) and check their configuration."""
        self.spec = spec
        self.params = spec.runtime
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.pallets: dict[str, Pallet] = {}
        for name in spec.pallets:
            pallet = pallets[name] if pallets and name in pallets else load_pallet(name)
            self.pallets[name] = pallet
            self.pm.register(pallet, name=name)
            for extra in pallet.extra_plugins:
                self.pm.register(extra, name=f"{name}.{type(extra).__name__}")
        for pallet in self.pallets.values():
            if missing := [name for name in pallet.requires if name not in self.pallets]:
                raise ChainSpecError(f"pallet {pallet.name!r} calls on {missing}, which the chain spec's pallets "
                                     f"{list(spec.pallets)} lack: add them")
        unknown = sorted((set(spec.config) | set(spec.genesis)) - set(self.pallets))
        if unknown:
            raise ChainSpecError(f"config/genesis given for pallets not in the chain: {unknown}")
        try:
            self.configs = {name: config_from_dict(p.config_type, spec.config.get(name, {}), name)
                            for name, p in self.pallets.items()}
        except (TypeError, ValueError) as exc:
            raise ChainSpecError(str(exc)) from exc
        holders = [p for p in self.pallets.values() if p.holds_balances]
        if len(holders) > 1:
            raise ChainSpecError(f"pallets {[p.name for p in holders]} all declare account balances; a chain has one")
        self._balances = holders[0] if holders else None
        self.prefixes = {name: p.prefix for name, p in self.pallets.items()}
        self._owners = {p.prefix: name for name, p in self.pallets.items()}
        self.config_json = json.dumps(
            {"runtime": self.params.to_dict(),
             "pallets": {n: json.loads(config_to_json(c)) for n, c in self.configs.items()}}, sort_keys=True)
        self.pm.hook.payable_integrity_test(config=self.configs)

    def owner_of(self, key: bytes) -> str | None:
        return self._owners.get(key[:16])

    def resolve_call(self, call: extrinsic_pb2.Call, *, signed: bool = True) -> tuple[CallDef, object]:
        """The call's declaration and decoded arguments, or InvalidTransaction saying what is wrong.

        A signed call's arguments are covered by the signature, so any valid encoding the signer chose is
        accepted (`decode_signed`); an inherent's sit in the unsigned envelope and must be canonical."""
        pallet = self.pallets.get(call.pallet)
        if pallet is None:
            raise InvalidTransaction(Invalid.UNKNOWN_PALLET, f"no pallet {call.pallet!r} in this chain")
        definition = pallet.calls.by_index.get(call.call_index)
        if definition is None:
            raise InvalidTransaction(Invalid.UNKNOWN_CALL, f"pallet {call.pallet!r} has no call {call.call_index}")
        where = f"{call.pallet}.{definition.name} arguments"
        try:
            args = (decode_signed if signed else decode_canonical)(definition.args_type, call.args, where)
        except NonCanonical as exc:
            undecodable = exc.__cause__ is not None  # not even a message of that type
            raise InvalidTransaction(Invalid.BAD_CALL_ARGS if undecodable else Invalid.BAD_ENCODING, str(exc)) from exc
        try:
            check_declared(args)
        except CodecError as exc:
            raise InvalidTransaction(Invalid.BAD_CALL_ARGS, f"{where}: {exc}") from exc
        return definition, args

    def dispatch(self, ctx, definition: CallDef, origin: bytes | None, args) -> None:
        """Run a resolved call in its own pallet (a direct look-up: no other pallet is asked)."""
        self.pallets[definition.pallet].dispatch(ctx, definition, origin, args)

    def validate(self, ctx, signer: bytes, definition: CallDef, args) -> None:
        """The call's pallet's extra validity checks; raises InvalidTransaction or a PalletError."""
        self.pallets[definition.pallet].validate_transaction(ctx, signer, definition, args)

    def query(self, ctx, pallet: str, name: str, request: bytes) -> bytes:
        """Answer pallet `pallet`'s query `name`; KeyError names what does not exist."""
        if pallet not in self.pallets:
            raise KeyError(f"no pallet {pallet!r}; pallets: {sorted(self.pallets)}")
        return self.pallets[pallet].query(ctx, name, request)

    def account_balances(self, ctx, who: bytes) -> dict[str, int] | None:
        """The account's balances from the pallet that holds them (None when no pallet of the chain does)."""
        return self._balances.account_balances(ctx, who) if self._balances is not None else None

    def build_genesis(self, ctx) -> None:
        """Each pallet's genesis in the chain spec's order (pluggy calls the last registered first), so a
        pallet may rely on those listed before it: the validators pallet bonds what token genesis created."""
        for pallet in self.pallets.values():
            try:
                pallet.build_genesis(ctx, self.spec.genesis)
            except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, CodecError) as exc:
                raise ChainSpecError(f"genesis.{pallet.name}: {type(exc).__name__}: {exc}") from exc

    def content_readable(self, ctx, content_hash: bytes, reader: bytes) -> bool:
        """Whether the node may serve this blob to `reader`: yes unless a pallet restricts it and none of the
        pallets allows this reader (a DataNet restricts its data; the inference pallet allows assigned workers)."""
        verdicts = [v for v in self.pm.hook.payable_content_access(ctx=ctx, content_hash=content_hash,
                                                                      reader=reader) if v is not None]
        return not verdicts or any(verdicts)

    def content_uploader(self, ctx, account: bytes) -> bool:
        """Whether the node may store blobs `account` uploads: yes unless a pallet refuses it (the token pallet
        refuses an account that does not exist); a runtime whose pallets have no opinion lets any signer."""
        return all(v for v in self.pm.hook.payable_content_uploader(ctx=ctx, account=account) if v is not None)

    def content_withdrawn(self, ctx, content_hash: bytes) -> str | None:
        """Why no node may serve this blob to anyone any more (a pallet withdrew its data), or None. A blob that
        another pallet's records still use is never withdrawn: anyone may contribute any hash to a DataNet of
        their own and withdraw it, which must not take a model's weights (or anything else) from everyone."""
        reasons = [r for r in self.pm.hook.payable_content_withdrawn(ctx=ctx, content_hash=content_hash) if r]
        if not reasons or self._in_use(ctx, content_hash):
            return None
        return "; ".join(reasons)

    def _in_use(self, ctx, content_hash: bytes) -> bool:
        return any(self.pm.hook.payable_content_in_use(ctx=ctx, content_hash=content_hash))

    def released_content(self, ctx, events) -> list[bytes]:
        """The blobs that a committed block's events free (each once, in event order) and nothing else uses:
        the node deletes them. Each event is put to its own pallet only (`released_content` answers for the
        pallet's own events), not broadcast to every pallet: a block of thousands of transfers is asked
        thousands of times, not thousands times the number of pallets."""
        found: dict[bytes, None] = {}
        for event in events:
            pallet = self.pallets.get(event.pallet)
            if pallet is not None:
                found.update(dict.fromkeys(pallet.payable_released_content(ctx=ctx, event=event) or ()))
        return [h for h in found if not self._in_use(ctx, h)]

    def consensus_validators(self, ctx) -> list[tuple[bytes, int]] | None:
        """The validator set the chain elects, for a consensus driver (None when no pallet elects one)."""
        return self.pm.hook.payable_consensus_validators(ctx=ctx)

    def call_by_name(self, pallet: str, name: str) -> CallDef:
        if pallet not in self.pallets:
            raise KeyError(f"no pallet {pallet!r}; pallets: {sorted(self.pallets)}")
        return self.pallets[pallet].calls.named(name)

    def make_call(self, pallet: str, name: str, args) -> extrinsic_pb2.Call:
        """The call `pallet.name` with `args`, its index resolved from the pallet's declared calls."""
        return make_call(pallet, self.call_by_name(pallet, name).index, args)

    def metadata(self) -> metadata_pb2.RuntimeMetadata:
        """Everything a generic client needs: pallets, calls with types and indices, storage, events, errors,
        and the runtime's parameters (a wallet shows the fee before signing)."""
        return build_metadata(self.spec, self.pallets,
                              {name: config_to_json(config) for name, config in self.configs.items()},
                              json.dumps(self.params.to_dict(), sort_keys=True))

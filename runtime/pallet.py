"""Declaring a pallet: its calls, events, queries and the `Pallet` plugin that ties them together.

A pallet package builds one `Pallet` and exposes it through the `payable.pallets` entry-point group;
a chain spec then names it. `Pallet` implements every hookspec generically from the declarations, so
the runtime never needs to know a pallet in advance (see README: "Writing a pallet").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import structlog

from .canonical import check_declared
from .chainspec import integer
from .context import Context
from .errors import Invalid, InvalidTransaction, PalletError
from .hookspecs import hookimpl
from .storage.items import PalletStorage, pallet_prefix
from .weights import Weight

log = structlog.get_logger("payable.pallet")


@dataclass(frozen=True)
class CallDef:
    pallet: str
    index: int
    name: str
    args_type: Any  # protobuf message class
    weight: Weight
    fn: Callable
    inherent: bool
    doc: str


class CallTable:
    """A pallet's calls by stable index. Indices are never reused, even after a call is removed."""

    def __init__(self, pallet: str, retired: tuple[int, ...] = ()):
        self.pallet = pallet
        self.retired = set(retired)
        self.by_index: dict[int, CallDef] = {}

    def named(self, name: str) -> CallDef:
        """The call declared as `name` (KeyError, listing the declared names, if none is)."""
        for definition in self.by_index.values():
            if definition.name == name:
                return definition
        raise KeyError(f"pallet {self.pallet!r} has no call {name!r}; calls: "
                       f"{sorted(d.name for d in self.by_index.values())}")

    def call(self, index: int, args: Any, weight: Weight, *, inherent: bool = False):
        """Declare `fn(ctx, origin, args)` as call `index`; origin is the signer (None for inherents)."""
        def decorate(fn: Callable) -> Callable:
            if index in self.by_index or index in self.retired:
                raise ValueError(f"{self.pallet}: call index {index} is already used or retired")
            self.by_index[index] = CallDef(self.pallet, index, fn.__name__, args, weight, fn, inherent,
                                           (fn.__doc__ or "").strip())
            return fn
        return decorate


@dataclass(frozen=True)
class EventDef:
    pallet: str
    code: int
    name: str
    data_type: Any
    doc: str

    def emit(self, ctx: Context, **fields) -> None:
        ctx.deposit_event(self.pallet, self.code, self.name,
                          self.data_type(**fields).SerializeToString(deterministic=True))


class EventTable:
    def __init__(self, pallet: str):
        self.pallet = pallet
        self.by_code: dict[int, EventDef] = {}

    def event(self, code: int, name: str, data_type: Any, doc: str) -> EventDef:
        if code in self.by_code:
            raise ValueError(f"{self.pallet}: event code {code} declared twice")
        self.by_code[code] = EventDef(self.pallet, code, name, data_type, doc)
        return self.by_code[code]


@dataclass(frozen=True)
class QueryDef:
    name: str
    request_type: Any
    response_type: Any
    fn: Callable
    doc: str


class QueryTable:
    def __init__(self, pallet: str):
        self.pallet = pallet
        self.by_name: dict[str, QueryDef] = {}

    def query(self, request: Any, response: Any):
        """Declare `fn(ctx, request) -> response` as a read-only query named after the function."""
        def decorate(fn: Callable) -> Callable:
            self.by_name[fn.__name__] = QueryDef(fn.__name__, request, response, fn, (fn.__doc__ or "").strip())
            return fn
        return decorate


def config_from_dict(config_type: type | None, values: dict, pallet: str):
    """Build a pallet's frozen config dataclass from the chain spec, rejecting unknown keys."""
    if config_type is None:
        if values:
            raise ValueError(f"pallet {pallet!r} takes no configuration, got {sorted(values)}")
        return None
    known = {f.name: f for f in dataclasses.fields(config_type)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"pallet {pallet!r}: unknown config keys {unknown}; known: {sorted(known)}")
    converted = {k: integer(v, f"config.{pallet}.{k}") if known[k].type in ("int", int) else v
                 for k, v in values.items()}
    return config_type(**converted)


def config_to_json(config: Any) -> str:
    if config is None:
        return "{}"
    return json.dumps({k: str(v) if isinstance(v, int) else v for k, v in dataclasses.asdict(config).items()},
                      sort_keys=True)


class Pallet:
    """A pallet as a pluggy plugin. Hooks that a pallet does not define in `hooks` are no-ops.

    A pallet's `hooks` module may also define `account_balances(ctx, who)`; the pallet that does is the
    chain's source of account balances (the node's GetAccount reads them through it). A pallet that
    works with a consensus engine defines `on_consensus(ctx, info)` (the driver's inherent) and
    `consensus_validators(ctx)` (the set it elects). A pallet that governs who may read blobs of the node's
    content store defines `content_access(ctx, content_hash, reader)` (None, True or False); one whose data can
    be withdrawn defines `content_withdrawn(ctx, content_hash)` (why no node may serve it, or None) and
    `released_content(ctx, event)` (the blobs a committed event of it frees, for the nodes to delete); one whose
    records point at blobs defines `content_in_use(ctx, content_hash)`, which a withdrawal cannot override.

    `requires` names the pallets whose public interfaces this one calls (the datanet pallet holds deposits
    through the token pallet): a chain spec without them is refused when the runtime is built, not at the
    first call that reaches for them.
    """

    def __init__(self, name: str, *, doc: str, calls: CallTable, storage: PalletStorage, events: EventTable,
                 errors: type[PalletError], queries: QueryTable | None = None, config: type | None = None,
                 genesis: Callable[[Context, Any, dict], None] | None = None, hooks: ModuleType | type | None = None,
                 proto_files: tuple[Any, ...] = (), query_service: Any = None, extra_plugins: tuple[Any, ...] = (),
                 requires: tuple[str, ...] = ()):
        self.name = name
        self.requires = requires
        self.doc = doc
        self.prefix = pallet_prefix(name)
        self.calls, self.storage, self.events, self.errors = calls, storage, events, errors
        self.queries = queries or QueryTable(name)
        self.config_type = config
        self.genesis = genesis
        self.hooks = hooks
        self.proto_files = proto_files  # protobuf FileDescriptors of this pallet's types, for metadata
        self.query_service = query_service  # gRPC ServiceDescriptor whose methods serve `queries` (optional)
        self.extra_plugins = extra_plugins
        for table in (calls, storage, events, queries):
            if table is not None and table.pallet != name:
                raise ValueError(f"pallet {name!r} was given declarations of pallet {table.pallet!r}")

    def _hook(self, name: str) -> Callable | None:
        return getattr(self.hooks, name, None) if self.hooks is not None else None

    # --- what the runtime asks of this pallet alone (looked up by name, not broadcast) --------------
    def dispatch(self, ctx: Context, call: CallDef, origin, args) -> None:
        """Run one of this pallet's calls with decoded `args`; origin is the signer (None for inherents)."""
        with ctx.acting_as(self.name):
            call.fn(ctx, origin, args)

    def query(self, ctx: Context, name: str, request: bytes) -> bytes:
        """Answer read-only query `name` (serialized request in, serialized response out). A request whose
        amounts or accounts could never be valid is refused with CodecError, as a call's would be."""
        query = self.queries.by_name.get(name)
        if query is None:
            raise KeyError(f"pallet {self.name!r} has no query {name!r}; known: {sorted(self.queries.by_name)}")
        decoded = query.request_type.FromString(request)
        check_declared(decoded)
        with ctx.acting_as(self.name):
            response = query.fn(ctx, decoded)
        return response.SerializeToString(deterministic=True)

    @property
    def holds_balances(self) -> bool:
        """Whether this pallet is the chain's source of account balances (its hooks' `account_balances`)."""
        return self._hook("account_balances") is not None

    def account_balances(self, ctx: Context, who: bytes) -> dict[str, int]:
        """free, reserved, bonded and unbonding of `who` (only for the pallet that `holds_balances`)."""
        hook = self._hook("account_balances")
        if hook is None:
            raise RuntimeError(f"pallet {self.name!r} holds no balances (its hooks define no account_balances)")
        with ctx.acting_as(self.name):
            return hook(ctx, who)

    def validate_transaction(self, ctx: Context, signer: bytes, call: CallDef, args) -> None:
        """The pallet's extra validity checks for a signed call (its hooks' `validate_transaction`). A typed error
        the hook raises - a call the pallet can tell will fail - makes the extrinsic invalid, refused before any
        fee as `rejected_by_pallet` naming that error (`pallet.Error: message`). Anything else it raises is the
        pallet's bug: logged, and the extrinsic refused the same way - never an error out of the pool or the
        block author, where one user's extrinsic would stop every block after it."""
        if hook := self._hook("validate_transaction"):
            with ctx.acting_as(self.name):
                try:
                    hook(ctx, signer, call, args)
                except PalletError as exc:
                    raise InvalidTransaction(Invalid.REJECTED_BY_PALLET, exc.named) from exc
                except InvalidTransaction:
                    raise
                except Exception as exc:  # last resort, as a dispatch's DispatchPanic
                    log.exception("validate_transaction_panic", pallet=self.name, call=call.name)
                    raise InvalidTransaction(Invalid.REJECTED_BY_PALLET, f"{self.name}.{call.name}'s validity check "
                                                                         f"raised {type(exc).__name__}: {exc}") from exc

    # --- hookimpls ------------------------------------------------------------------------------
    @hookimpl
    def payable_pallet_info(self):
        return self

    def build_genesis(self, ctx: Context, genesis: dict) -> None:
        """Write this pallet's initial state from its section of `genesis` (the runtime calls each pallet
        in the chain spec's order, not as a hook: later pallets may rely on earlier ones)."""
        if self.genesis is not None:
            with ctx.acting_as(self.name):
                self.genesis(ctx, ctx.config, genesis.get(self.name, {}))
        elif genesis.get(self.name):
            raise ValueError(f"pallet {self.name!r} has no genesis config, but the chain spec gives one")

    @hookimpl
    def payable_on_initialize(self, ctx: Context):
        if hook := self._hook("on_initialize"):
            with ctx.acting_as(self.name):
                hook(ctx)

    @hookimpl
    def payable_on_finalize(self, ctx: Context):
        if hook := self._hook("on_finalize"):
            with ctx.acting_as(self.name):
                hook(ctx)

    @hookimpl
    def payable_on_consensus(self, ctx: Context, info):
        if hook := self._hook("on_consensus"):
            with ctx.acting_as(self.name):
                hook(ctx, info)

    @hookimpl
    def payable_consensus_validators(self, ctx: Context):
        if hook := self._hook("consensus_validators"):
            with ctx.acting_as(self.name):
                return hook(ctx)
        return None

    @hookimpl
    def payable_content_access(self, ctx: Context, content_hash: bytes, reader: bytes):
        if hook := self._hook("content_access"):
            with ctx.acting_as(self.name):
                return hook(ctx, content_hash, reader)
        return None

    @hookimpl
    def payable_bond_claimed(self, ctx: Context, account: bytes):
        if hook := self._hook("bond_claimed"):
            with ctx.acting_as(self.name):
                return hook(ctx, account)
        return None

    @hookimpl
    def payable_content_uploader(self, ctx: Context, account: bytes):
        if hook := self._hook("content_uploader"):
            with ctx.acting_as(self.name):
                return hook(ctx, account)
        return None

    @hookimpl
    def payable_content_withdrawn(self, ctx: Context, content_hash: bytes):
        if hook := self._hook("content_withdrawn"):
            with ctx.acting_as(self.name):
                return hook(ctx, content_hash)
        return None

    @hookimpl
    def payable_content_in_use(self, ctx: Context, content_hash: bytes):
        if hook := self._hook("content_in_use"):
            with ctx.acting_as(self.name):
                return hook(ctx, content_hash)
        return None

    @hookimpl
    def payable_released_content(self, ctx: Context, event):
        if hook := self._hook("released_content"):
            with ctx.acting_as(self.name):
                return hook(ctx, event)
        return None

    @hookimpl
    def payable_integrity_test(self, config: dict):
        codes = [e.code for e in self.errors.declared()]
        if len(codes) != len(set(codes)):
            raise ValueError(f"pallet {self.name!r}: duplicate error codes {codes}")
        if any(e.pallet != self.name for e in self.errors.declared()):
            raise ValueError(f"pallet {self.name!r}: errors must set pallet = {self.name!r}")
        if hook := self._hook("integrity_test"):
            hook(config[self.name])

    @hookimpl
    def payable_try_state(self, ctx: Context):
        if hook := self._hook("try_state"):
            with ctx.acting_as(self.name):
                hook(ctx)

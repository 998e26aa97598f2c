"""A property-based fuzzing harness for any chain spec (hypothesis).

Point it at a chain spec whose genesis funds some signers; it derives call strategies from the
runtime metadata - the calls' protobuf types, with `payable.amount` / `payable.account` field
options telling it which bytes fields are amounts and accounts - and drives random blocks of signed
extrinsics through the real executive, valid ones and deliberately broken ones. After every block:

* every pallet's `try_state` holds (for the token pallet: issuance == Σ balances, no dust, no overflow);
* the total issuance never grows (when a pallet offers a `total_issuance` query);
* each signer's nonce grew by exactly the number of its included extrinsics;
* every faulty extrinsic (bad signature, wrong genesis, stale/future nonce, expired) was rejected
  with its reason, every call with impossible arguments (an amount or account of the wrong size) as
  bad_call_args, and nothing else was rejected except for fees, limits or pallet validity;
* a failed call changed exactly what paying its fee and nonce changes - checked against an independent
  replay of the block in which dispatch of that extrinsic is skipped;
* each dispatch read and wrote no more keys than its declared weight allows;
* a second node importing the block reaches the same block hash and state root.

    from devtools.fuzz import fuzz_chain
    fuzz_chain(spec, signers, max_examples=50)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payable import options_pb2
from payable.system.v1 import system_pb2
from runtime import system
from runtime.chaindb import ChainDB
from runtime.chainspec import ChainSpec
from runtime.codec import U128_MAX, decode_u128, encode_u128
from runtime.crypto import Keypair
from runtime.errors import Invalid, InvalidTransaction
from runtime.executive import Executive
from runtime.extrinsic import inherent_extrinsic, make_call, sign_extrinsic
from runtime.metadata import message_class_lookup
from runtime.runtime import Runtime
from runtime.storage.backend import MemoryBackend

FAULTS = {"bad_signature": Invalid.BAD_SIGNATURE, "wrong_genesis": Invalid.WRONG_GENESIS,
          "stale_nonce": Invalid.STALE_NONCE, "future_nonce": Invalid.FUTURE_NONCE, "expired": Invalid.EXPIRED}
ACCEPTABLE_REJECTIONS = {Invalid.CANNOT_PAY_FEE, Invalid.EXHAUSTS_RESOURCES, Invalid.REJECTED_BY_PALLET}
CHECKED_AFTER_THE_CALL = {"", "stale_nonce", "future_nonce"}  # faults the executive finds after decoding the call
BLOCK_TIME_MS = 6_000


@dataclass(frozen=True)
class Plan:
    """One extrinsic to attempt: who signs, which call with which encoded args, and which fault (if any)."""

    signer: int
    pallet: str
    call_index: int
    args: bytes
    tip: int
    fault: str  # "" for none, else a key of FAULTS


class _SkipDispatchRuntime(Runtime):
    """The replay twin's runtime: once `skipping` is set, calls are charged but not run."""

    skipping = False

    def dispatch(self, ctx, definition, origin, args) -> None:
        if not self.skipping:
            super().dispatch(ctx, definition, origin, args)


def _field_strategy(field: FieldDescriptor, accounts: list[bytes], depth: int) -> st.SearchStrategy:
    opts = field.GetOptions()
    # protoc's .pyi types an extension as a plain FieldDescriptor, which types-protobuf's Extensions[] refuses
    if field.type == FieldDescriptor.TYPE_BYTES and opts.Extensions[options_pb2.amount]:  # type: ignore[index]
        amounts = st.one_of(st.integers(0, 10**18 * 10), st.integers(0, 10**24), st.just(U128_MAX),
                            st.sampled_from([0, 1, 10**16 - 1, 10**16, 10**16 + 1]))
        return st.one_of(amounts.map(encode_u128), st.just(b"\x00\x01"), st.binary(min_size=17, max_size=17))
    if field.type == FieldDescriptor.TYPE_BYTES and opts.Extensions[options_pb2.account]:  # type: ignore[index]
        return st.one_of(st.sampled_from(accounts), st.binary(min_size=32, max_size=32), st.binary(max_size=33))
    simple = {
        FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
        FieldDescriptor.TYPE_STRING: st.text(max_size=32),
        FieldDescriptor.TYPE_BOOL: st.booleans(),
        FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1), FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
        FieldDescriptor.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
        FieldDescriptor.TYPE_INT64: st.integers(-(2**63), 2**63 - 1),
    }
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if depth > 3:
            return st.none()
        return _message_strategy(field.message_type, accounts, depth + 1)
    if field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        return st.sampled_from([v.number for v in field.enum_type.values])
    return simple.get(field.type, st.none())


def _encoded_call(pallet: str, index: int, message) -> tuple[str, int, bytes]:
    return pallet, index, message.SerializeToString(deterministic=True)


def _message_strategy(descriptor, accounts: list[bytes], depth: int = 0) -> st.SearchStrategy:
    cls = message_factory.GetMessageClass(descriptor)
    fields = {}
    for field in descriptor.fields:
        strategy = _field_strategy(field, accounts, depth)
        if field.is_repeated:
            strategy = st.lists(strategy, max_size=3)
        fields[field.name] = strategy

    def build(values: dict):
        message = cls()
        for field in descriptor.fields:
            value = values[field.name]
            if value is None:
                continue
            if field.is_repeated:
                target = getattr(message, field.name)
                for item in value:
                    if field.type == FieldDescriptor.TYPE_MESSAGE:
                        if item is not None:
                            target.add().CopyFrom(item)
                    else:
                        target.append(item)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                getattr(message, field.name).CopyFrom(value)
            else:
                setattr(message, field.name, value)
        return message

    return st.fixed_dictionaries(fields).map(build)


class ChainFuzzer:
    def __init__(self, spec: ChainSpec, signers: list[Keypair], *, author: Keypair | None = None,
                 fault_rate: float = 0.15):
        self.spec = spec
        self.signers = signers
        self.author = author or signers[0]
        self.fault_rate = fault_rate
        self.runtime = runtime = Runtime(spec)
        self.metadata = runtime.metadata()
        lookup = message_class_lookup(self.metadata)
        accounts = [k.public for k in signers]
        self._call_strategies = []
        for pallet in self.metadata.pallets:
            for call in pallet.calls:
                if call.inherent:
                    continue
                descriptor = lookup(call.args_type).DESCRIPTOR
                encode = functools.partial(_encoded_call, pallet.name, call.index)
                self._call_strategies.append(_message_strategy(descriptor, accounts).map(encode))
        self._issuance_query = next(((p.name, q.name, lookup(q.request_type), lookup(q.response_type))
                                     for p in self.metadata.pallets for q in p.queries
                                     if q.name == "total_issuance"), None)

    def plans(self) -> st.SearchStrategy[Plan]:
        fault = st.one_of(st.just(""), st.sampled_from(sorted(FAULTS))) if self.fault_rate else st.just("")
        return st.builds(
            lambda signer, call, tip, fault_: Plan(signer, call[0], call[1], call[2], tip, fault_),
            st.integers(0, len(self.signers) - 1), st.one_of(self._call_strategies),
            st.sampled_from([0, 0, 0, 1, 10**12]), fault)

    # --- running ---------------------------------------------------------------------------------
    def new_chain(self) -> tuple[Executive, Executive, MemoryBackend]:
        backend = MemoryBackend()
        chain = Executive.open(self.spec, backend)
        replica = Executive.open(self.spec, MemoryBackend())
        return chain, replica, backend

    def run(self, blocks: list[list[Plan]]) -> None:
        chain, replica, backend = self.new_chain()
        try:
            chain.try_state()
            for number, plans in enumerate(blocks, start=1):
                self.run_block(chain, replica, backend, plans, number)
        finally:
            chain.close()
            replica.close()

    def _nonces(self, chain: Executive) -> list[int]:
        ctx = chain.read_context()
        return [system.account_nonce(ctx, k.public) for k in self.signers]

    def _issuance(self, chain: Executive) -> int | None:
        """Total issuance, from the query of that name a currency pallet declares (its `value` is a u128)."""
        if self._issuance_query is None:
            return None
        pallet, query, request_type, response_type = self._issuance_query
        raw = chain.query(pallet, query, request_type().SerializeToString())
        return decode_u128(response_type.FromString(raw).value)

    def _impossible_args(self, plan: Plan) -> bool:
        """Arguments no state could make valid (an amount or account of the wrong size): refused at the door."""
        try:
            self.runtime.resolve_call(make_call(plan.pallet, plan.call_index, _Raw(plan.args)))
        except InvalidTransaction as exc:
            return exc.reason == Invalid.BAD_CALL_ARGS
        return False

    def _sign(self, chain: Executive, plan: Plan, nonce: int) -> tuple[bytes, str]:
        """The signed extrinsic for `plan` and the fault it really carries (some cannot exist yet)."""
        fault = plan.fault
        if fault == "stale_nonce" and nonce == 0:
            fault = "future_nonce"  # a fresh account has no stale nonce
        if fault == "expired" and chain.head.number == 0:
            fault = ""  # nothing can have expired before block 1 (valid_until 0 means immortal)
        nonce += {"stale_nonce": -1, "future_nonce": 1}.get(fault, 0)
        genesis = bytes(32) if fault == "wrong_genesis" else chain.genesis_hash
        valid_until = chain.head.number if fault == "expired" else 0
        raw = sign_extrinsic(self.signers[plan.signer], make_call(plan.pallet, plan.call_index, _Raw(plan.args)),
                             nonce=nonce, genesis_hash=genesis, tip=plan.tip, valid_until=valid_until)
        return (_corrupt_signature(raw) if fault == "bad_signature" else raw), fault

    def run_block(self, chain: Executive, replica: Executive, backend: MemoryBackend, plans: list[Plan],
                  number: int) -> None:
        before_nonces = self._nonces(chain)
        before_issuance = self._issuance(chain)
        pre_block = backend.copy()
        next_nonce = list(before_nonces)
        timestamp = self.spec.genesis.get("system", {}).get("timestamp_ms", 0) + number * BLOCK_TIME_MS
        inherent = inherent_extrinsic(make_call(system.NAME, 0, system_pb2.SetTimestamp(now_ms=timestamp)))
        chain.initialize_block(self.author.public)
        chain.apply_extrinsic(inherent)
        applied = [inherent]
        included = [0] * len(self.signers)
        for plan in plans:
            raw, fault = self._sign(chain, plan, next_nonce[plan.signer])
            bad_args = self._impossible_args(plan)
            try:
                outcome = chain.apply_extrinsic(raw)
            except InvalidTransaction as exc:
                if bad_args and fault in CHECKED_AFTER_THE_CALL:
                    assert exc.reason == Invalid.BAD_CALL_ARGS, f"impossible arguments rejected for {exc}"
                elif fault:
                    assert exc.reason == FAULTS[fault], f"{fault} extrinsic rejected for {exc.reason.name}: {exc}"
                else:
                    assert exc.reason in ACCEPTABLE_REJECTIONS, f"valid-looking extrinsic rejected: {exc}"
                continue
            assert not fault, f"faulty extrinsic ({fault}) was accepted"
            assert not bad_args, f"a call with impossible arguments was accepted: {plan}"
            assert outcome is not None, "a signed extrinsic has an outcome"
            applied.append(raw)
            included[plan.signer] += 1
            next_nonce[plan.signer] += 1
            assert outcome.reads <= outcome.declared.reads and outcome.writes <= outcome.declared.writes, (
                f"{plan.pallet}.{plan.call_index} did {outcome.reads} reads/{outcome.writes} writes, declared "
                f"{outcome.declared.reads}/{outcome.declared.writes}")
            if not outcome.ok:
                self._check_fee_only(chain, pre_block, applied)
        chain.finalize_block()
        block_hash = chain.commit(chain.seal(self.author))
        replica.import_block(chain.db.require_block(chain.head.number))
        assert replica.head.hash == block_hash, "replica computed a different block"
        chain.try_state()
        after = self._nonces(chain)
        for i, (b, a) in enumerate(zip(before_nonces, after, strict=True)):
            assert a == b + included[i], f"signer {i}: nonce {b} -> {a} with {included[i]} included"
        after_issuance = self._issuance(chain)
        if before_issuance is not None and after_issuance is not None:
            assert after_issuance <= before_issuance, f"issuance grew {before_issuance} -> {after_issuance}"

    def _check_fee_only(self, chain: Executive, pre_block: MemoryBackend, applied: list[bytes]) -> None:
        """Replay the block with the last extrinsic's dispatch skipped; the state must match exactly."""
        runtime = _SkipDispatchRuntime(self.spec)
        twin = Executive(runtime, ChainDB(pre_block.copy(), self.spec.runtime.state_root_window))
        twin.initialize_block(self.author.public)
        for raw in applied[:-1]:
            twin.apply_extrinsic(raw)
        runtime.skipping = True
        twin.apply_extrinsic(applied[-1])
        real = dict(chain._pending().ctx.overlay.iter_prefix(b""))
        replayed = dict(twin._pending().ctx.overlay.iter_prefix(b""))
        changed = sorted(k.hex()[:40] for k in set(real) | set(replayed) if real.get(k) != replayed.get(k))
        assert not changed, f"a failed call changed more than its fee and nonce: keys {changed}"
        twin.abort()


class _Raw:
    """Already-encoded call arguments (lets the harness send bytes a message class would refuse)."""

    def __init__(self, data: bytes):
        self.data = data

    def SerializeToString(self, deterministic: bool = True) -> bytes:
        return self.data


def _corrupt_signature(raw: bytes) -> bytes:
    from payable.runtime.v1.extrinsic_pb2 import Extrinsic

    ext = Extrinsic.FromString(raw)
    sig = bytearray(ext.signed.signature)
    sig[0] ^= 0x01
    ext.signed.signature = bytes(sig)
    return ext.SerializeToString(deterministic=True)


def fuzz_chain(spec: ChainSpec, signers: list[Keypair], *, max_examples: int = 50, max_blocks: int = 5,
               max_block_size: int = 8, fault_rate: float = 0.15) -> None:
    """Run the harness as a hypothesis test (raises with a shrunk counterexample on any violation)."""
    fuzzer = ChainFuzzer(spec, signers, fault_rate=fault_rate)
    blocks = st.lists(st.lists(fuzzer.plans(), max_size=max_block_size), min_size=1, max_size=max_blocks)

    @settings(max_examples=max_examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(blocks)
    def run(plan_blocks):
        fuzzer.run(plan_blocks)

    run()

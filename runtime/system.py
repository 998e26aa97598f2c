"""The system pallet, built into every chain: block info, the timestamp inherent, account nonces.

Overview: the executive uses it to check and bump nonces and to record each extrinsic's outcome
(`ExtrinsicSuccess` / `ExtrinsicFailed`). Terminology: a *nonce* is the number of signed extrinsics
an account has had included; the next one must carry exactly that number. Invariants: the stored
block number is the number of the block being built; the timestamp strictly increases.
Nonces are never reset, even when an account's balance is reaped, so an old extrinsic can never be
replayed.
"""

from __future__ import annotations

from payable.system.v1 import system_pb2

from .context import Context, public_interface
from .crypto import blake2_256
from .errors import PalletError, ensure
from .pallet import CallTable, EventTable, Pallet, QueryTable
from .storage.items import BLAKE2_128_CONCAT, BYTES, PalletStorage, ProtoCodec
from .weights import Weight

NAME = "system"

# --- storage ---
storage = PalletStorage(NAME)
Nonce = storage.map("Nonce", BYTES, ProtoCodec(system_pb2.AccountNonce), BLAKE2_128_CONCAT,
                    "Next nonce of each account that has sent a signed extrinsic.")
CurrentBlock = storage.value("CurrentBlock", ProtoCodec(system_pb2.BlockInfo),
                             "Number, parent hash and timestamp of the block being built.")
ChainConfig = storage.value("ChainConfig", BYTES,
                            "Canonical JSON of the runtime and pallet configuration, so the state commits to it.")


# --- errors ---
class SystemPalletError(PalletError):
    """The system pallet's errors (named so as not to shadow the builtin SystemError)."""

    pallet = NAME


class TimestampNotIncreasing(SystemPalletError):
    """The block timestamp must be later than the previous block's."""
    code = 0


class BadArgument(SystemPalletError):
    """A call argument is malformed (e.g. an amount longer than 128 bits)."""
    code = 1


class DispatchPanic(SystemPalletError):
    """The call raised an unexpected error: a bug in its pallet; its writes were rolled back."""
    code = 2


# --- events ---
events = EventTable(NAME)
ExtrinsicSuccess = events.event(0, "ExtrinsicSuccess", system_pb2.ExtrinsicSuccess, "A signed extrinsic ran.")
ExtrinsicFailed = events.event(1, "ExtrinsicFailed", system_pb2.ExtrinsicFailed,
                               "A signed extrinsic's call failed; only its fee and nonce were applied.")
Remarked = events.event(2, "Remarked", system_pb2.Remarked, "A remark was recorded (its hash).")

# --- calls ---
calls = CallTable(NAME)


@calls.call(0, system_pb2.SetTimestamp, Weight(5_000, reads=1, writes=1), inherent=True)
def set_timestamp(ctx: Context, origin, args: system_pb2.SetTimestamp) -> None:
    """Inherent: set the block's timestamp (milliseconds since the Unix epoch)."""
    info = CurrentBlock.get(ctx)
    if args.now_ms <= info.timestamp_ms:
        raise TimestampNotIncreasing(f"timestamp {args.now_ms} is not after the previous {info.timestamp_ms}")
    info.timestamp_ms = args.now_ms
    CurrentBlock.put(ctx, info)
    ctx.timestamp_ms = args.now_ms


# A block's votes list the active set: at most 1,000 validators (the validators pallet's bound on
# max_validators). Each vote costs a liveness record's read-modify-write and two lookups (measured ~9 µs
# compute at p90 with 32 validators, a quarter absent), declared at the bound on top of the proposer's and
# evidence's 50 µs / 4 + 4 - an inherent cannot be refused, so its weight is its worst case.
MAX_CONSENSUS_VOTES = 1_000
NOTE_CONSENSUS = Weight(50_000 + 15_000 * MAX_CONSENSUS_VOTES, reads=4 + 3 * MAX_CONSENSUS_VOTES,
                        writes=4 + MAX_CONSENSUS_VOTES)


@calls.call(2, system_pb2.NoteConsensus, NOTE_CONSENSUS, inherent=True)
def note_consensus(ctx: Context, origin, args: system_pb2.NoteConsensus) -> None:
    """Inherent from a consensus driver: the block's proposer, the previous block's votes and any
    misbehaviour evidence, handed to the pallets that act on them (`payable_on_consensus`)."""
    ctx.runtime.pm.hook.payable_on_consensus(ctx=ctx, info=args)


@calls.call(1, system_pb2.Remark, Weight(15_000))  # bench/weights.py: p90 at most 9.2 µs (x86_64, 2 cores)
def remark(ctx: Context, origin: bytes, args: system_pb2.Remark) -> None:
    """Record a remark on chain: only its hash appears in the events, the bytes stay in the block."""
    Remarked.emit(ctx, sender=origin, hash=blake2_256(args.data))


# --- public interface (used by the executive) ---
@public_interface(NAME)
def account_nonce(ctx: Context, who: bytes) -> int:
    entry = Nonce.get(ctx, who)
    return entry.nonce if entry is not None else 0


@public_interface(NAME)
def set_account_nonce(ctx: Context, who: bytes, nonce: int) -> None:
    Nonce.insert(ctx, who, system_pb2.AccountNonce(nonce=nonce))


@public_interface(NAME)
def emit_outcome(ctx: Context, error: PalletError | None, weight: int, fee: bytes) -> None:
    if error is None:
        ExtrinsicSuccess.emit(ctx, weight=weight, fee=fee)
    else:
        ExtrinsicFailed.emit(ctx, pallet=error.pallet, code=error.code, error=type(error).__name__,
                             message=error.message, weight=weight, fee=fee)


# --- hooks ---
class _Hooks:
    @staticmethod
    def on_initialize(ctx: Context) -> None:
        previous = CurrentBlock.get(ctx, system_pb2.BlockInfo())
        CurrentBlock.put(ctx, system_pb2.BlockInfo(number=ctx.block_number, parent_hash=ctx.parent_hash,
                                                   timestamp_ms=previous.timestamp_ms))

    @staticmethod
    def try_state(ctx: Context) -> None:
        info = CurrentBlock.get(ctx)
        ensure(info is not None and info.number == ctx.block_number, "system: CurrentBlock out of step")


def _genesis(ctx: Context, config, genesis: dict) -> None:
    if unknown := sorted(set(genesis) - {"timestamp_ms"}):
        raise ValueError(f"unknown keys {unknown}; known: ['timestamp_ms']")
    CurrentBlock.put(ctx, system_pb2.BlockInfo(number=0, parent_hash=bytes(32),
                                               timestamp_ms=int(genesis.get("timestamp_ms", 0))))
    ChainConfig.put(ctx, ctx.runtime.config_json.encode())


# --- queries ---
queries = QueryTable(NAME)


@queries.query(system_pb2.NonceRequest, system_pb2.AccountNonce)
def nonce(ctx: Context, request: system_pb2.NonceRequest) -> system_pb2.AccountNonce:
    """The next nonce the account must use."""
    return system_pb2.AccountNonce(nonce=account_nonce(ctx, request.account))


pallet = Pallet(NAME, doc=__doc__, calls=calls, storage=storage, events=events, errors=SystemPalletError,
                queries=queries, genesis=_genesis, hooks=_Hooks, proto_files=(system_pb2.DESCRIPTOR,),
                query_service=system_pb2.DESCRIPTOR.services_by_name["SystemQuery"])

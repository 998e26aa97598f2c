"""The explorer's index: which block holds an extrinsic, and which blocks touch an account.

A block's body and events say everything, but only block by block; an explorer (search by extrinsic hash,
an account's history) needs the way back. The index is derived data, never consensus: it is written in the
same synced batch as its block (so it never lags the head after a crash) and rebuilt from the stored blocks
when a database predates it. Entries:

    x: ‖ extrinsic hash                                      → block number (8) ‖ extrinsic index (4)
    a: ‖ account ‖ (2^64-1 - block number) (8) ‖ index (4)   → the roles, comma separated

Account keys count block numbers down, so a forward scan of one account's prefix is newest first (what a
history page and its next-page cursor want). An account appears in an extrinsic as its `signer`, as an
account-typed argument of its call (`call:dest`), or in an event the extrinsic (or the block's hooks, index
2^32-1) emitted (`token.Transfer`) - every account-typed field counts, found from the protobuf options, so a
pallet added later is indexed without a change here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

from payable import options_pb2
from payable.runtime.v1.extrinsic_pb2 import Block, BlockEvents, EventRecord, Extrinsic, ExtrinsicBody

from .crypto import blake2_256

TX = b"x:"
ACCOUNT = b"a:"
INDEXED = b"m:indexed"  # the highest block whose entries are written
HOOKS = 0xFFFFFFFF      # the extrinsic index of entries from on_initialize / on_finalize events
_TOP = (1 << 64) - 1


@dataclass(frozen=True)
class HistoryEntry:
    block_number: int
    extrinsic_index: int  # HOOKS for the block's own hooks
    roles: tuple[str, ...]


_PLAN: dict = {}  # message descriptor → its (account fields, message fields), worked out once per type


def _plan(descriptor) -> tuple[tuple, tuple]:
    found = _PLAN.get(descriptor)
    if found is None:
        accounts = tuple(f for f in descriptor.fields if f.type == FieldDescriptor.TYPE_BYTES
                         and f.GetOptions().Extensions[options_pb2.account])
        messages = tuple(f for f in descriptor.fields if f.type == FieldDescriptor.TYPE_MESSAGE)
        found = _PLAN[descriptor] = (accounts, messages)
    return found


def account_fields(message) -> Iterator[tuple[str, bytes]]:
    """(field name, 32-byte account) for every account-typed field of a message, nested ones included."""
    accounts, messages = _plan(message.DESCRIPTOR)
    for field in accounts:
        value = getattr(message, field.name)
        for item in (value if field.is_repeated else (value,)):
            if len(item) == 32:
                yield field.name, item
    for field in messages:
        if field.is_repeated:
            for item in getattr(message, field.name):
                yield from account_fields(item)
        elif message.HasField(field.name):
            yield from account_fields(getattr(message, field.name))


def _note(roles: dict[tuple[bytes, int], list[str]], account: bytes, index: int, role: str) -> None:
    """Record that `account` appears in extrinsic `index` as `role` (each role once, in order of appearance)."""
    found = roles.setdefault((account, index), [])
    if role not in found:
        found.append(role)


class ChainIndex:
    """Index entries for blocks of one runtime (it decodes calls and events with the runtime's own types)."""

    def __init__(self, runtime):
        self.runtime = runtime

    def entries(self, number: int, block: Block, events: BlockEvents) -> dict[bytes, bytes]:
        roles: dict[tuple[bytes, int], list[str]] = {}
        out: dict[bytes, bytes] = {}
        where = number.to_bytes(8, "big")
        for index, raw in enumerate(block.extrinsics):
            out[TX + blake2_256(raw)] = where + index.to_bytes(4, "big")
            extrinsic = Extrinsic.FromString(raw)
            if extrinsic.WhichOneof("kind") != "signed":
                continue
            body = ExtrinsicBody.FromString(extrinsic.signed.body)
            _note(roles, body.signer, index, "signer")
            args = self._call_args(body.call)
            if args is not None:
                for name, account in account_fields(args):
                    _note(roles, account, index, f"call:{name}")
        for event in events.events:
            index = event.extrinsic_index if event.phase == EventRecord.APPLY_EXTRINSIC else HOOKS
            data = self._event_data(event)
            if data is not None:
                role = f"{event.pallet}.{event.name}"
                for _, account in account_fields(data):
                    _note(roles, account, index, role)
        countdown = (_TOP - number).to_bytes(8, "big")
        for (account, index), names in roles.items():
            out[ACCOUNT + account + countdown + index.to_bytes(4, "big")] = ",".join(names).encode()
        out[INDEXED] = where
        return out

    def _call_args(self, call):
        """A stored block's call arguments, decoded by their declared type: the block was applied, so its
        calls passed the runtime's checks then (`resolve_call`'s canonical-encoding checks are not run
        again); None for a call this runtime does not declare (an index is derived data: it never stops)."""
        pallet = self.runtime.pallets.get(call.pallet)
        definition = pallet.calls.by_index.get(call.call_index) if pallet is not None else None
        if definition is None:
            return None
        try:
            return definition.args_type.FromString(call.args)
        except DecodeError:
            return None

    def _event_data(self, event):
        pallet = self.runtime.pallets.get(event.pallet)
        declared = pallet.events.by_code.get(event.code) if pallet is not None else None
        return None if declared is None else declared.data_type.FromString(event.data)

    def catch_up(self, db) -> int:
        """Write the entries of stored blocks the index lacks (a database from before the index); returns
        how many blocks were indexed."""
        if db.head is None:
            return 0
        raw = db.backend.get(INDEXED)
        start = 0 if raw is None else int.from_bytes(raw, "big") + 1
        for number in range(start, db.head.number + 1):
            db.backend.write_batch(self.entries(number, db.block(number), db.events(number)))
        return max(0, db.head.number + 1 - start)


def locate_extrinsic(backend, extrinsic_hash: bytes) -> tuple[int, int] | None:
    """(block number, index) of an extrinsic by its hash, or None."""
    raw = backend.get(TX + extrinsic_hash)
    return None if raw is None else (int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:12], "big"))


def account_history(backend, account: bytes, before: int = 0, limit: int = 50) -> tuple[list[HistoryEntry], int]:
    """The account's entries in blocks below `before` (0: from the head), newest first, at most `limit`;
    and the `before` of the next page (0 when there is none). A page never splits a block."""
    prefix = ACCOUNT + account
    start = prefix + ((_TOP - (before - 1)).to_bytes(8, "big") if before else b"")
    out: list[HistoryEntry] = []
    for key, value in backend.iter_prefix(prefix, start=start):
        number = _TOP - int.from_bytes(key[len(prefix):len(prefix) + 8], "big")
        if len(out) >= limit and number != out[-1].block_number:
            return out, out[-1].block_number
        out.append(HistoryEntry(number, int.from_bytes(key[-4:], "big"), tuple(value.decode().split(","))))
    return out, 0

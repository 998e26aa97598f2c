"""The notes pallet: one note per account, with a deposit held through the token pallet (hold "notes/deposit").

Overview: an example of a pallet shipped as its own package. It owns its state slice, declares calls,
events and errors, and moves funds only through the token pallet's public interface.
Invariants: what each account holds under "notes/deposit" is exactly its note's deposit.
"""

from __future__ import annotations

from dataclasses import dataclass

from pallets.token import interface as token
from runtime.codec import decode_u128, encode_u128
from runtime.errors import PalletError, ensure
from runtime.pallet import CallTable, EventTable, Pallet
from runtime.storage.items import BLAKE2_128_CONCAT, BYTES, PalletStorage, ProtoCodec
from runtime.weights import Weight

from . import notes_pb2 as pb

NAME = "notes"
DEPOSIT = "notes/deposit"  # the hold this pallet places (only this pallet may release it)


@dataclass(frozen=True)
class NotesConfig:
    note_deposit: int = 10**18


storage = PalletStorage(NAME)
Notes = storage.map("Notes", BYTES, ProtoCodec(pb.Note), BLAKE2_128_CONCAT, "Each account's note.")


class NotesError(PalletError):
    pallet = NAME


class AlreadyPosted(NotesError):
    """The account already has a note; delete it first."""
    code = 0


class NoNote(NotesError):
    """The account has no note."""
    code = 1


class BadHash(NotesError):
    """A content hash is 32 bytes."""
    code = 2


events = EventTable(NAME)
NotePosted = events.event(0, "NotePosted", pb.NotePosted, "A note was posted and its deposit reserved.")
calls = CallTable(NAME)


@calls.call(0, pb.PostNote, Weight(30_000, reads=3, writes=3))
def post_note(ctx, origin: bytes, args: pb.PostNote) -> None:
    """Post a note (its content hash), reserving the note deposit."""
    if len(args.content_hash) != 32:
        raise BadHash(f"got {len(args.content_hash)} bytes")
    if Notes.contains(ctx, origin):
        raise AlreadyPosted("delete the existing note first")
    deposit = ctx.config.note_deposit
    token.hold(ctx, DEPOSIT, origin, deposit)
    Notes.insert(ctx, origin, pb.Note(content_hash=args.content_hash, deposit=encode_u128(deposit)))
    NotePosted.emit(ctx, author=origin, content_hash=args.content_hash)


@calls.call(1, pb.DeleteNote, Weight(30_000, reads=3, writes=3))
def delete_note(ctx, origin: bytes, args: pb.DeleteNote) -> None:
    """Delete your note and get its deposit back."""
    note = Notes.get(ctx, origin)
    if note is None:
        raise NoNote("nothing to delete")
    Notes.remove(ctx, origin)
    token.release(ctx, DEPOSIT, origin, decode_u128(note.deposit))


class _Hooks:
    @staticmethod
    def try_state(ctx) -> None:
        owed = {who: decode_u128(note.deposit) for who, note in Notes.iter(ctx)}
        held = token.holds(ctx, DEPOSIT)
        for who in sorted(set(owed) | set(held)):
            ensure(held.get(who, 0) == owed.get(who, 0), f"notes: {who.hex()} holds {held.get(who, 0)} for its note")


pallet = Pallet(NAME, doc=__doc__, calls=calls, storage=storage, events=events, errors=NotesError,
                config=NotesConfig, hooks=_Hooks, proto_files=(pb.DESCRIPTOR,))

"""The chain database: state, blocks and chain head in one backend, committed one block at a time.

Each block lands as a single synced write batch holding its state changes, the block, its events, its
hash→number index, the state root for the historical window and the new head. There is no moment at
which the state and the head disagree on disk, which is the lesson of Cosmos' "wrong app hash after
crash" bugs. On open, the state trie is rebuilt from the stored state and must reproduce the head's
state root, or the database is refused as corrupt.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass

from payable.runtime.v1.extrinsic_pb2 import Block, BlockEvents, Header, StateProof

from .crypto import blake2_256
from .storage.backend import KVBackend
from .storage.overlay import Overlay
from .storage.trie import StateTrie

STATE = b"s"
HEAD = b"m:head"
GENESIS = b"m:genesis"
ROOT = b"r:"
BLOCK = b"b:"
EVENTS = b"e:"
HASH_INDEX = b"h:"


class CorruptDatabase(RuntimeError):
    """The stored state does not reproduce the committed state root."""


def _num(n: int) -> bytes:
    return n.to_bytes(8, "big")


@dataclass(frozen=True)
class Head:
    number: int
    hash: bytes
    state_root: bytes


class ChainDB:
    def __init__(self, backend: KVBackend, root_window: int = 256, indexer=None):
        self.backend = backend
        self.root_window = root_window
        self.indexer = indexer  # a ChainIndex: its entries for each block go into the block's batch
        self.trie = StateTrie((k[1:], v) for k, v in backend.iter_prefix(STATE))
        # The trie is millions of long-lived objects without reference cycles: moving them out of the
        # cyclic GC's sight stops full collections from costing hundreds of ms in the middle of a block.
        gc.freeze()
        raw = backend.get(HEAD)
        self._genesis: bytes | None = backend.get(GENESIS)
        self.head: Head | None = None
        if raw is not None:
            self.head = Head(int.from_bytes(raw[:8], "big"), raw[8:40], raw[40:72])
            if self.trie.root != self.head.state_root:
                raise CorruptDatabase(f"stored state gives root {self.trie.root.hex()} but block "
                                      f"#{self.head.number} committed {self.head.state_root.hex()}")

    @property
    def genesis_hash(self) -> bytes | None:
        """Read once: every transaction's check compares against it, and it never changes once written."""
        return self._genesis

    def overlay(self) -> Overlay:
        """A fresh overlay over the committed state (keys without the state namespace byte)."""
        return Overlay(self.backend, STATE)

    def stage_root(self, changes: dict[bytes, bytes | None]) -> bytes:
        """Fold a block's pending changes into the trie; returns the state root they give."""
        return self.trie.stage(changes)

    def revert_root(self, changes: dict[bytes, bytes | None]) -> None:
        """Undo `stage_root(changes)` for a block that will not commit, by staging the committed values."""
        self.trie.stage({key: self.backend.get(STATE + key) for key in changes})
        if self.head is not None and self.trie.root != self.head.state_root:
            raise CorruptDatabase("reverting a staged block did not restore the committed state root")

    def commit_block(self, number: int, block_hash: bytes, block: Block, events: BlockEvents,
                     changes: dict[bytes, bytes | None], state_root: bytes) -> None:
        """Write everything of one block in one synced batch; `stage_root(changes)` must precede it."""
        if self.trie.root != state_root:
            raise RuntimeError("commit_block: the staged trie does not match the block's state root")
        batch: dict[bytes, bytes | None] = {STATE + k: v for k, v in changes.items()}
        batch[BLOCK + _num(number)] = block.SerializeToString(deterministic=True)
        batch[EVENTS + _num(number)] = events.SerializeToString(deterministic=True)
        batch[HASH_INDEX + block_hash] = _num(number)
        batch[ROOT + _num(number)] = state_root
        if number >= self.root_window:
            batch[ROOT + _num(number - self.root_window)] = None
        batch[HEAD] = _num(number) + block_hash + state_root
        if number == 0:
            batch[GENESIS] = block_hash
        if self.indexer is not None:
            batch.update(self.indexer.entries(number, block, events))
        self.backend.write_batch(batch)
        self.head = Head(number, block_hash, state_root)
        if number == 0:
            self._genesis = block_hash

    def state_items(self) -> list[tuple[bytes, bytes]]:
        """The committed state's (key, value) pairs in ascending key order (a snapshot's content)."""
        return [(k[1:], v) for k, v in self.backend.iter_prefix(STATE)]

    def adopt(self, block: Block, events: BlockEvents, state: Iterable[tuple[bytes, bytes]], trie: StateTrie) -> None:
        """Make block `block` the head with `state` as the whole state (state sync): what was stored of the
        state before is replaced, in one synced batch, so the database holds either its old chain or the
        new head - never a mix. `trie` is the trie of exactly `state` (the caller built it while checking
        the snapshot); its root must be the block's state root. Earlier blocks are not stored: the chain
        starts at this head, like a pruned node's."""
        header = Header.FromString(block.header)
        if trie.root != header.state_root:
            raise CorruptDatabase("adopt: the state's trie root is not the block's state root")
        number, block_hash = header.number, blake2_256(block.header)
        batch: dict[bytes, bytes | None] = {key: None for key, _ in self.backend.iter_prefix(STATE)}
        batch.update((STATE + k, v) for k, v in state)
        batch[BLOCK + _num(number)] = block.SerializeToString(deterministic=True)
        batch[EVENTS + _num(number)] = events.SerializeToString(deterministic=True)
        batch[HASH_INDEX + block_hash] = _num(number)
        batch[ROOT + _num(number)] = header.state_root
        batch[HEAD] = _num(number) + block_hash + header.state_root
        if self.indexer is not None:
            batch.update(self.indexer.entries(number, block, events))
        self.backend.write_batch(batch)
        self.trie, self.head = trie, Head(number, block_hash, header.state_root)

    def block(self, number: int) -> Block | None:
        raw = self.backend.get(BLOCK + _num(number))
        return None if raw is None else Block.FromString(raw)

    def require_block(self, number: int) -> Block:
        """Block `number`, which the caller knows is stored (at most the head): a missing one is a bug."""
        block = self.block(number)
        if block is None:
            raise LookupError(f"block #{number} is not stored (the head is #{self.head.number if self.head else None})")
        return block

    def number_of(self, block_hash: bytes) -> int | None:
        raw = self.backend.get(HASH_INDEX + block_hash)
        return None if raw is None else int.from_bytes(raw, "big")

    def events(self, number: int) -> BlockEvents | None:
        raw = self.backend.get(EVENTS + _num(number))
        return None if raw is None else BlockEvents.FromString(raw)

    def require_events(self, number: int) -> BlockEvents:
        """The events of block `number`, which the caller knows is stored (at most the head)."""
        events = self.events(number)
        if events is None:
            raise LookupError(f"no events stored for block #{number}")
        return events

    def state_root_at(self, number: int) -> bytes | None:
        """The state root after block `number`, if it is within the kept window."""
        return self.backend.get(ROOT + _num(number))

    def state_value(self, key: bytes) -> bytes | None:
        return self.backend.get(STATE + key)

    def prove(self, key: bytes) -> StateProof:
        """Proof of `key`'s committed value (or absence) against the head's state root."""
        return self.trie.prove(key)

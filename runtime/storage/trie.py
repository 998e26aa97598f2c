"""The state trie: an incrementally updated 16-ary Merkle trie over the whole key-value state.

Why this shape: a block's root update must cost O(keys changed × log state size). Paths are
blake2b-256(key), so the trie stays balanced (depth ≈ log16(n): 5 levels at 1M keys) whatever the
keys look like, and each leaf sits in the shallowest slot where it is alone, so there are no long
chains of single-child nodes. The structure depends only on the set of keys - never on insertion
order - which is what makes the root equal to a from-scratch rebuild (and equal across nodes).

The trie lives in memory (about 200 bytes per key) and is rebuilt from the state on start-up, where
it is checked against the last committed root; it is never a second source of truth on disk.

Updates are staged: `stage(changes)` mutates the trie and returns the new root together with an undo
log, and `revert(undo)` restores the previous trie exactly, for a block that is built but not
committed (or imported and rejected).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from payable.runtime.v1.extrinsic_pb2 import StateProof

from .proof import BRANCH_TAG, EMPTY, encode_level, leaf_hash, nibble


def _h(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


class _Branch:
    """16 slots, each None (empty), a leaf tuple (key_hash, value_hash, leaf_hash), or a child _Branch."""

    __slots__ = ("slots", "hash")

    def __init__(self) -> None:
        self.slots: list = [None] * 16
        self.hash: bytes = EMPTY


def _slot_hash(slot) -> bytes:
    if slot is None:
        return EMPTY
    if type(slot) is tuple:
        return slot[2]
    return slot.hash


def _rehash(branch: _Branch) -> None:
    branch.hash = _h(BRANCH_TAG + b"".join([_slot_hash(s) for s in branch.slots]))


class TrieUndo:
    """What `StateTrie.stage` changed, so that `revert` can restore the previous trie."""

    __slots__ = ("saved", "root_hash", "size")

    def __init__(self, root_hash: bytes, size: int):
        self.saved: dict[int, tuple[_Branch, list, bytes]] = {}
        self.root_hash = root_hash
        self.size = size


class StateTrie:
    """Merkle commitment to a key-value map; see the module docstring for the shape."""

    def __init__(self, items: Iterable[tuple[bytes, bytes]] = ()):
        self._root = _Branch()
        self._size = 0
        self.stage({key: value for key, value in items})

    @property
    def root(self) -> bytes:
        return self._root.hash

    def __len__(self) -> int:
        return self._size

    def stage(self, changes: Mapping[bytes, bytes | None]) -> tuple[bytes, TrieUndo]:
        """Apply `changes` (None deletes) and return (new root, undo log)."""
        undo = TrieUndo(self._root.hash, self._size)
        dirty: dict[int, tuple[int, _Branch]] = {id(self._root): (0, self._root)}
        self._save(undo, self._root)
        for key, value in changes.items():
            key_hash = _h(key)
            if value is None:
                self._delete(key_hash, dirty, undo)
            else:
                value_hash = _h(value)
                self._insert((key_hash, value_hash, leaf_hash(key_hash, value_hash)), dirty, undo)
        for _depth, branch in sorted(dirty.values(), key=lambda item: -item[0]):
            _rehash(branch)
        return self._root.hash, undo

    def revert(self, undo: TrieUndo) -> None:
        """Undo one `stage` call (the most recent one not yet reverted)."""
        for branch, slots, old_hash in undo.saved.values():
            branch.slots = slots
            branch.hash = old_hash
        self._size = undo.size
        assert self._root.hash == undo.root_hash

    @staticmethod
    def _save(undo: TrieUndo, branch: _Branch) -> None:
        if id(branch) not in undo.saved:
            undo.saved[id(branch)] = (branch, list(branch.slots), branch.hash)

    def _insert(self, leaf: tuple, dirty: dict, undo: TrieUndo) -> None:
        key_hash = leaf[0]
        branch, depth = self._root, 0
        while True:
            self._save(undo, branch)
            dirty[id(branch)] = (depth, branch)
            index = nibble(key_hash, depth)
            slot = branch.slots[index]
            if slot is None:
                branch.slots[index] = leaf
                self._size += 1
                return
            if type(slot) is tuple:
                if slot[0] == key_hash:
                    branch.slots[index] = leaf
                    return
                branch.slots[index] = self._split(slot, leaf, depth + 1, dirty)
                self._size += 1
                return
            branch, depth = slot, depth + 1

    @staticmethod
    def _split(existing: tuple, leaf: tuple, depth: int, dirty: dict) -> _Branch:
        """New branch(es) holding two leaves that share the first `depth` nibbles."""
        top = branch = _Branch()
        while True:
            dirty[id(branch)] = (depth, branch)
            a, b = nibble(existing[0], depth), nibble(leaf[0], depth)
            if a != b:
                branch.slots[a], branch.slots[b] = existing, leaf
                return top
            child = _Branch()
            branch.slots[a] = child
            branch, depth = child, depth + 1

    def _delete(self, key_hash: bytes, dirty: dict, undo: TrieUndo) -> None:
        path: list[tuple[_Branch, int]] = []
        branch, depth = self._root, 0
        while True:
            index = nibble(key_hash, depth)
            slot = branch.slots[index]
            path.append((branch, index))
            if slot is None or (type(slot) is tuple and slot[0] != key_hash):
                return  # absent: nothing to delete
            if type(slot) is tuple:
                break
            branch, depth = slot, depth + 1
        for b, _ in path:
            self._save(undo, b)
        self._size -= 1
        branch.slots[index] = None
        # Hoist a lone remaining leaf up through branches that now hold a single key.
        for level in range(len(path) - 1, 0, -1):
            branch, _ = path[level]
            occupied = [s for s in branch.slots if s is not None]
            if len(occupied) != 1 or type(occupied[0]) is not tuple:
                break
            parent, parent_index = path[level - 1]
            parent.slots[parent_index] = occupied[0]
        for level, (b, _) in enumerate(path):
            dirty[id(b)] = (level, b)  # a branch detached by hoisting is rehashed for nothing: harmless

    def prove(self, key: bytes) -> StateProof:
        """Inclusion proof for `key` if present, else a non-inclusion proof."""
        key_hash = _h(key)
        proof = StateProof()
        branch, depth = self._root, 0
        while True:
            index = nibble(key_hash, depth)
            proof.levels.append(encode_level([_slot_hash(s) for s in branch.slots], index))
            slot = branch.slots[index]
            if slot is None:
                return proof
            if type(slot) is tuple:
                if slot[0] != key_hash:
                    proof.other_key_hash = slot[0]
                    proof.other_value_hash = slot[1]
                return proof
            branch, depth = slot, depth + 1

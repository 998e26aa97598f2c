"""The state trie: an incrementally updated 16-ary Merkle trie over the whole key-value state.

Why this shape: a block's root update must cost O(keys changed × log state size). Paths are
blake2b-256(key), so the trie stays balanced (depth ≈ log16(n): 5 levels at 1M keys) whatever the
keys look like, and each leaf sits in the shallowest slot where it is alone, so there are no long
chains of single-child nodes. The structure depends only on the set of keys - never on insertion
order - which is what makes the root equal to a from-scratch rebuild (and equal across nodes), and
what lets a staged block be reverted by staging the old values again.

The trie lives in memory (about 200 bytes per key) and is rebuilt from the state on start-up, where
it is checked against the last committed root; it is never a second source of truth on disk.

Speed: each branch keeps the 16 hashes of its children next to the children themselves, so rehashing
a branch is one join and one blake2b; branches touched by a batch are rehashed once, deepest first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from payable.runtime.v1.extrinsic_pb2 import StateProof

from .proof import BRANCH_TAG, EMPTY, LEAF_TAG, encode_level

_NIBBLE = {c: i for i, c in enumerate("0123456789abcdef")}
MAX_DEPTH = 64  # nibbles in a 32-byte key hash


def _h(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


class _Branch:
    """16 slots - None (empty), a leaf tuple (key_hash, value_hash, leaf_hash) or a child _Branch -
    and `hashes`, the 16 slot hashes kept in step with them."""

    __slots__ = ("slots", "hashes", "hash")

    def __init__(self) -> None:
        self.slots: list = [None] * 16
        self.hashes: list[bytes] = [EMPTY] * 16
        self.hash: bytes = EMPTY

    def set_leaf(self, index: int, leaf: tuple | None) -> None:
        self.slots[index] = leaf
        self.hashes[index] = EMPTY if leaf is None else leaf[2]


class StateTrie:
    """Merkle commitment to a key-value map; see the module docstring for the shape."""

    def __init__(self, items: Iterable[tuple[bytes, bytes]] = ()):
        self._root = _Branch()
        self._size = 0
        self.stage(dict(items))

    @property
    def root(self) -> bytes:
        return self._root.hash

    def __len__(self) -> int:
        return self._size

    def stage(self, changes: Mapping[bytes, bytes | None]) -> bytes:
        """Apply `changes` (None deletes) and return the new root."""
        # dirty[depth]: id(branch) -> (branch, parent, index in parent), rehashed deepest level first
        dirty: list[dict[int, tuple]] = [{} for _ in range(MAX_DEPTH + 1)]
        dirty[0][id(self._root)] = (self._root, None, 0)
        for key, value in changes.items():
            key_hash = _h(key)
            if value is None:
                self._delete(key_hash, dirty)
            else:
                value_hash = _h(value)
                self._insert((key_hash, value_hash, _h(LEAF_TAG + key_hash + value_hash)), dirty)
        for level in reversed(dirty):
            for branch, parent, index in level.values():
                branch.hash = _h(BRANCH_TAG + b"".join(branch.hashes))
                if parent is not None and parent.slots[index] is branch:  # not detached by a delete
                    parent.hashes[index] = branch.hash
        return self._root.hash

    def _insert(self, leaf: tuple, dirty: list) -> None:
        key_hash = leaf[0]
        path = key_hash.hex()
        branch, depth = self._root, 0
        while True:
            index = _NIBBLE[path[depth]]
            slot = branch.slots[index]
            if slot is None:
                branch.set_leaf(index, leaf)
                self._size += 1
                return
            if type(slot) is tuple:
                if slot[0] == key_hash:
                    branch.set_leaf(index, leaf)
                    return
                branch.slots[index] = self._split(slot, leaf, branch, index, depth + 1, dirty)
                self._size += 1
                return
            dirty[depth + 1][id(slot)] = (slot, branch, index)
            branch, depth = slot, depth + 1

    @staticmethod
    def _split(existing: tuple, leaf: tuple, parent: _Branch, index: int, depth: int, dirty: list) -> _Branch:
        """New branch(es) under parent.slots[index] holding two leaves that share `depth` nibbles."""
        old_path, new_path = existing[0].hex(), leaf[0].hex()
        top = branch = _Branch()
        while True:
            dirty[depth][id(branch)] = (branch, parent, index)
            a, b = _NIBBLE[old_path[depth]], _NIBBLE[new_path[depth]]
            if a != b:
                branch.set_leaf(a, existing)
                branch.set_leaf(b, leaf)
                return top
            child = _Branch()
            branch.slots[a] = child
            parent, index, branch, depth = branch, a, child, depth + 1

    def _delete(self, key_hash: bytes, dirty: list) -> None:
        path_hex = key_hash.hex()
        path: list[tuple[_Branch, int]] = []
        branch, depth = self._root, 0
        while True:
            index = _NIBBLE[path_hex[depth]]
            slot = branch.slots[index]
            path.append((branch, index))
            if slot is None or (type(slot) is tuple and slot[0] != key_hash):
                return  # absent: nothing to delete
            if type(slot) is tuple:
                break
            branch, depth = slot, depth + 1
        self._size -= 1
        branch.set_leaf(index, None)
        for level in range(1, len(path)):
            parent, parent_index = path[level - 1]
            dirty[level][id(path[level][0])] = (path[level][0], parent, parent_index)
        # Hoist a lone remaining leaf up through branches that now hold a single key.
        for level in range(len(path) - 1, 0, -1):
            branch = path[level][0]
            occupied = [s for s in branch.slots if s is not None]
            if len(occupied) != 1 or type(occupied[0]) is not tuple:
                break
            parent, parent_index = path[level - 1]
            parent.set_leaf(parent_index, occupied[0])

    def prove(self, key: bytes) -> StateProof:
        """Inclusion proof for `key` if present, else a non-inclusion proof."""
        key_hash = _h(key)
        path = key_hash.hex()
        proof = StateProof()
        branch, depth = self._root, 0
        while True:
            index = _NIBBLE[path[depth]]
            proof.levels.append(encode_level(branch.hashes, index))
            slot = branch.slots[index]
            if slot is None:
                return proof
            if type(slot) is tuple:
                if slot[0] != key_hash:
                    proof.other_key_hash = slot[0]
                    proof.other_value_hash = slot[1]
                return proof
            branch, depth = slot, depth + 1

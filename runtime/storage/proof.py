"""Standalone state-proof verification: needs only the root, the key, the claimed value and the proof.

This module is deliberately free of runtime imports beyond the generated protobuf types, so a light
client can check a value against a block header without running a node.

Trie shape (see `trie.py`): a 16-ary trie over blake2b-256(key). A branch's hash is
blake2b(0x01 ‖ 16 child hashes), an empty slot is 32 zero bytes, and a leaf - kept in the shallowest
slot where it is alone - hashes to blake2b(0x00 ‖ key_hash ‖ blake2b(value)). Domain separation makes a
leaf, a branch and an empty slot impossible to confuse.
"""

from __future__ import annotations

import hashlib

from google.protobuf.message import DecodeError

from payable.runtime.v1.extrinsic_pb2 import StateProof

EMPTY = bytes(32)
LEAF_TAG = b"\x00"
BRANCH_TAG = b"\x01"


def _h(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def nibble(key_hash: bytes, depth: int) -> int:
    """The 4-bit digit of `key_hash` that selects the child slot at `depth`."""
    byte = key_hash[depth >> 1]
    return (byte >> 4) if depth & 1 == 0 else (byte & 0x0F)


def leaf_hash(key_hash: bytes, value_hash: bytes) -> bytes:
    return _h(LEAF_TAG + key_hash + value_hash)


def encode_level(children: list[bytes], skip: int) -> bytes:
    """A proof level: bitmap of non-empty siblings (slot `skip` excluded), then their hashes."""
    bitmap = 0
    hashes = []
    for slot, child in enumerate(children):
        if slot != skip and child != EMPTY:
            bitmap |= 1 << slot
            hashes.append(child)
    return bitmap.to_bytes(2, "big") + b"".join(hashes)


def _fold_level(level: bytes, slot: int, child: bytes) -> bytes:
    bitmap = int.from_bytes(level[:2], "big")
    if bitmap >> slot & 1:
        raise ValueError("proof level claims a sibling in the proven slot")
    if len(level) != 2 + 32 * bitmap.bit_count():
        raise ValueError("proof level length does not match its bitmap")
    parts = [BRANCH_TAG]
    offset = 2
    for index in range(16):
        if index == slot:
            parts.append(child)
        elif bitmap >> index & 1:
            parts.append(level[offset:offset + 32])
            offset += 32
        else:
            parts.append(EMPTY)
    return _h(b"".join(parts))


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: StateProof | bytes) -> bool:
    """True iff `proof` shows that `key` maps to `value` (or, with None, is absent) under `root`."""
    if isinstance(proof, bytes | bytearray):
        parsed = StateProof()
        try:
            parsed.ParseFromString(bytes(proof))
        except DecodeError:  # an undecodable proof is simply not a valid proof
            return False
        proof = parsed
    levels = list(proof.levels)
    if not levels or len(levels) > 64:
        return False
    key_hash = _h(key)
    depth = len(levels)
    has_other = bool(proof.other_key_hash or proof.other_value_hash)
    if value is not None:
        if has_other:
            return False
        node = leaf_hash(key_hash, _h(value))
    elif has_other:
        other = proof.other_key_hash
        if len(other) != 32 or len(proof.other_value_hash) != 32 or other == key_hash:
            return False
        if any(nibble(other, d) != nibble(key_hash, d) for d in range(depth)):
            return False  # the other leaf must sit in the very slot our key would occupy
        node = leaf_hash(other, proof.other_value_hash)
    else:
        node = EMPTY
    try:
        for d in range(depth - 1, -1, -1):
            node = _fold_level(levels[d], nibble(key_hash, d), node)
    except ValueError:
        return False
    return node == root

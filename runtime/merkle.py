"""Binary Merkle trees over ordered lists (extrinsics roots, DataNet snapshots), with proofs.

Leaves and inner nodes are domain-separated (0x00 / 0x01 prefixes) so a leaf can never pass for an
inner node; an odd node is promoted unchanged to the next level.
"""

from __future__ import annotations

from .crypto import blake2_256

EMPTY_ROOT = blake2_256(b"")


def _leaf(data: bytes) -> bytes:
    return blake2_256(b"\x00" + data)


def _node(left: bytes, right: bytes) -> bytes:
    return blake2_256(b"\x01" + left + right)


def merkle_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    level = [_leaf(x) for x in leaves]
    while len(level) > 1:
        level = [_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0]


def merkle_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """Sibling hashes from the leaf up; the side of each is implied by the index."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} out of range 0..{len(leaves) - 1}")
    level = [_leaf(x) for x in leaves]
    proof = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        level = [_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
        index //= 2
    return proof


def verify_merkle_proof(root: bytes, leaf: bytes, index: int, count: int, proof: list[bytes]) -> bool:
    """True iff `leaf` is element `index` of a `count`-leaf tree with this root."""
    if not 0 <= index < count:
        return False
    node, width, used = _leaf(leaf), count, 0
    while width > 1:
        if index ^ 1 < width:
            if used >= len(proof):
                return False
            sibling = proof[used]
            used += 1
            node = _node(sibling, node) if index & 1 else _node(node, sibling)
        index //= 2
        width = (width + 1) // 2
    return used == len(proof) and node == root

"""Which extrinsics' signatures this node has checked itself, by the hash of their exact bytes.

A transfer reaches a validator's checks more than once: CheckTx admits it to the pool (signature
checked), then ProcessProposal - and, after a round change, ProcessProposal again - executes the block
holding it. Executing a block skips the signature of any extrinsic whose exact bytes this node already
found correctly signed, and checks every other one (in parallel, `Executive.apply_candidates`). Only
what this node verified itself is recorded - never a claim from a peer or a proposer - so a block from
another proposer with a bad signature is still refused. The hash covers the signature and the signed
body, so different bytes are a different entry. Bounded (oldest forgotten first), and an extrinsic leaves
once a committed block holds it: its nonce is spent, it can never be valid again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

CAPACITY = 200_000  # hashes kept (about 20 MB): several full pools' worth


class VerifiedSignatures:
    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self.hits = 0  # signature checks skipped because the entry was here
        self._seen: dict[bytes, None] = {}  # insertion-ordered: the oldest first
        self._lock = threading.Lock()  # CheckTx and the consensus connection run on their own threads

    def add(self, hashes: Iterable[bytes]) -> None:
        with self._lock:
            for h in hashes:
                self._seen[h] = None
            while len(self._seen) > self.capacity:
                del self._seen[next(iter(self._seen))]

    def discard(self, hashes: Iterable[bytes]) -> None:
        with self._lock:
            for h in hashes:
                self._seen.pop(h, None)

    def trusted(self, tx_hash: bytes) -> bool:
        """Whether this node already found these exact bytes correctly signed (counted in `hits`)."""
        found = tx_hash in self._seen
        self.hits += found
        return found

    def __len__(self) -> int:
        return len(self._seen)

"""The transaction pool: validated extrinsics waiting for a block.

Each sender's extrinsics form a nonce chain starting at the account's next nonce. Those that continue
the chain without a gap are *ready*; the rest are *future* (held, bounded, until the gap fills).
Blocks take ready extrinsics by priority (the tip), then arrival, never out of nonce order for one
sender. The pool is bounded by count and bytes: a newcomer evicts the lowest-priority tail extrinsic
(one whose removal breaks no chain) only if it pays more, else it is refused with that reason. After
each block the included extrinsics leave, stale and expired ones are dropped with a reason, and
future ones whose gap filled become ready.

Validation runs before the pool lock is taken (signature checks are the expensive part), so many
clients can submit at once; the pool itself is guarded by one lock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from runtime.errors import InvalidTransaction
from runtime.extrinsic import Validity


class PoolRejected(Exception):
    """The pool refused an extrinsic; `code` is machine-readable, the message says why."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.detail = message


@dataclass
class PooledTx:
    hash: bytes
    raw: bytes
    signer: bytes
    nonce: int
    priority: int
    length: int
    valid_until: int
    seq: int  # arrival order, the tie-breaker between equal priorities


DropListener = Callable[[bytes, str, str], None]  # (hash, "invalid" | "dropped", reason)


class TxPool:
    def __init__(self, validate: Callable[[bytes], Validity], *, max_count: int = 8192,
                 max_bytes: int = 32 * 1024 * 1024, max_future: int = 1024, on_drop: DropListener | None = None):
        self._validate = validate
        self.max_count, self.max_bytes, self.max_future = max_count, max_bytes, max_future
        self._on_drop = on_drop or (lambda *_: None)
        self._lock = threading.Lock()
        self._by_hash: dict[bytes, PooledTx] = {}
        self._by_sender: dict[bytes, dict[int, PooledTx]] = {}
        self._next_nonce: dict[bytes, int] = {}
        self._bytes = 0
        self._seq = itertools.count()
        self.added = threading.Event()  # set whenever an extrinsic becomes ready (the author waits on it)

    # --- entry ---------------------------------------------------------------------------------
    def submit(self, raw: bytes) -> tuple[PooledTx, bool]:
        """Validate and add; returns (the pooled extrinsic, whether it is ready). Raises PoolRejected."""
        try:
            v = self._validate(raw)
        except InvalidTransaction as exc:
            raise PoolRejected(exc.reason.name.lower(), exc.detail) from exc
        dropped: list[tuple[bytes, str, str]] = []
        with self._lock:
            tx = self._insert(raw, v, dropped)
            ready = self._is_ready(tx)
        for event in dropped:
            self._on_drop(*event)
        if ready:
            self.added.set()
        return tx, ready

    def _insert(self, raw: bytes, v: Validity, dropped: list) -> PooledTx:
        if v.hash in self._by_hash:
            raise PoolRejected("duplicate", "this extrinsic is already in the pool")
        next_nonce = max(self._next_nonce.get(v.signer, 0), v.account_nonce)
        if v.nonce < next_nonce:
            raise PoolRejected("stale_nonce", f"nonce {v.nonce}, account's next nonce is {next_nonce}")
        chain = self._by_sender.get(v.signer, {})
        existing = chain.get(v.nonce)
        if existing is not None and v.priority <= existing.priority:
            raise PoolRejected("replacement_underpriced",
                               f"nonce {v.nonce} is already pooled with tip {existing.priority}; pay a higher tip")
        tx = PooledTx(v.hash, raw, v.signer, v.nonce, v.priority, v.length, v.valid_until, next(self._seq))
        self._next_nonce[v.signer] = next_nonce
        if existing is not None:
            self._remove(existing)
            dropped.append((existing.hash, "dropped", "replaced by a higher tip"))
        if not self._would_be_ready(tx) and self._future_count() >= self.max_future:
            raise PoolRejected("future_queue_full", f"{self.max_future} extrinsics already wait for earlier nonces")
        while len(self._by_hash) + 1 > self.max_count or self._bytes + tx.length > self.max_bytes:
            victim = self._eviction_candidate()
            if victim is None or victim.priority >= tx.priority:
                raise PoolRejected("pool_full", f"the pool is full ({len(self._by_hash)} extrinsics, {self._bytes} "
                                                f"bytes) and this tip does not outbid the lowest")
            self._remove(victim)
            dropped.append((victim.hash, "dropped", "evicted by a higher-priority extrinsic (pool full)"))
        self._by_sender.setdefault(tx.signer, {})[tx.nonce] = tx
        self._by_hash[tx.hash] = tx
        self._bytes += tx.length
        return tx

    def _remove(self, tx: PooledTx) -> None:
        del self._by_hash[tx.hash]
        chain = self._by_sender[tx.signer]
        del chain[tx.nonce]
        if not chain:
            del self._by_sender[tx.signer]
        self._bytes -= tx.length

    def _eviction_candidate(self) -> PooledTx | None:
        """Lowest priority (newest first among equals) of the senders' last extrinsics."""
        tails = [chain[max(chain)] for chain in self._by_sender.values()]
        return min(tails, key=lambda t: (t.priority, -t.seq), default=None)

    def _would_be_ready(self, tx: PooledTx) -> bool:
        chain = self._by_sender.get(tx.signer, {})
        return all(n in chain for n in range(self._next_nonce.get(tx.signer, 0), tx.nonce))

    def _is_ready(self, tx: PooledTx) -> bool:
        return tx.hash in self._by_hash and self._would_be_ready(tx)

    def _ready_chain(self, signer: bytes) -> list[PooledTx]:
        chain, nonce, out = self._by_sender.get(signer, {}), self._next_nonce.get(signer, 0), []
        while nonce in chain:
            out.append(chain[nonce])
            nonce += 1
        return out

    def _future_count(self) -> int:
        return len(self._by_hash) - sum(len(self._ready_chain(s)) for s in self._by_sender)

    # --- block building ------------------------------------------------------------------------
    def ready(self, limit: int) -> list[PooledTx]:
        """Up to `limit` ready extrinsics: highest tip first, then oldest; each sender in nonce order."""
        with self._lock:
            chains = {s: self._ready_chain(s) for s in self._by_sender}
        heap = [(-c[0].priority, c[0].seq, s, 0) for s, c in chains.items() if c]
        heapq.heapify(heap)
        out: list[PooledTx] = []
        while heap and len(out) < limit:
            _, _, signer, i = heapq.heappop(heap)
            out.append(chains[signer][i])
            if i + 1 < len(chains[signer]):
                nxt = chains[signer][i + 1]
                heapq.heappush(heap, (-nxt.priority, nxt.seq, signer, i + 1))
        return out

    def after_block(self, number: int, included: list[bytes], invalid: dict[bytes, str],
                    nonce_of: Callable[[bytes], int]) -> None:
        """Remove included and invalid extrinsics, then drop stale and expired ones (the next block is
        number + 1) and let future ones whose gap filled become ready."""
        dropped: list[tuple[bytes, str, str]] = []
        with self._lock:
            for h in included:
                tx = self._by_hash.get(h)
                if tx is not None:
                    self._remove(tx)
            for h, reason in invalid.items():
                tx = self._by_hash.get(h)
                if tx is not None:
                    self._remove(tx)
                    dropped.append((h, "invalid", reason))
            # every pooled sender's chain restarts at its account nonce (also right after an imported block)
            self._next_nonce = {signer: nonce_of(signer) for signer in self._by_sender}
            for tx in list(self._by_hash.values()):
                if tx.nonce < self._next_nonce.get(tx.signer, 0):
                    self._remove(tx)
                    dropped.append((tx.hash, "invalid", f"stale nonce {tx.nonce} (an earlier extrinsic used it)"))
                elif tx.valid_until and tx.valid_until < number + 1:
                    self._remove(tx)
                    dropped.append((tx.hash, "invalid", f"expired: valid until block {tx.valid_until}"))
            has_ready = any(self._ready_chain(s) for s in self._by_sender)
        for event in dropped:
            self._on_drop(*event)
        if has_ready:
            self.added.set()

    # --- inspection ----------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        """(ready, future)."""
        with self._lock:
            ready = sum(len(self._ready_chain(s)) for s in self._by_sender)
            return ready, len(self._by_hash) - ready

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._by_hash

    def __len__(self) -> int:
        return len(self._by_hash)

"""The transaction pool: validated extrinsics waiting for a block.

Each sender's extrinsics form a nonce chain starting at the account's next nonce. Those that continue
the chain without a gap are *ready*; the rest are *future* (held, bounded, until the gap fills).
Blocks take ready extrinsics by priority (the tip), then arrival, never out of nonce order for one
sender.

The pool is a shared resource, so admission makes spam cost and bounds what one account can hold:
- every pooled extrinsic must be payable: the fees (tips included) of all the sender's pooled
  extrinsics together must fit in its free balance at admission (the block re-checks when it
  withdraws each fee), so a tip the sender can never pay buys no priority;
- per sender: at most `sender_count` extrinsics and `sender_bytes` bytes, of which at most
  `sender_future` wait for an earlier nonce, and none more than `max_nonce_gap` ahead of its next one;
- a future extrinsic that still waits after `future_ttl` blocks made since it arrived is dropped (expired;
  blocks a catching-up node imports, made before it arrived, do not count);
- pool-wide: `max_count` extrinsics, `max_bytes` bytes, `max_future` futures. When full, a newcomer
  makes room by evicting a sender's last extrinsic (so no chain breaks), or is refused with the reason:
  - a ready newcomer always gets in while any future is pooled: futures never lock out, or outrank,
    what can be included now (it evicts the newest future of the sender holding the most);
  - else it evicts the lowest-tip ready tail paying less, or, at an equal tip, the tail of a sender
    holding at least two more pooled extrinsics than its own sender (one account's flood gives way to
    everybody else's first extrinsics);
  - a future newcomer evicts only futures: first from a sender holding at least two more futures than
    its own sender, whatever their tips (a future pays nothing until it becomes ready, so its tip
    buys it no place), else the lowest-tip one paying less. Under pressure the future queue is thus
    shared out max-min fairly: however many funded accounts flood it, each inside its nonce window,
    every other sender's share shrinks toward `max_future` / senders but never to nothing.
After each block the included extrinsics leave, stale, expired and unpayable ones are dropped with a
reason, and future ones whose gap filled become ready.

Validation runs before the pool lock is taken (signature checks are the expensive part), so many
clients can submit at once; the pool itself is guarded by one lock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from runtime.codec import format_open
from runtime.crypto import blake2_256
from runtime.errors import InvalidTransaction
from runtime.extrinsic import Validity


class PoolRejected(Exception):
    """The pool refused an extrinsic; `code` is machine-readable, the message says why."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.detail = message


class Unconfirmed(ConnectionError):
    """The consensus engine was handed an extrinsic but did not answer in time: it may have taken it, so this
    is no "nothing was sent". The node keeps it in its pool; its fate is learned by its hash, or by sending
    the same bytes again (never applied twice) - never by signing it anew."""


@dataclass
class PooledTx:
    hash: bytes
    raw: bytes
    signer: bytes
    nonce: int
    priority: int
    length: int
    valid_until: int
    seq: int      # arrival order, the tie-breaker between equal priorities
    fee: int      # what including it withdraws from the sender (tip included)
    arrived_ms: int  # the wall-clock time it arrived (unix ms): blocks made before it do not age it
    waited: int = 0  # blocks made since it arrived that did not include it (future expiry counts these)


# (hash, "invalid" | "dropped", reason): invalid can never be included; dropped could be, if sent again
DropListener = Callable[[bytes, str, str], None]


class TxPool:
    def __init__(self, validate: Callable[[bytes], Validity], *, max_count: int = 8192,
                 max_bytes: int = 32 * 1024 * 1024, max_future: int = 1024, sender_count: int = 256,
                 sender_bytes: int = 4 * 1024 * 1024, sender_future: int = 64, max_nonce_gap: int = 256,
                 future_ttl: int = 64, on_drop: DropListener | None = None,
                 clock: Callable[[], float] = time.time):
        self._validate = validate
        self.max_count, self.max_bytes, self.max_future = max_count, max_bytes, max_future
        self.sender_count, self.sender_bytes, self.sender_future = sender_count, sender_bytes, sender_future
        self.max_nonce_gap, self.future_ttl = max_nonce_gap, future_ttl
        self.block_number = 0
        self.evicted = self.expired = 0  # totals, for metrics
        self._on_drop = on_drop or (lambda *_: None)
        self._clock = clock
        self._lock = threading.Lock()
        self._by_hash: dict[bytes, PooledTx] = {}
        self._by_sender: dict[bytes, dict[int, PooledTx]] = {}
        self._next_nonce: dict[bytes, int] = {}
        self._sender_totals: dict[bytes, tuple[int, int]] = {}  # per sender: (bytes, fees) pooled
        self._bytes = 0
        self._seq = itertools.count()
        self.added = threading.Event()  # set whenever an extrinsic becomes ready (the author waits on it)

    # --- entry ---------------------------------------------------------------------------------
    def submit(self, raw: bytes) -> tuple[PooledTx, bool]:
        """Validate and add; returns (the pooled extrinsic, whether it is ready). Raises PoolRejected. What is
        pooled already is refused before any validation (under a consensus engine every extrinsic this
        node admits comes back once more, through the engine's CheckTx)."""
        with self._lock:
            if blake2_256(raw) in self._by_hash:
                raise PoolRejected("duplicate", "this extrinsic is already in the pool")
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
        if v.nonce - next_nonce > self.max_nonce_gap:
            raise PoolRejected("nonce_too_far", f"nonce {v.nonce} is more than {self.max_nonce_gap} ahead of the "
                                                f"account's next nonce {next_nonce}")
        chain = self._by_sender.get(v.signer, {})
        existing = chain.get(v.nonce)
        if existing is not None and v.priority <= existing.priority:
            raise PoolRejected("replacement_underpriced",
                               f"nonce {v.nonce} is already pooled with tip {existing.priority}; pay a higher tip")
        future = any(n not in chain for n in range(next_nonce, v.nonce))  # it waits for an earlier nonce
        self._check_sender(v, chain, existing, next_nonce, future)
        tx = PooledTx(v.hash, raw, v.signer, v.nonce, v.priority, v.length, v.valid_until, next(self._seq), v.fee,
                      int(self._clock() * 1000))
        self._next_nonce[v.signer] = next_nonce
        removed = [existing] if existing is not None else []
        try:
            if existing is not None:
                self._remove(existing)
            while future and self._future_count() >= self.max_future:
                mine = self._futures_by_sender().get(v.signer, 0)
                removed.append(self._make_room(for_ready=False, below=tx.priority, signer=v.signer, refusal=(
                    "future_queue_full", f"{self.max_future} extrinsics already wait for earlier nonces; this "
                                         f"sender holds {mine} of them, no sender holds more than {mine + 1} and "
                                         f"none pays a lower tip: send the missing nonce first")))
            while len(self._by_hash) + 1 > self.max_count or self._bytes + tx.length > self.max_bytes:
                removed.append(self._make_room(for_ready=not future, below=tx.priority, signer=v.signer, refusal=(
                    "pool_full", f"the pool is full ({len(self._by_hash)} extrinsics, {self._bytes} bytes) and "
                                 f"this tip does not outbid the lowest")))
        except PoolRejected:
            for back in removed:  # a refused newcomer leaves the pool exactly as it found it
                self._add(back)
            raise
        if existing is not None:
            dropped.append((existing.hash, "dropped", "replaced by a higher tip"))
        for victim in removed[existing is not None:]:
            self.evicted += 1
            dropped.append((victim.hash, "dropped", "evicted by a higher-priority extrinsic (pool full)"))
        self._add(tx)
        return tx

    def _check_sender(self, v: Validity, chain: dict[int, PooledTx], existing: PooledTx | None,
                      next_nonce: int, future: bool) -> None:
        """One sender's share of the pool: count, bytes, futures, and fees it can actually pay. Kept O(1)
        per submission (running totals) except for a future newcomer, which counts the sender's futures."""
        held_bytes, held_fees = self._sender_totals.get(v.signer, (0, 0))
        if existing is not None:
            held_bytes, held_fees = held_bytes - existing.length, held_fees - existing.fee
        count = len(chain) - (existing is not None)
        if count + 1 > self.sender_count:
            raise PoolRejected("sender_limit", f"the sender already has {count} extrinsics pooled "
                                               f"(at most {self.sender_count})")
        if held_bytes + v.length > self.sender_bytes:
            raise PoolRejected("sender_limit", f"the sender's pooled extrinsics would exceed {self.sender_bytes} "
                                               f"bytes")
        if future:  # the newcomer waits: count the sender's waiting extrinsics
            ready_until = next_nonce
            while ready_until in chain:
                ready_until += 1
            futures = sum(1 for n in chain if n >= ready_until and n != v.nonce) + 1
            if futures > self.sender_future:
                raise PoolRejected("future_limit", f"the sender already has {futures - 1} extrinsics waiting for "
                                                   f"earlier nonces (at most {self.sender_future})")
        if v.spendable is not None and held_fees + v.fee > v.spendable:
            raise PoolRejected("cannot_pay_fee", f"the sender's pooled extrinsics would need "
                                                 f"{format_open(held_fees + v.fee)} OPEN in fees and tips, more "
                                                 f"than its free balance {format_open(v.spendable)} OPEN")

    def _add(self, tx: PooledTx) -> None:
        self._by_sender.setdefault(tx.signer, {})[tx.nonce] = tx
        held_bytes, held_fees = self._sender_totals.get(tx.signer, (0, 0))
        self._sender_totals[tx.signer] = (held_bytes + tx.length, held_fees + tx.fee)
        self._by_hash[tx.hash] = tx
        self._bytes += tx.length

    def _remove(self, tx: PooledTx) -> None:
        del self._by_hash[tx.hash]
        chain = self._by_sender[tx.signer]
        del chain[tx.nonce]
        held_bytes, held_fees = self._sender_totals[tx.signer]
        self._sender_totals[tx.signer] = (held_bytes - tx.length, held_fees - tx.fee)
        if not chain:
            del self._by_sender[tx.signer]
            del self._sender_totals[tx.signer]
        self._bytes -= tx.length

    def _eviction_candidate(self, *, for_ready: bool, below: int, signer: bytes) -> PooledTx | None:
        """Whom a newcomer from `signer` paying `below` may push out (always a sender's last extrinsic, so no
        chain breaks; the rules are in the module doc), or None."""
        waiting = self._futures_by_sender()
        # never the newcomer's own sender's: its last may be the very nonce the newcomer follows
        tails = [chain[max(chain)] for s, chain in self._by_sender.items() if s != signer]
        futures = [t for t in tails if t.signer in waiting]  # a sender's last is a future if it has any
        if for_ready and futures:
            return max(futures, key=lambda t: (waiting[t.signer], -t.priority, t.seq))
        if not for_ready:
            mine = waiting.get(signer, 0)
            allowed = [t for t in futures if t.priority < below or waiting[t.signer] >= mine + 2]
            return min(allowed, key=lambda t: (-waiting[t.signer], t.priority, -t.seq), default=None)
        held = {s: len(chain) for s, chain in self._by_sender.items()}
        mine = held.get(signer, 0)
        allowed = [t for t in tails if t.priority < below or (t.priority == below and held[t.signer] >= mine + 2)]
        return min(allowed, key=lambda t: (t.priority, -held[t.signer], -t.seq), default=None)

    def _make_room(self, *, for_ready: bool, below: int, signer: bytes, refusal: tuple[str, str]) -> PooledTx:
        """Remove the eviction candidate and return it, or refuse the newcomer with `refusal`."""
        victim = self._eviction_candidate(for_ready=for_ready, below=below, signer=signer)
        if victim is None:
            raise PoolRejected(*refusal)
        self._remove(victim)
        return victim

    def _futures_by_sender(self) -> dict[bytes, int]:
        """How many of each sender's pooled extrinsics wait for an earlier nonce (senders with none left out)."""
        counts = {s: len(chain) - len(self._ready_chain(s)) for s, chain in self._by_sender.items()}
        return {s: n for s, n in counts.items() if n}

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
                    nonce_of: Callable[[bytes], int], timestamp_ms: int | None = None) -> None:
        """Remove included and invalid extrinsics, then drop stale and expired ones (the next block is
        number + 1) and let future ones whose gap filled become ready. A future extrinsic ages by one for
        each block made after it arrived (`timestamp_ms`, the block's time, not before its arrival; None:
        every block counts): blocks a catching-up node imports - replayed or synced, made before it
        arrived - never expire it."""
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
            self.block_number = number
            for tx in list(self._by_hash.values()):
                if tx.nonce < self._next_nonce.get(tx.signer, 0):
                    self._remove(tx)
                    dropped.append((tx.hash, "invalid", f"stale nonce {tx.nonce} (an earlier extrinsic used it)"))
                elif tx.valid_until and tx.valid_until < number + 1:
                    self._remove(tx)
                    self.expired += 1
                    dropped.append((tx.hash, "invalid", f"expired: valid until block {tx.valid_until}"))
            self._age_futures(timestamp_ms, dropped)
            has_ready = any(self._ready_chain(s) for s in self._by_sender)
        for event in dropped:
            self._on_drop(*event)
        if has_ready:
            self.added.set()

    def _age_futures(self, timestamp_ms: int | None, dropped: list) -> None:
        """Age every pooled extrinsic by the block (if it was made after the extrinsic arrived) and drop
        the futures that have waited `future_ttl` such blocks. Under the pool lock."""
        for tx in self._by_hash.values():
            if timestamp_ms is None or timestamp_ms >= tx.arrived_ms:
                tx.waited += 1
        for tx in [t for t in self._by_hash.values() if t.waited >= self.future_ttl]:
            if not self._would_be_ready(tx) and tx.hash in self._by_hash:
                self._remove(tx)
                self.expired += 1
                dropped.append((tx.hash, "dropped", f"expired: waited {tx.waited} blocks made since it arrived "
                                                    f"for nonce {self._next_nonce.get(tx.signer, 0)}"))

    def withdraw(self, tx_hash: bytes) -> None:
        """Take an extrinsic back out, as if it had never come (its submission failed further on)."""
        with self._lock:
            tx = self._by_hash.get(tx_hash)
            if tx is not None:
                self._remove(tx)

    # --- inspection ----------------------------------------------------------------------------
    def next_nonce(self, signer: bytes, account_nonce: int) -> int:
        """The nonce `signer`'s next extrinsic should carry: its committed `account_nonce`, moved past the
        extrinsics it has pooled without a gap (Substrate's `accountNextIndex`). A future extrinsic beyond a
        gap does not count: the gap is the nonce to fill."""
        with self._lock:
            nonce = max(self._next_nonce.get(signer, 0), account_nonce)
            chain = self._by_sender.get(signer, {})
            while nonce in chain:
                nonce += 1
            return nonce

    def sender_stats(self) -> tuple[int, int]:
        """(senders with pooled extrinsics, the most extrinsics one sender holds)."""
        with self._lock:
            return len(self._by_sender), max((len(c) for c in self._by_sender.values()), default=0)

    def counts(self) -> tuple[int, int]:
        """(ready, future)."""
        with self._lock:
            ready = sum(len(self._ready_chain(s)) for s in self._by_sender)
            return ready, len(self._by_hash) - ready

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._by_hash

    def is_ready(self, tx_hash: bytes) -> bool | None:
        """Whether a pooled extrinsic is ready (its earlier nonces all pooled or used) or waits for a gap to
        fill; None when the pool does not hold it."""
        with self._lock:
            tx = self._by_hash.get(tx_hash)
            return None if tx is None else self._would_be_ready(tx)

    def __len__(self) -> int:
        return len(self._by_hash)

"""The dev node: a chain on RocksDB, a transaction pool, a block author, and the gRPC API around them.

One lock serialises everything that touches the executive's block in progress or needs a consistent
view of the head (authoring, imports, proofs); pool validation reads committed state without it, so
submissions keep flowing while a block is built. Status updates for watched extrinsics and new heads
go to subscriber queues that the gRPC streams drain.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import structlog

from payable.node.v1 import node_pb2
from payable.runtime.v1.extrinsic_pb2 import Header

from . import system
from .chainspec import ChainSpec
from .contentstore import ContentStore
from .crypto import Keypair, blake2_256
from .errors import ChainSpecError, Invalid
from .executive import AuthoredBlock, Executive
from .metrics import NodeMetrics
from .storage.backend import RocksBackend
from .txpool import PoolRejected, TxPool

log = structlog.get_logger("payable.node")
SPEC_FILE = "chain_spec.json"
DB_DIR = "db"
KEEP_IN_POOL = {Invalid.EXHAUSTS_RESOURCES, Invalid.FUTURE_NONCE}  # try again next block
Status = node_pb2.TxStatus


def open_spec(base_path: Path, spec: ChainSpec | None) -> ChainSpec:
    """The chain spec for a base path: the stored one, or `spec` (stored on first use). They must agree."""
    stored = base_path / SPEC_FILE
    if stored.exists():
        kept = ChainSpec.load(stored)
        if spec is not None and spec.to_json() != kept.to_json():
            raise ChainSpecError(f"{base_path} holds chain {kept.id!r} with a different spec; use another --base-path")
        return kept
    if spec is None:
        raise ChainSpecError(f"{base_path} holds no chain yet: give --dev or --chain SPEC.json")
    base_path.mkdir(parents=True, exist_ok=True)
    tmp = stored.with_suffix(".tmp")
    tmp.write_text(spec.to_json())
    tmp.replace(stored)
    return spec


class Node:
    def __init__(self, spec: ChainSpec | None, base_path: str | Path, *, author: Keypair,
                 block_time: float | None = 2.0, max_block_extrinsics: int = 10_000, pool_limits: dict | None = None,
                 content_limits: dict | None = None):
        """block_time None means instant seal: a block as soon as extrinsics are ready.

        content_limits: ContentStore's max_blob and quota (bytes) for the off-chain blob store.
        """
        self.base_path = Path(base_path)
        self.spec = open_spec(self.base_path, spec)
        self.backend = RocksBackend(self.base_path / DB_DIR)
        try:
            self.executive = Executive.open(self.spec, self.backend)
        except BaseException:
            self.backend.close()
            raise
        self.content = ContentStore(self.base_path / "blobs", **(content_limits or {}))
        self.author = author
        self.block_time = block_time
        self.max_block_extrinsics = max_block_extrinsics
        self.lock = threading.RLock()
        self.metrics = NodeMetrics()
        self.pool = TxPool(self.executive.validate_transaction, on_drop=self._dropped, **(pool_limits or {}))
        self._watchers: dict[bytes, list[queue.Queue]] = {}
        self._heads: list[queue.Queue] = []
        self._subs_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.metrics.height.set(self.executive.head.number)
        log.info("node_opened", chain=self.spec.id, base_path=str(self.base_path), best=self.executive.head.number,
                 best_hash=self.executive.head.hash.hex(), genesis=self.executive.genesis_hash.hex())

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._author_loop, name="block-author", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.pool.added.set()
        if self._thread is not None:
            self._thread.join()
        with self._subs_lock:
            for q in [*self._heads, *(q for qs in self._watchers.values() for q in qs)]:
                q.put(None)
            self._heads.clear()
            self._watchers.clear()
        with self.lock:
            self.executive.close()
            self.backend.close()
        self.metrics.close()
        log.info("node_stopped", best=self.executive.head.number)

    # --- submissions -----------------------------------------------------------------------------
    def submit(self, raw: bytes, watch: bool = False) -> tuple[bytes, queue.Queue | None]:
        """Pool an extrinsic; with watch, also return a queue of its TxStatus updates (None ends it)."""
        tx_hash = blake2_256(raw)
        q = self._watch(tx_hash) if watch else None
        try:
            tx, ready = self.pool.submit(raw)
        except PoolRejected as exc:
            self.metrics.rejected.labels(exc.code).inc()
            if q is not None:
                self._unwatch(tx_hash, q)
            raise
        self._publish(tx_hash, Status(state=Status.READY if ready else Status.FUTURE, hash=tx_hash), final=False)
        return tx.hash, q

    def _watch(self, tx_hash: bytes) -> queue.Queue:
        q: queue.Queue = queue.Queue()
        with self._subs_lock:
            self._watchers.setdefault(tx_hash, []).append(q)
        return q

    def _unwatch(self, tx_hash: bytes, q: queue.Queue) -> None:
        with self._subs_lock:
            queues = self._watchers.get(tx_hash, [])
            if q in queues:
                queues.remove(q)
            if not queues:
                self._watchers.pop(tx_hash, None)

    def _publish(self, tx_hash: bytes, status: node_pb2.TxStatus, final: bool) -> None:
        with self._subs_lock:
            queues = self._watchers.pop(tx_hash, []) if final else list(self._watchers.get(tx_hash, []))
        for q in queues:
            q.put(status)
            if final:
                q.put(None)

    def _dropped(self, tx_hash: bytes, kind: str, reason: str) -> None:
        self.metrics.rejected.labels(reason.split(":")[0].split(" (")[0][:40]).inc()
        state = Status.INVALID if kind == "invalid" else Status.DROPPED
        self._publish(tx_hash, Status(state=state, hash=tx_hash, reason=reason), final=True)

    def subscribe_heads(self) -> queue.Queue:
        q: queue.Queue = queue.Queue()
        with self._subs_lock:
            self._heads.append(q)
        return q

    def unsubscribe_heads(self, q: queue.Queue) -> None:
        with self._subs_lock:
            if q in self._heads:
                self._heads.remove(q)

    # --- authoring -------------------------------------------------------------------------------
    def _author_loop(self) -> None:
        next_slot = time.monotonic()
        while not self._stop.is_set():
            if self.block_time is None:
                self.pool.added.wait(0.5)
                self.pool.added.clear()
                if self._stop.is_set() or self.pool.counts()[0] == 0:
                    continue
            else:
                next_slot += self.block_time
                delay = next_slot - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                next_slot = max(next_slot, time.monotonic())
            try:
                self.author_one()
            except Exception:  # noqa: BLE001 - keep producing; the error is logged with its traceback
                log.exception("block_authoring_failed")
                time.sleep(0.2)

    def author_one(self) -> AuthoredBlock:
        """Build, commit and announce one block from the pool's ready extrinsics."""
        batch = self.pool.ready(self.max_block_extrinsics)
        started = time.perf_counter()
        with self.lock:
            head_ts = Header.FromString(self.executive.db.block(self.executive.head.number).header).timestamp_ms
            built = self.executive.author_block([t.raw for t in batch], author=self.author,
                                                timestamp_ms=max(int(time.time() * 1000), head_ts + 1),
                                                signatures_checked=True)  # the pool verified each on entry
        elapsed = time.perf_counter() - started
        number = built.header.number
        invalid = {blake2_256(raw): str(exc) for raw, exc in built.rejected if exc.reason not in KEEP_IN_POOL}
        included = [o.hash for o in built.outcomes]

        def nonce_of(who: bytes) -> int:
            with self.lock:
                return system.account_nonce(self.executive.read_context(), who)

        self.pool.after_block(number, included, invalid, nonce_of)
        for o in built.outcomes:
            error = "" if o.ok else f"{o.error.pallet}.{type(o.error).__name__}: {o.error.message}"
            for state in (Status.IN_BLOCK, Status.FINALIZED):  # single authority: final once included
                self._publish(o.hash, Status(state=state, hash=o.hash, block_number=number, block_hash=built.hash,
                                             extrinsic_index=o.index, success=o.ok, error=error),
                              final=state == Status.FINALIZED)
        head = node_pb2.HeaderResponse(hash=built.hash, header_bytes=built.block.header, header=built.header)
        with self._subs_lock:
            for q in self._heads:
                q.put(head)
        self.metrics.height.set(number)
        self.metrics.block_time.labels("author").observe(elapsed)
        self.metrics.included.inc(len(included))
        self._update_pool_gauges()
        log.info("block_authored", number=number, hash=built.hash.hex(), extrinsics=len(built.block.extrinsics),
                 failed_calls=sum(not o.ok for o in built.outcomes), rejected=len(built.rejected),
                 ms=round(elapsed * 1000, 1))
        return built

    def _update_pool_gauges(self) -> None:
        """Once per block: counting the pool walks every sender's chain, too costly per submission."""
        ready, future = self.pool.counts()
        self.metrics.pool_ready.set(ready)
        self.metrics.pool_future.set(future)

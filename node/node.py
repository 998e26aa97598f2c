"""The node: a chain on RocksDB, its transaction pool, its content store, and the subscriptions the
gRPC API serves - everything a node has whichever driver decides the block order.

A driver (the dev author in `node.dev_author`; a consensus engine's driver beside it) takes ready
extrinsics from `pool`, builds or imports a block through `executive` under `lock`, and hands the
committed block to `block_committed`, which updates the pool, tells the watchers and deletes the blobs
whose data the block withdrew. One lock serialises everything that touches the executive's block in
progress or needs a consistent view of the head (authoring, imports, proofs); pool validation reads
committed state without it, so submissions keep flowing while a block is built. Status updates for
watched extrinsics and new heads go to subscriber queues that the gRPC streams drain.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from payable.node.v1 import node_pb2
from payable.runtime.v1.extrinsic_pb2 import EventRecord
from payable.system.v1 import system_pb2
from runtime import system
from runtime.chainindex import locate_extrinsic
from runtime.chainspec import ChainSpec
from runtime.crypto import blake2_256
from runtime.errors import ChainSpecError, Invalid
from runtime.executive import AuthoredBlock, Executive
from runtime.storage.backend import RocksBackend

from .contentstore import ContentStore
from .metrics import NodeMetrics
from .txpool import PoolRejected, TxPool, Unconfirmed

if TYPE_CHECKING:
    from .ipfs.replication import SwarmContent

log = structlog.get_logger("payable.node")
SPEC_FILE = "chain_spec.json"
DB_DIR = "db"
KEEP_IN_POOL = {Invalid.EXHAUSTS_RESOURCES, Invalid.FUTURE_NONCE}  # try again next block
Status = node_pb2.TxStatus


class Sink(Protocol):
    """Where a subscription's messages go (None ends it): a `queue.Queue`, or anything with `put` - the gRPC
    server's streams pass one that hands each message to their event loop."""

    def put(self, item: Any) -> None: ...


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
    def __init__(self, spec: ChainSpec | None, base_path: str | Path, *, pool_limits: dict | None = None,
                 content_limits: dict | None = None):
        """content_limits: ContentStore's max_blob and quota (bytes) for the off-chain blob store."""
        self.base_path = Path(base_path)
        self.spec = open_spec(self.base_path, spec)
        self.backend = RocksBackend(self.base_path / DB_DIR)
        try:
            self.executive = Executive.open(self.spec, self.backend)
        except BaseException:
            self.backend.close()
            raise
        self.content = ContentStore(self.base_path / "blobs", **(content_limits or {}))
        self.lock = threading.RLock()
        self.metrics = NodeMetrics()
        self.pool = TxPool(self.executive.validate_transaction, on_drop=self._dropped, **(pool_limits or {}))
        self._watchers: dict[bytes, list[Sink]] = {}
        self._heads: list[Sink] = []
        self._subs_lock = threading.Lock()
        self._counted = (0, 0)  # pool evictions and expiries already added to the metrics
        # set by a consensus driver: raw extrinsics -> its engine's mempool, in order; per extrinsic None,
        # PoolRejected (refused) or ConnectionError (the engine did not answer: not sent)
        self.forward: Callable[[list[bytes]], list[PoolRejected | ConnectionError | None]] | None = None
        # set where the node is one of a network's (`payable testnet`): its content store backed by the swarm
        self.swarm: SwarmContent | None = None
        self.metrics.height.set(self.executive.head.number)
        log.info("node_opened", chain=self.spec.id, base_path=str(self.base_path), best=self.executive.head.number,
                 best_hash=self.executive.head.hash.hex(), genesis=self.executive.genesis_hash.hex())

    # --- lifecycle -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Close the chain (stop the driver first): watchers and head streams end, the database closes."""
        if self.swarm is not None:
            self.swarm.close()
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
    def submit(self, raw: bytes, watch: bool = False, sink: Sink | None = None) -> tuple[bytes, Sink | None]:
        """Take a client's extrinsic; with watch, also return a queue of its TxStatus updates (None ends
        it; `sink` instead of a new queue when given). It goes into the pool (`admit`: the client hears the
        pool's verdict at once) and, under a consensus engine (`forward` set), on to the engine's mempool
        to be gossiped - without waiting for the engine's own CheckTx of it, which finds it pooled already
        (blocks are proposed from this pool). When the engine does not take it (ConnectionError: it does
        not answer; PoolRejected: its mempool refuses) it is withdrawn again: nothing was submitted. A
        watched extrinsic that is already pending here or already on chain (a client failing over to this
        node resends what another node took) is not refused: its watch follows it from where it is."""
        tx_hash = blake2_256(raw)
        q = self._watch(tx_hash, sink) if watch else None
        try:
            self.admit(raw)
            refused = self._hand_on(self.forward, [(tx_hash, raw)])[0] if self.forward is not None else None
            if isinstance(refused, Unconfirmed) and q is not None:
                log.warning("submission_unconfirmed", hash=tx_hash.hex(), error=str(refused))
                return tx_hash, q  # pooled here, perhaps in the engine's mempool: the watch tells what becomes of it
            if refused is not None:
                raise refused
        except PoolRejected as exc:
            if q is not None and self._follow_known(tx_hash, q):  # a duplicate, or a nonce already used by it
                return tx_hash, q
            self.metrics.rejected.labels(exc.code).inc()
            if q is not None:
                self._unwatch(tx_hash, q)
            if (included := self._included(tx_hash, exc)) is exc:
                raise
            raise included from exc
        except ConnectionError:
            self.metrics.rejected.labels("unavailable").inc()
            if q is not None:
                self._unwatch(tx_hash, q)
            raise
        return tx_hash, q

    def _hand_on(self, forward: Callable[[list[bytes]], list[PoolRejected | ConnectionError | None]],
                 admitted: list[tuple[bytes, bytes]]) -> list[PoolRejected | ConnectionError | None]:
        """Hand admitted extrinsics ((hash, raw), in order) to the consensus engine; each one it does not take
        is withdrawn from the pool again. Per extrinsic: None or why it was not taken."""
        refusals = forward([raw for _, raw in admitted])
        for (tx_hash, _), refused in zip(admitted, refusals, strict=True):
            if refused is not None and not isinstance(refused, Unconfirmed):  # that one may be on its way
                self.pool.withdraw(tx_hash)
        return refusals

    def submit_batch(self, raws: list[bytes]) -> list[tuple[bytes, PoolRejected | ConnectionError | None]]:
        """Take a client's batch: each extrinsic is admitted as by `submit`, in order, then all the admitted
        ones go to the consensus engine together (one round trip, not one per extrinsic). Per extrinsic:
        (hash, None) or (hash, why it was not submitted); one the engine does not take is withdrawn."""
        results: list[tuple[bytes, PoolRejected | ConnectionError | None]] = []
        admitted: list[int] = []
        for raw in raws:
            try:
                self.admit(raw)
                admitted.append(len(results))
                results.append((blake2_256(raw), None))
            except PoolRejected as exc:
                results.append((blake2_256(raw), self._included(blake2_256(raw), exc)))
        if self.forward is not None and admitted:
            refusals = self._hand_on(self.forward, [(results[i][0], raws[i]) for i in admitted])
            for i, refused in zip(admitted, refusals, strict=True):
                if refused is not None:
                    results[i] = (results[i][0], refused)
        for _, error in results:
            if error is not None:
                self.metrics.rejected.labels(error.code if isinstance(error, PoolRejected) else "unavailable").inc()
        return results

    def _included(self, tx_hash: bytes, refused: PoolRejected) -> PoolRejected:
        """A stale nonce's refusal of an extrinsic that is itself on chain says so, and where (a client resending
        what was included would otherwise read that another extrinsic spent its nonce); any other as it is."""
        found = locate_extrinsic(self.executive.db.backend, tx_hash) if refused.code == "stale_nonce" else None
        if found is None:
            return refused
        return PoolRejected("duplicate", f"this extrinsic is already in block #{found[0]} (index {found[1]}): "
                                         f"its nonce was spent by it, not by another")

    def admit(self, raw: bytes) -> bool:
        """Validate and pool an extrinsic, telling its watchers; returns whether it is ready. Raises PoolRejected."""
        tx, ready = self.pool.submit(raw)
        self._publish(tx.hash, Status(state=Status.READY if ready else Status.FUTURE, hash=tx.hash), final=False)
        return ready

    def _follow_known(self, tx_hash: bytes, q: Sink) -> bool:
        """Point watcher `q` at an extrinsic this node already knows: pending in its pool (READY or FUTURE
        now, as it stands; what happens to it tells the rest), or in a committed block (IN_BLOCK and
        FINALIZED now, from the chain's record). False when it is neither: the duplicate was refused for
        good."""
        with self._subs_lock:
            if q not in self._watchers.get(tx_hash, []):
                return True  # a block's own publication has reached it meanwhile
            ready = self.pool.is_ready(tx_hash)
            if ready is not None:
                q.put(Status(state=Status.READY if ready else Status.FUTURE, hash=tx_hash))
                return True
        found = locate_extrinsic(self.executive.db.backend, tx_hash)
        if found is None:
            return False
        number, index = found
        block = self.executive.db.require_block(number)
        failed = [system_pb2.ExtrinsicFailed.FromString(e.data) for e in self.executive.db.require_events(number).events
                  if e.phase == EventRecord.APPLY_EXTRINSIC and e.extrinsic_index == index and e.pallet == "system"
                  and e.name == "ExtrinsicFailed"]
        error = f"{failed[0].pallet}.{failed[0].error}: {failed[0].message}" if failed else ""
        for state in (Status.IN_BLOCK, Status.FINALIZED):
            self._publish(tx_hash, Status(state=state, hash=tx_hash, block_number=number,
                                          block_hash=blake2_256(block.header), extrinsic_index=index,
                                          success=not failed, error=error), final=state == Status.FINALIZED)
        return True

    def _watch(self, tx_hash: bytes, sink: Sink | None = None) -> Sink:
        q: Sink = sink if sink is not None else queue.Queue()
        with self._subs_lock:
            self._watchers.setdefault(tx_hash, []).append(q)
        return q

    def _unwatch(self, tx_hash: bytes, q: Sink) -> None:
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
        """The pool let an extrinsic go: INVALID ends its watch (no block can include it). DROPPED (it could
        still be included) ends it too on a node that makes its own blocks; under a consensus engine it
        is this node's pool only - another validator's mempool may hold it and a later block commit it -
        so the watch hears DROPPED and stays open for IN_BLOCK / FINALIZED."""
        self.metrics.rejected.labels(reason.split(":")[0].split(" (")[0][:40]).inc()
        state = Status.INVALID if kind == "invalid" else Status.DROPPED
        final = state == Status.INVALID or self.forward is None
        if not final:
            reason += ("; dropped from this node's pool only: another validator may still include it, and this "
                       "watch goes on until a block does")
        self._publish(tx_hash, Status(state=state, hash=tx_hash, reason=reason), final=final)

    def subscribe_heads(self, sink: Sink | None = None) -> Sink:
        """New heads as they commit, into `sink` (a new queue when none is given); None ends the stream."""
        q: Sink = sink if sink is not None else queue.Queue()
        with self._subs_lock:
            self._heads.append(q)
        return q

    def unsubscribe_heads(self, q: Sink) -> None:
        with self._subs_lock:
            if q in self._heads:
                self._heads.remove(q)

    # --- committed blocks ----------------------------------------------------------------------
    def block_committed(self, built: AuthoredBlock, *, final: bool) -> None:
        """What every driver does once a block is committed: the pool drops what the block included
        or refused for good, watchers hear IN_BLOCK (and FINALIZED when `final`), head streams get the
        header, and the metrics move."""
        number = built.header.number
        invalid = {blake2_256(raw): str(exc) for raw, exc in built.rejected if exc.reason not in KEEP_IN_POOL}
        included = [o.hash for o in built.outcomes]

        def nonce_of(who: bytes) -> int:
            with self.lock:
                return system.account_nonce(self.executive.read_context(), who)

        self.pool.after_block(number, included, invalid, nonce_of, built.header.timestamp_ms)
        states = (Status.IN_BLOCK, Status.FINALIZED) if final else (Status.IN_BLOCK,)
        for o in built.outcomes:
            error = o.error_text
            for state in states:
                self._publish(o.hash, Status(state=state, hash=o.hash, block_number=number, block_hash=built.hash,
                                             extrinsic_index=o.index, success=o.ok, error=error),
                              final=state == Status.FINALIZED)
        head = node_pb2.HeaderResponse(hash=built.hash, header_bytes=built.block.header, header=built.header)
        with self._subs_lock:
            for q in self._heads:
                q.put(head)
        self.metrics.height.set(number)
        self.metrics.included.inc(len(included))
        self._update_pool_gauges()
        self._release_content(number)

    def _release_content(self, number: int) -> None:
        """Delete the blobs whose data the block withdrew (a DataNet contribution withdrawn or taken down that
        no other contribution holds): every node commits every block, so every node drops its copy. Reads of
        them are refused from the chain's state anyway (`ContentService`), deleted or not."""
        with self.lock:
            released = self.executive.released_content(number)
        for digest in released:
            if self.content.delete(digest):
                log.info("content_released", block=number, hash=digest.hex())
        if self.swarm is not None:
            self.swarm.block_committed(released)  # unpins these everywhere; publishes what the chain now holds

    def content_standing(self, digest: bytes) -> str:
        """The chain's word on a blob, for the swarm (`node.ipfs.replication`): withdrawn, permissioned (a
        DataNet restricts it), public (a DataNet or another record - a model's weights - holds it and lets
        everyone read), or unreferenced (no pallet holds it: never contributed, so it never enters the swarm)."""
        from .ipfs.replication import PERMISSIONED, PUBLIC, UNREFERENCED, WITHDRAWN

        with self.lock:
            if self.executive.content_withdrawn(digest) is not None:
                return WITHDRAWN
            hook, ctx = self.executive.runtime.pm.hook, self.executive.read_context()
            verdicts = [v for v in hook.payable_content_access(ctx=ctx, content_hash=digest, reader=b"")
                        if v is not None]
            used = any(hook.payable_content_in_use(ctx=ctx, content_hash=digest))  # e.g. a model's weights
        if not verdicts:
            return PUBLIC if used else UNREFERENCED
        return PUBLIC if any(verdicts) else PERMISSIONED

    def _update_pool_gauges(self) -> None:
        """Once per block: counting the pool walks every sender's chain, too costly per submission."""
        ready, future = self.pool.counts()
        senders, most = self.pool.sender_stats()
        metrics = self.metrics
        metrics.pool_ready.set(ready)
        metrics.pool_future.set(future)
        metrics.pool_senders.set(senders)
        metrics.pool_sender_max.set(most)
        metrics.pool_evicted.inc(self.pool.evicted - self._counted[0])
        metrics.pool_expired.inc(self.pool.expired - self._counted[1])
        self._counted = (self.pool.evicted, self.pool.expired)

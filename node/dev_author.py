"""The dev author: the single-authority driver that `payable node --dev` runs by default.

It decides block order alone: every `block_time` seconds (or, with instant seal, as soon as the pool
has ready extrinsics) it takes the pool's ready extrinsics by priority, has the executive build, seal
and commit one block, and hands it to the node. With one authority a block is final once it is
committed, so watchers hear IN_BLOCK and FINALIZED together. A consensus driver sits beside this one
and uses the same node: pool, executive under the node's lock, `Node.block_committed`.
"""

from __future__ import annotations

import threading
import time

import structlog

from payable.runtime.v1.extrinsic_pb2 import Header
from runtime.crypto import Keypair
from runtime.executive import AuthoredBlock

from .node import Node

log = structlog.get_logger("payable.node")


class DevAuthor:
    def __init__(self, node: Node, author: Keypair, *, block_time: float | None = 2.0,
                 max_block_extrinsics: int = 10_000):
        """block_time None means instant seal: a block as soon as extrinsics are ready."""
        self.node = node
        self.author = author
        self.block_time = block_time
        self.max_block_extrinsics = max_block_extrinsics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="block-author", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the block in progress, then stop (call before `Node.stop`)."""
        self._stop.set()
        self.node.pool.added.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        pool = self.node.pool
        next_slot = time.monotonic()
        while not self._stop.is_set():
            if self.block_time is None:
                pool.added.wait(0.5)
                pool.added.clear()
                if self._stop.is_set() or pool.counts()[0] == 0:
                    continue
            else:
                next_slot += self.block_time
                delay = next_slot - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                next_slot = max(next_slot, time.monotonic())
            try:
                self.author_one()
            except Exception:  # last resort: keep producing; the error is logged with its traceback
                log.exception("block_authoring_failed")
                time.sleep(0.2)

    def author_one(self) -> AuthoredBlock:
        """Build, commit and announce one block from the pool's ready extrinsics."""
        node = self.node
        batch = node.pool.ready(self.max_block_extrinsics)
        started = time.perf_counter()
        with node.lock:
            executive = node.executive
            head_ts = Header.FromString(executive.db.require_block(executive.head.number).header).timestamp_ms
            built = executive.author_block([t.raw for t in batch], author=self.author,
                                           timestamp_ms=max(int(time.time() * 1000), head_ts + 1),
                                           signatures_checked=True)  # the pool verified each on entry
        elapsed = time.perf_counter() - started
        node.block_committed(built, final=True)  # single authority: final once included
        node.metrics.block_time.labels("author").observe(elapsed)
        log.info("block_authored", number=built.header.number, hash=built.hash.hex(),
                 extrinsics=len(built.block.extrinsics), failed_calls=sum(not o.ok for o in built.outcomes),
                 rejected=len(built.rejected), ms=round(elapsed * 1000, 1))
        return built

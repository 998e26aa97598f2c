"""Paying out the tails of the results this worker hands in (`pallets.attribution.tail`).

A result crediting more contributions than it may list commits to the rest, its tail; once the request
settles on that tail, the tail is paid a page at a time by `attribution.pay_tail`, which anyone may submit
but only a holder of the leaves can: the worker that computed them. So the follower hands each such result
here before submitting it: the result and its tail are written to disk first (whole or not at all: a
restart, or a crash right after the submission, loses no tail), under the chain's genesis hash (a data
directory reused against another chain never pays into it). After each block the follower has processed,
the tails are paid on a thread of their own - a page per tail per block, each leaf with its membership
proof - so a slow node or a long tail never delays an answer. Only the worker the settlement names
(`Settlement.tail_worker`) pays: replicas holding the same tail would otherwise send the same page in the
same block, and all but one would be dropped, leaving gaps in their nonces. A page submitted but not paid
within `RETRY_BLOCKS` (dropped with a restarted node's pool) is submitted again. A tail is forgotten, its
file deleted, once the chain holds none for its request and the request is no longer pending (paid out,
closed, settled on another worker's tail, or expired); a file it cannot read is set aside as `.bad`, never
a reason to stop following the chain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import grpc
import structlog
from google.protobuf.message import DecodeError

from payable.attribution.v1 import attribution_pb2 as at
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.runtime.v1.extrinsic_pb2 import Call
from sdk.client import Client, ClientError
from sdk.wire import tail_page_hash, tail_pages

RETRY_BLOCKS = 10  # a submitted page not paid after this many blocks is submitted again

log = structlog.get_logger("payable.worker.tails")

Proof = Callable[[Client, mr.Model, int], at.ContributionProof]


class TailPayer:
    def __init__(self, root: Path, worker: bytes, submit: Callable[[Client, Call], bytes], proof: Proof):
        """`root`: where the tails are kept (a folder per chain below it); `worker` this worker's account;
        `submit` signs and pools a call (the follower's `Submitter.submit`); `proof` gives a contribution's
        membership proof for a model."""
        self.root, self.worker, self._submit, self._proof = root, worker, submit, proof
        self._dir: Path | None = None
        self._tails: dict[int, tuple[mr.Model, list[at.ContributionScore]]] = {}
        self._paging: dict[int, tuple[bytes, int]] = {}  # request -> (page commitment submitted, at which block)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tails")
        self._job: Future | None = None

    def open(self, client: Client) -> None:
        """On each connection to the chain: the folder of this chain's tails, and those a previous run left."""
        self._dir = self.root / client.genesis_hash.hex()
        self._dir.mkdir(parents=True, exist_ok=True)
        for path in sorted(self._dir.glob("*.bin")):
            self._load(client, path)

    def keep(self, request_id: int, model: mr.Model, signed: at.SignedAttribution) -> None:
        """Hold a result's tail (before the result is submitted)."""
        if self._dir is None:
            raise RuntimeError("TailPayer.open must run before a tail is kept")
        path = self._dir / f"{request_id}.bin"
        scratch = path.with_suffix(".tmp")
        scratch.write_bytes(signed.SerializeToString())
        scratch.replace(path)
        with self._lock:
            self._tails[request_id] = (model, list(signed.tail))

    def held(self) -> list[int]:
        with self._lock:
            return sorted(self._tails)

    def tick(self, client: Client, block: int) -> None:
        """After a processed block: pay what is due, on the tails' own thread, unless a round is still running."""
        if self.held() and (self._job is None or self._job.done()):
            self._job = self._pool.submit(self._pay_all, client, block)

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _pay_all(self, client: Client, block: int) -> None:
        with self._lock:
            pending = list(self._tails.items())
        for request_id, (model, leaves) in pending:
            try:
                page = self._next_page(client, request_id, leaves, block)
                if page is None:
                    continue
                proofs = [self._proof(client, model, leaf.contribution_id) for leaf in page[0]]
                self._submit(client, client.call_with("attribution", "pay_tail", at.PayTail(
                    request=request_id, leaves=page[0], next=page[1], proofs=proofs)))
                self._paging[request_id] = (tail_page_hash(*page), block)
                log.info("tail_page_submitted", request=request_id, leaves=len(page[0]), last=not page[1])
            except (ClientError, grpc.RpcError, ValueError) as exc:
                log.warning("tail_page_not_submitted", request=request_id, error=str(exc)[:300])
            except Exception:  # this thread's failure must reach the log, not vanish
                log.exception("tail_page_failed", request=request_id)

    def _next_page(self, client: Client, request_id: int, leaves: list[at.ContributionScore], block: int):
        """The page of `leaves` the chain's tail for the request names next; None when there is nothing to
        submit now (not settled yet, that page submitted lately, or the tail done with - then forgotten)."""
        try:
            open_tail = client.pallet_query("attribution", "get_tail", at.SettlementRequest(request=request_id),
                                            at.Tail)
        except ClientError as exc:
            if not str(exc).startswith("NOT_FOUND"):
                raise
            request = self._request(client, request_id)
            if request is None or request.status != inf.PENDING:  # done with (or never this chain's)
                self._forget(request_id)
            return None
        page = next((p for p in tail_pages(leaves) if tail_page_hash(*p) == open_tail.next), None)
        if page is None or not self._mine(client, request_id):  # another worker's tail was paid
            self._forget(request_id)
            return None
        submitted, at_block = self._paging.get(request_id, (b"", 0))
        return None if submitted == open_tail.next and block < at_block + RETRY_BLOCKS else page

    def _mine(self, client: Client, request_id: int) -> bool:
        settlement = client.pallet_query("attribution", "get_settlement", at.SettlementRequest(request=request_id),
                                         at.Settlement)
        return settlement.tail_worker == self.worker

    @staticmethod
    def _request(client: Client, request_id: int) -> inf.Request | None:
        """The chain's request; None when the chain never had it (a data directory reused, say)."""
        try:
            return client.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
        except ClientError as exc:
            if str(exc).startswith("NOT_FOUND"):
                return None
            raise

    def _forget(self, request_id: int) -> None:
        with self._lock:
            self._tails.pop(request_id, None)
        self._paging.pop(request_id, None)
        if self._dir is not None:
            (self._dir / f"{request_id}.bin").unlink(missing_ok=True)

    def _load(self, client: Client, path: Path) -> None:
        try:
            request_id = int(path.stem)
            signed = at.SignedAttribution.FromString(path.read_bytes())
        except (ValueError, DecodeError, OSError) as exc:  # OSError: not a file, unreadable, just forgotten
            if path.is_file():
                path.replace(path.with_suffix(".bad"))
            log.error("tail_file_unreadable", file=str(path), error=str(exc)[:200])
            return
        if request_id in self._tails:
            return
        request = self._request(client, request_id)
        if request is None:
            path.unlink(missing_ok=True)  # a request this chain never had
            return
        model = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=request.model), mr.Model)
        with self._lock:
            self._tails[request_id] = (model, list(signed.tail))

"""The follower: follow a node's blocks and submit this worker's answers to the requests assigned to it.

For each `InferenceRequested` event naming this worker it reads the request and the model record from
the chain, has the worker answer (`Worker.answer`, which decides which engine computes it), gathers
the Merkle membership proof of every credited contribution from the node, and submits the signed
result as an `attribution.submit_result` extrinsic (built by name from the runtime metadata) signed
with the same key - or, when the worker will not answer (`Refused`: over the context, an adapter it cannot
fetch, at its capacity...), its signed refusal as `attribution.submit_refusal`, so that it is never
slashed as silent for being right. An answer the worker streams to its requester (`Worker.prepare` says which) runs on
a pool thread of its own, so concurrent paid requests share OpenLoRA's batches; the follower keeps its
own nonce count, so results from many threads go into the pool in order. It remembers the last block
it processed: after a lost connection (a node restart) it scans the blocks it missed before following
new heads again, and it never submits twice (the chain's record of who answered is checked first).
A result with a tail (more credited contributions than it may list) is handed to the `TailPayer` before it
is submitted, which pays the tail out once the request settles on it.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import structlog

from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.runtime.v1.extrinsic_pb2 import Call
from runtime.crypto import Keypair
from sdk.client import Client, ClientError

from .errors import ArtifactError
from .paid import Refused
from .results import MAX_LISTED
from .tail_payer import TailPayer
from .worker import Worker

PROOF_ATTEMPTS = 4  # a membership query that times out on a busy node is tried again (1, 2, 4 s apart)
NOT_A_MEMBER = ("NOT_FOUND", "INVALID_ARGUMENT")  # the chain's answer when a snapshot does not hold it

log = structlog.get_logger("payable.worker.follower")


class Submitter:
    """Signs and pools this worker's extrinsics from any thread, one at a time, each numbered with the node's
    next nonce for the key (the chain's, moved past what its pool holds). Not a count of its own: a node
    that restarts loses its pool, and a nonce counted on past the lost extrinsics would leave every later one
    waiting for the gap forever - results unsubmitted, the worker slashed for silence."""

    def __init__(self, key: Keypair):
        self.key = key
        self._lock = threading.Lock()

    def submit(self, client: Client, call: Call) -> bytes:
        with self._lock:  # the pool admits each before the next is numbered
            nonce = client.next_nonce(self.key.public)
            return client.submit(client.sign(self.key, call, nonce=nonce))


class Follower:
    def __init__(self, worker: Worker, target: str, key: Keypair, top_k: int = MAX_LISTED, paid_threads: int = 64):
        """`paid_threads`: this worker's capacity - the paid generations it runs at once. One more assigned
        while all run is refused BUSY at once (a signed refusal: refunded, nobody slashed) rather than queued
        past its deadline, which the chain would slash as silence."""
        self.worker, self.target, self.key, self.top_k = worker, target, key, top_k
        self.capacity, self._in_flight, self._count = paid_threads, 0, threading.Lock()
        self.last_block = 0
        self.answered: list[int] = []
        self.submitter = Submitter(key)
        self._paid = ThreadPoolExecutor(max_workers=paid_threads, thread_name_prefix="paid")
        self._paid_client = Client(target, timeout=60)  # shared by the paid threads (connects on first use)
        self.tails = TailPayer(worker.store.root / "tails", key.public, self.submitter.submit, self._proof)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        self.tails.stop()
        self._paid.shutdown(wait=False, cancel_futures=True)
        self._paid_client.close()

    def run(self) -> None:
        """Follow the chain until stopped, reconnecting (and catching up) whenever the node goes away."""
        while not self._stop.is_set():
            try:
                with Client(self.target, timeout=30) as client:
                    client.wait_ready(10)
                    self.worker.follow_chain(client.genesis_hash)
                    self._follow(client)
            except (ClientError, grpc.RpcError) as exc:
                log.warning("node_unreachable", node=self.target, error=str(exc)[:200])
                self._stop.wait(1.0)

    def _follow(self, client: Client) -> None:
        self.tails.open(client)
        heads = client.heads()
        try:
            self._catch_up(client, client.chain_info().best_number)
            for head in heads:
                if self._stop.is_set():
                    return
                self._catch_up(client, head.header.number)
        finally:
            heads.cancel()

    def _catch_up(self, client: Client, best: int) -> None:
        while self.last_block < best and not self._stop.is_set():
            number = self.last_block + 1
            for event in client.events(number).events:
                if event.pallet == "inference" and event.name == "InferenceRequested":
                    requested = inf.InferenceRequested.FromString(event.data)
                    if self.key.public in requested.workers:
                        self._answer(client, requested.request)
            self.last_block = self.worker.followed_block = number
        self.tails.tick(self._paid_client, self.last_block)

    def _answer(self, client: Client, request_id: int) -> None:
        request = client.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
        if request.status != inf.PENDING or self.key.public in request.answered:
            return  # settled, expired, or answered before a restart: never submit twice
        model = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=request.model), mr.Model)
        if self.worker.prepare(request, model):
            if self._admit_paid():
                self._paid.submit(self._answer_on_pool, request, model)
            else:
                self._refuse(client, request, model, Refused(
                    inf.BUSY, f"request {request.id}: this worker is running {self.capacity} paid generations, "
                    f"its capacity", limit=self.capacity))
            return
        try:
            signed = self.worker.answer(client, request, model, self.top_k)
        except Refused as exc:
            self._refuse(client, request, model, exc)
            return
        except (ArtifactError, ValueError) as exc:
            log.error("cannot_answer", request=request_id, error=str(exc))
            return
        self._submit(client, model, request_id, signed)

    def _admit_paid(self) -> bool:
        """Take one more paid generation if capacity is left (released when it is answered or refused)."""
        with self._count:
            if self._in_flight >= self.capacity:
                return False
            self._in_flight += 1
            return True

    def _answer_on_pool(self, request: inf.Request, model: mr.Model) -> None:
        """A paid generation, on a pool thread: the worker generates, streams and attributes; then submit - or
        submit its refusal, when it will not answer."""
        client = self._paid_client
        try:
            signed = self.worker.answer(client, request, model, self.top_k)
            self._submit(client, model, request.id, signed)
        except Refused as exc:
            self._refuse(client, request, model, exc)
        except (ArtifactError, ValueError, ClientError, grpc.RpcError) as exc:
            log.error("cannot_answer", request=request.id, error=str(exc)[:300])
        except Exception:  # a pool thread's failure must reach the log, not vanish
            log.exception("paid_answer_failed", request=request.id)
        finally:
            with self._count:
                self._in_flight -= 1

    def _refuse(self, client: Client, request: inf.Request, model: mr.Model, refused: Refused) -> None:
        """Submit this worker's signed refusal ("refused, and why") instead of staying silent."""
        signed = self.worker.refuse(request, model, refused)
        call = client.call_with("attribution", "submit_refusal", at.SubmitRefusal(
            request=request.id, signed_refusal=signed.SerializeToString()))
        try:
            digest = self.submitter.submit(client, call)
        except (ClientError, grpc.RpcError) as exc:
            log.error("refusal_not_submitted", request=request.id, error=str(exc)[:300])
            return
        self.answered.append(request.id)
        log.info("request_refused", request=request.id, reason=inf.RefusalReason.Name(refused.reason),
                 extrinsic=digest.hex()[:16], detail=str(refused)[:200])

    def _submit(self, client: Client, model: mr.Model, request_id: int, signed: at.SignedAttribution) -> None:
        result = at.AttributionResult.FromString(signed.result)
        proofs = [self._proof(client, model, credit.contribution_id) for credit in result.top_k]
        if signed.tail:
            self.tails.keep(request_id, model, signed)
        bare = at.SignedAttribution(result=signed.result, signature=signed.signature)  # the tail goes by pages
        call = client.call_with("attribution", "submit_result", at.SubmitResult(
            request=request_id, proofs=proofs, signed_attribution=bare.SerializeToString()))
        digest = self.submitter.submit(client, call)
        self.answered.append(request_id)
        log.info("request_answered", request=request_id, extrinsic=digest.hex()[:16],
                 output_tokens=result.output_tokens)

    @staticmethod
    def _proof(client: Client, model: mr.Model, contribution_id: int) -> at.ContributionProof:
        """The contribution's membership proof in the first of the model's snapshots that holds it. Only the
        chain's "no such member" (NOT_FOUND, INVALID_ARGUMENT) moves on to the next snapshot: a busy node's
        timeout is retried, and then fails the answer with its own reason instead of a wrong one."""
        for ref in model.snapshots:
            request = dn.ProofRequest(datanet=ref.datanet, version=ref.version, contribution=contribution_id)
            for attempt in range(PROOF_ATTEMPTS):
                try:
                    proof = client.pallet_query("datanet", "get_membership", request, dn.MembershipProof)
                    return at.ContributionProof(datanet=ref.datanet, version=ref.version, proof=proof)
                except ClientError as exc:
                    if str(exc).startswith(NOT_A_MEMBER):
                        break
                    if attempt + 1 == PROOF_ATTEMPTS:
                        raise
                    log.warning("membership_query_retried", snapshot=f"{ref.datanet}:{ref.version}",
                                error=str(exc)[:300])
                    time.sleep(2 ** attempt)
        raise ValueError(f"contribution {contribution_id} is in none of the model's snapshots")

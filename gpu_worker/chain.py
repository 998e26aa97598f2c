"""The worker on chain: follow a node's blocks and answer the inference requests assigned to this worker.

For each `InferenceRequested` event naming this worker, it loads the model the request is for (from
its own store, or downloaded from the node's content store by the artifact hash the chain registered,
and checked), makes sure it holds the model's attribution index (a gradient index missing locally is
rebuilt from the snapshot's data in the content store and must reproduce the registered hash; a
language model's span index comes with its training run), runs inference and attribution - gradient
influence for classifiers, generation then span attribution for language models - gathers the
Merkle membership proof of every credited contribution from the node, and submits the signed result
as an `attribution.submit_result` extrinsic signed with the same key. A request for an adapter
(`PEFT_LORA`) is answered on a thread of its own by `gpu_worker.paid` - so concurrent paid requests
share OpenLoRA's batches - and streamed to its requester as it is generated; the worker keeps its own
nonce count, so results from many threads go into the pool in order. It remembers the last block it
processed: after a lost connection (a node restart) it scans the blocks it missed before following
new heads again, and it never submits twice (the chain's record of who answered is checked first).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import structlog

from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.worker.v1 import worker_pb2 as wp
from runtime.crypto import Keypair
from runtime.extrinsic import make_call
from sdk.client import Client, ClientError
from sdk.wire import request_id_bytes

from .errors import ArtifactError
from .results import MAX_DRAWS
from .snapshots import snapshot_dataset
from .worker import Worker

log = structlog.get_logger("payable.worker.chain")


class Submitter:
    """Signs and pools this worker's extrinsics from any thread, numbering them itself: the chain's nonce
    lags the pool, so the next nonce is the larger of the chain's and one past the last this worker used."""

    def __init__(self, key: Keypair):
        self.key = key
        self._next = 0
        self._lock = threading.Lock()

    def submit(self, client: Client, call) -> bytes:
        with self._lock:
            nonce = max(client.nonce(self.key.public), self._next)
            try:
                digest = client.submit(client.sign(self.key, call, nonce=nonce))
            except ClientError:
                self._next = 0  # re-read the chain's count next time
                raise
            self._next = nonce + 1
            return digest


class ChainWorker:
    def __init__(self, worker: Worker, target: str, key: Keypair, top_k: int = MAX_DRAWS, paid_threads: int = 64):
        self.worker, self.target, self.key, self.top_k = worker, target, key, top_k
        self.last_block = 0
        self.answered: list[int] = []
        self.submitter = Submitter(key)
        self._paid = ThreadPoolExecutor(max_workers=paid_threads, thread_name_prefix="paid")
        self._paid_client = Client(target, timeout=60)  # shared by the paid threads (connects on first use)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        self._paid.shutdown(wait=False, cancel_futures=True)
        self._paid_client.close()

    def run(self) -> None:
        """Follow the chain until stopped, reconnecting (and catching up) whenever the node goes away."""
        while not self._stop.is_set():
            try:
                with Client(self.target, timeout=30) as client:
                    client.wait_ready(10)
                    self.worker.paid.genesis = client.genesis_hash
                    self._follow(client)
            except (ClientError, grpc.RpcError) as exc:
                log.warning("node_unreachable", node=self.target, error=str(exc)[:200])
                self._stop.wait(1.0)

    def _follow(self, client: Client) -> None:
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
            self.last_block = number

    def _answer(self, client: Client, request_id: int) -> None:
        request = client.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
        if request.status != inf.PENDING or self.key.public in request.answered:
            return  # settled, expired, or answered before a restart: never submit twice
        model = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=request.model), mr.Model)
        if model.format == mr.PEFT_LORA:
            self.worker.paid.expect(request)  # its requester may start reading now
            self._paid.submit(self._answer_paid, request, model)
            return
        try:
            self._ensure_model(client, model.artifact_hash)
            self._ensure_index(client, model)
            raw = request.input or client.download(request.input_hash)
            if model.attribution_method == mr.SPAN:
                signed = self._attribute_generation(model, raw, request)
            else:
                signed = self.worker.gradient.attribute(wp.AttributeRequest(
                    model_hash=model.artifact_hash, index_hash=model.attribution_index_hash,
                    input=np.frombuffer(raw, dtype="<f4").tolist(), label=-1, top_k=self.top_k,
                    request_id=request_id_bytes(request_id)))
        except (ArtifactError, ValueError) as exc:
            log.error("cannot_answer", request=request_id, error=str(exc))
            return
        self._submit(client, model, request_id, signed)

    def _answer_paid(self, request: inf.Request, model: mr.Model) -> None:
        """A paid generation, on a pool thread: generate and stream, attribute, submit."""
        client = self._paid_client
        try:
            signed = self.worker.paid.answer(client, request, model)
            self._submit(client, model, request.id, signed)
        except (ArtifactError, ValueError, ClientError, grpc.RpcError) as exc:
            log.error("cannot_answer", request=request.id, error=str(exc)[:300])
        except Exception:  # noqa: BLE001 - a pool thread's failure must reach the log, not vanish
            log.exception("paid_answer_failed", request=request.id)

    def _submit(self, client: Client, model: mr.Model, request_id: int, signed: wp.SignedAttribution) -> None:
        result = wp.AttributionResult.FromString(signed.result)
        proofs = [self._proof(client, model, credit.contribution_id) for credit in result.top_k]
        call = make_call("attribution", 0, at.SubmitResult(request=request_id, proofs=proofs,
                                                           signed_attribution=signed.SerializeToString()))
        digest = self.submitter.submit(client, call)
        self.answered.append(request_id)
        log.info("request_answered", request=request_id, extrinsic=digest.hex()[:16],
                 output_tokens=result.output_tokens)

    def _ensure_model(self, client: Client, artifact_hash: bytes) -> None:
        try:
            self.worker.store.model(artifact_hash)
        except ArtifactError:
            artifact = wp.ModelArtifact.FromString(client.download(artifact_hash))
            self.worker.store.put_model(artifact, expected=artifact_hash)

    def _ensure_index(self, client: Client, model: mr.Model) -> None:
        """A gradient model's index, rebuilt from its snapshot's data when missing - and accepted only if
        the rebuild reproduces the index hash registered on chain (builds are deterministic)."""
        if model.attribution_method == mr.SPAN:
            return  # span indexes come with the language model's training run (see the module docstring)
        try:
            self.worker.gradient.index(model.attribution_index_hash)
            return
        except ArtifactError:
            pass
        if len(model.snapshots) != 1:
            raise ArtifactError("rebuilding an index is supported for models trained on one snapshot")
        _, dataset = snapshot_dataset(client, model.snapshots[0].datanet, model.snapshots[0].version)
        dataset_hash = self.worker.store.put_dataset(dataset)
        built = list(self.worker.gradient.build_index(wp.BuildIndexRequest(model_hash=model.artifact_hash,
                                                                           dataset_hash=dataset_hash)))[-1]
        if built.index_hash != model.attribution_index_hash:
            raise ArtifactError(f"rebuilt index {built.index_hash.hex()} differs from the registered "
                                f"{model.attribution_index_hash.hex()}")
        log.info("index_rebuilt", model=model.id, index=built.index_hash.hex())

    def _attribute_generation(self, model: mr.Model, prompt: bytes, request: inf.Request):
        """A language model: continue the prompt (at most the request's max_new_tokens when it sets one), then
        attribute the output's spans to the corpus; the token counts go into the signed result."""
        generated = self.worker.span.generate(wp.GenerateRequest(model_hash=model.artifact_hash,
                                                                 prompt=prompt.decode("utf-8", "replace"),
                                                                 max_tokens=min(48, request.max_new_tokens or 48)))
        return self.worker.span.attribute(wp.SpanAttributeRequest(
            model_hash=model.artifact_hash, index_hash=model.attribution_index_hash, tokens=generated.tokens,
            top_k=self.top_k, request_id=request_id_bytes(request.id), input_hash=request.input_hash,
            input_tokens=generated.prompt_tokens))

    @staticmethod
    def _proof(client: Client, model: mr.Model, contribution_id: int) -> at.ContributionProof:
        for ref in model.snapshots:
            try:
                proof = client.pallet_query("datanet", "get_membership", dn.ProofRequest(
                    datanet=ref.datanet, version=ref.version, contribution=contribution_id), dn.MembershipProof)
            except ClientError:
                continue
            return at.ContributionProof(datanet=ref.datanet, version=ref.version, proof=proof)
        raise ValueError(f"contribution {contribution_id} is in none of the model's snapshots")

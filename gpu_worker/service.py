"""The worker's service: train on snapshots, load registered models, build indexes, infer, attribute.

Inference runs the model's ONNX graph in ONNX Runtime (CUDA provider when present, else CPU);
gradients for attribution come from the same weights in torch. Every model and index is looked up by
content hash and re-verified from disk.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import structlog

from payable.worker.v1 import worker_pb2 as pb
from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import Keypair, blake2_256

from .artifacts import ArtifactError, Store, artifact_from_state, dataset_from_proto
from .attribution import build_result, contribution_scores, input_hash, output_hash, top_k_shares
from .device import deterministic, pick_device
from .index import AttributionIndex, IndexBuilder, IndexParams
from .models import ModelConfig
from .training import TrainConfig, train

log = structlog.get_logger("payable.worker")


class Worker:
    def __init__(self, data_dir: str | Path, key: Keypair, device: str = "auto"):
        deterministic(1)
        self.device = pick_device(device)
        self.store = Store(Path(data_dir))
        self.key = key
        self._sessions: dict[bytes, object] = {}
        self._indexes: dict[bytes, AttributionIndex] = {}
        self._lock = threading.Lock()

    # --- models ------------------------------------------------------------------------------------
    def train(self, request: pb.TrainRequest) -> pb.TrainResponse:
        config = ModelConfig.from_json(request.model_config_json)
        data = dataset_from_proto(request.dataset)
        if data.features.shape[1] != config.inputs:
            raise ArtifactError(f"dataset has {data.features.shape[1]} features, the model takes {config.inputs}")
        if data.labels.min() < 0 or data.labels.max() >= config.classes:
            raise ArtifactError(f"labels must lie in 0..{config.classes - 1}")
        train_config = TrainConfig(seed=request.seed, weight_decay=request.weight_decay or TrainConfig.weight_decay)
        trained = train(config, data, train_config, self.device)
        model_hash = self.store.put_model(artifact_from_state(config, trained.state))
        dataset_hash = self.store.put_dataset(request.dataset)
        logits = self._logits(model_hash, data.features)
        accuracy = float((logits.argmax(1) == data.labels).mean())
        log.info("model_trained", model=model_hash.hex(), dataset=dataset_hash.hex(), examples=len(data.labels),
                 accuracy=round(accuracy, 4))
        return pb.TrainResponse(model_hash=model_hash, dataset_hash=dataset_hash, train_accuracy=accuracy)

    def load_model(self, artifact: pb.ModelArtifact, expected: bytes) -> bytes:
        if len(expected) != 32:
            raise ArtifactError("expected_hash must be the 32-byte hash the chain registered")
        return self.store.put_model(artifact, expected)

    def _session(self, model_hash: bytes):
        with self._lock:
            if model_hash not in self._sessions:
                import onnxruntime as ort

                _, _, artifact = self.store.model(model_hash)
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                providers = (["CUDAExecutionProvider"] if self.device.type == "cuda"
                             and "CUDAExecutionProvider" in ort.get_available_providers() else [])
                self._sessions[model_hash] = ort.InferenceSession(artifact.onnx, options,
                                                                  providers=[*providers, "CPUExecutionProvider"])
            return self._sessions[model_hash]

    def _logits(self, model_hash: bytes, x: np.ndarray) -> np.ndarray:
        return self._session(model_hash).run(["logits"], {"input": np.asarray(x, dtype=np.float32)})[0]

    def infer(self, model_hash: bytes, x: np.ndarray) -> pb.InferResponse:
        config, _, _ = self.store.model(model_hash)
        if x.shape != (config.inputs,):
            raise ArtifactError(f"input must have {config.inputs} features, got {x.shape[0]}")
        logits = self._logits(model_hash, x[None])[0]
        label = int(logits.argmax())
        return pb.InferResponse(logits=logits.tolist(), label=label, output_hash=output_hash(logits, label))

    # --- attribution -------------------------------------------------------------------------------
    def build_index(self, request: pb.BuildIndexRequest):
        """Yields IndexProgress messages; the last carries the index hash."""
        defaults = IndexParams()
        params = IndexParams(method=request.method or defaults.method, ensemble=request.ensemble or defaults.ensemble,
                             projection=request.projection, damping=request.damping or defaults.damping)
        builder = IndexBuilder(self.store, request.model_hash, request.dataset_hash, params, self.device)
        updates: list[pb.IndexProgress] = []
        started = time.perf_counter()

        def report(phase: str, done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            updates.append(pb.IndexProgress(phase=phase, done=done, total=total, examples_per_s=rate,
                                            eta_s=(total - done) / rate if rate else 0.0))

        result: list[bytes] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                result.append(builder.build(report))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        sent = 0
        while thread.is_alive() or sent < len(updates):
            thread.join(0.2)
            while sent < len(updates):
                yield updates[sent]
                sent += 1
        if errors:
            raise errors[0]
        index = self.index(result[0])
        log.info("index_built", index=result[0].hex(), method=params.method, examples=len(index.example_contribution),
                 bytes=index.nbytes, seconds=round(time.perf_counter() - started, 2))
        yield pb.IndexProgress(phase="done", done=len(updates), total=len(updates), index_hash=result[0],
                               index_bytes=index.nbytes)

    def index(self, index_hash: bytes) -> AttributionIndex:
        with self._lock:
            if index_hash not in self._indexes:
                self._indexes[index_hash] = AttributionIndex(self.store, index_hash, self.device)
            return self._indexes[index_hash]

    def attribute(self, request: pb.AttributeRequest) -> pb.SignedAttribution:
        index = self.index(request.index_hash)
        if index.model_hash != request.model_hash:
            raise ArtifactError("this index was built for another model")
        x = np.asarray(request.input, dtype=np.float32)
        inferred = self.infer(request.model_hash, x)
        label = inferred.label if request.label < 0 else int(request.label)
        scores = contribution_scores(index.example_scores(x, label), index.example_contribution,
                                     len(index.contribution_ids))
        shares = top_k_shares(scores, request.top_k or 10)
        return build_result(model_hash=request.model_hash, index_hash=request.index_hash, input_hash=input_hash(x),
                            output_hash=output_hash(np.asarray(inferred.logits, dtype=np.float32), label),
                            method=index.params.method, params=json.loads(index.params.to_json()), shares=shares,
                            contributions=list(zip(index.contribution_ids, index.contributors, strict=True)),
                            worker=self.key, request_id=request.request_id)

    # --- language models and span attribution -----------------------------------------------------
    def train_language_model(self, request: pb.TrainLanguageModelRequest) -> pb.TrainResponse:
        from safetensors.torch import save as save_safetensors

        from .span.lm import LMConfig, lm_to_onnx, load_tokenizer, train_lm, train_tokenizer

        dataset_hash = self.store.put_text_dataset(request.dataset)
        texts = [d.text for d in request.dataset.documents]
        tokenizer_json = train_tokenizer(texts, request.vocab_size or 2000)
        tokenizer = load_tokenizer(tokenizer_json)
        documents = [np.array(tokenizer.encode(t).ids) for t in texts]
        config = LMConfig(vocab=tokenizer.get_vocab_size())
        state = train_lm(config, documents, seed=request.seed, steps=request.steps or 400, device=self.device)
        weights = save_safetensors(dict(sorted(state.items())))
        artifact = pb.ModelArtifact(config_json=config.to_json(), weights=weights, onnx=lm_to_onnx(config, state),
                                    tokenizer_json=tokenizer_json)
        model_hash = self.store.put_model(artifact)
        log.info("language_model_trained", model=model_hash.hex(), documents=len(texts),
                 tokens=int(sum(len(d) for d in documents)))
        return pb.TrainResponse(model_hash=model_hash, dataset_hash=dataset_hash)

    def _tokenizer(self, model_hash: bytes):
        from .span.lm import load_tokenizer

        _, _, artifact = self.store.model(model_hash)
        if not artifact.tokenizer_json:
            raise ArtifactError(f"model {model_hash.hex()} is not a language model (no tokenizer)")
        return load_tokenizer(artifact.tokenizer_json)

    def build_span_index(self, request: pb.SpanIndexRequest):
        """Yields IndexProgress; the last message carries the span index hash."""
        import shutil
        import tempfile

        from .span.index import Document, build_index

        tokenizer = self._tokenizer(request.model_hash)
        dataset = self.store.text_dataset(request.dataset_hash)
        root = self.store.root / "span-indexes"
        root.mkdir(exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="building-", dir=root))
        started = time.perf_counter()
        documents = (Document(np.array(tokenizer.encode(d.text).ids), d.contribution) for d in dataset.documents)
        index_hash = build_index(documents, [(c.id, bytes(c.contributor)) for c in dataset.contributions], work,
                                 vocab_size=tokenizer.get_vocab_size())
        final = root / index_hash.hex()
        if final.exists():
            shutil.rmtree(work)
        else:
            work.replace(final)
        size = sum(p.stat().st_size for p in final.iterdir())
        log.info("span_index_built", index=index_hash.hex(), bytes=size,
                 seconds=round(time.perf_counter() - started, 2))
        yield pb.IndexProgress(phase="done", done=1, total=1, index_hash=index_hash, index_bytes=size)

    def span_index(self, index_hash: bytes):
        from .span.index import SpanIndex

        with self._lock:
            if index_hash not in self._indexes:
                root = self.store.root / "span-indexes" / index_hash.hex()
                if not root.exists():
                    raise ArtifactError(f"no span index {index_hash.hex()} in {self.store.root}")
                try:
                    self._indexes[index_hash] = SpanIndex(root, index_hash)
                except ValueError as exc:
                    raise ArtifactError(str(exc)) from exc
            return self._indexes[index_hash]

    def generate(self, request: pb.GenerateRequest) -> pb.GenerateResponse:
        from .span.lm import generate, load_lm

        config, state, _ = self.store.model(request.model_hash)
        tokenizer = self._tokenizer(request.model_hash)
        prompt = tokenizer.encode(request.prompt).ids
        if not prompt:
            raise ArtifactError("the prompt is empty")
        tokens = generate(load_lm(config, state, self.device), prompt, min(request.max_tokens or 64, 1024))
        return pb.GenerateResponse(text=tokenizer.decode(tokens), tokens=tokens,
                                   output_hash=blake2_256(np.array(tokens, dtype="<u4").tobytes()))

    def attribute_spans(self, request: pb.SpanAttributeRequest) -> pb.SignedAttribution:
        from .span.credit import CreditParams, attribute_spans

        index = self.span_index(request.index_hash)
        params = CreditParams(min_length=request.min_length or 8, max_count=request.max_count or 100)
        tokens = np.array(request.tokens, dtype=np.int64)
        if tokens.size == 0:
            raise ArtifactError("no output tokens to attribute")
        spans, credit = attribute_spans(index, tokens, params)
        shares = top_k_shares(credit, request.top_k or 10)
        ids = [cid for cid, _ in index.contributions]
        return build_result(
            model_hash=request.model_hash, index_hash=request.index_hash, input_hash=request.input_hash,
            output_hash=blake2_256(np.array(request.tokens, dtype="<u4").tobytes()), method="span",
            params={"min_length": params.min_length, "max_count": params.max_count}, shares=shares,
            contributions=index.contributions, worker=self.key, request_id=request.request_id,
            spans=[pb.Span(start=s.start, length=s.length, count=s.count,
                           contribution_ids=sorted({ids[index.doc_contribution[d]] for d in s.documents}))
                   for s in spans])

    def status(self) -> pb.StatusResponse:
        response = pb.StatusResponse(device=str(self.device), worker=self.key.public, models=self.store.models())
        for path in sorted((self.store.root / "indexes").glob("*/manifest.json")):
            manifest = json.loads(path.read_text())
            size = (path.parent / "features.f16").stat().st_size
            response.indexes.add(index_hash=bytes.fromhex(path.parent.name), bytes=size,
                                 examples=manifest["examples"], method=manifest["params"]["method"])
        for path in sorted((self.store.root / "span-indexes").glob("*/manifest.json")):
            manifest = json.loads(path.read_text())
            response.indexes.add(index_hash=bytes.fromhex(path.parent.name),
                                 bytes=sum(p.stat().st_size for p in path.parent.iterdir()),
                                 examples=sum(s["tokens"] for s in manifest["shards"]), method="span")
        return response


class WorkerService(worker_pb2_grpc.WorkerServicer):
    """gRPC face of `Worker`: bad input → INVALID_ARGUMENT, unknown hashes → NOT_FOUND, with the reason."""

    def __init__(self, worker: Worker):
        self.worker = worker

    def _guard(self, context, fn, *args):
        try:
            return fn(*args)
        except ArtifactError as exc:
            code = grpc.StatusCode.NOT_FOUND if "no " in str(exc).split(":")[0] else grpc.StatusCode.INVALID_ARGUMENT
            context.abort(code, str(exc))
        except (ValueError, KeyError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    def Train(self, request, context):  # noqa: N802 - gRPC method names
        return self._guard(context, self.worker.train, request)

    def LoadModel(self, request, context):  # noqa: N802
        digest = self._guard(context, self.worker.load_model, request.artifact, request.expected_hash)
        return pb.LoadModelResponse(model_hash=digest)

    def _guard_stream(self, context, messages):
        """`_guard` for streaming methods: the same error mapping while the stream runs."""
        try:
            yield from messages
        except ArtifactError as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    def BuildIndex(self, request, context):  # noqa: N802
        return self._guard_stream(context, self.worker.build_index(request))

    def Infer(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.infer, request.model_hash, np.asarray(request.input, dtype=np.float32))

    def Attribute(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.attribute, request)

    def Status(self, request, context):  # noqa: N802
        return self.worker.status()

    def TrainLanguageModel(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.train_language_model, request)

    def BuildSpanIndex(self, request, context):  # noqa: N802
        return self._guard_stream(context, self.worker.build_span_index(request))

    def Generate(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.generate, request)

    def AttributeSpans(self, request, context):  # noqa: N802
        return self._guard(context, self.worker.attribute_spans, request)


def serve(worker: Worker, port: int = 0) -> tuple[grpc.Server, int]:
    """Start the worker's gRPC server on 127.0.0.1:port (0 picks a free port)."""
    from runtime.grpc_api import start_with_health_and_reflection

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="worker-grpc"),
                         options=[("grpc.max_receive_message_length", 64 << 20)])
    worker_pb2_grpc.add_WorkerServicer_to_server(WorkerService(worker), server)
    from .lora.service import OpenLoRAService

    worker_pb2_grpc.add_OpenLoRAServicer_to_server(OpenLoRAService(str(worker.device)), server)
    names = [pb.DESCRIPTOR.services_by_name[name].full_name for name in ("Worker", "OpenLoRA")]
    return start_with_health_and_reflection(server, names, port)

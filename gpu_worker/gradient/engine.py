"""The gradient engine: classifiers trained on snapshots, run in ONNX Runtime, attributed by influence.

Inference runs the model's ONNX graph in ONNX Runtime (CUDA provider when present, else CPU);
gradients for attribution come from the same weights in torch. Every model and index is looked up by
content hash and re-verified from disk.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import structlog
import torch

from payable.attribution.v1 import attribution_pb2 as at
from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import Keypair

from ..artifacts import Store
from ..configs import ModelConfig
from ..datasets import dataset_from_proto
from ..errors import ArtifactError
from ..near_duplicates import distinct_rows
from ..results import MAX_LISTED, build_result, credit_shares, input_hash, output_hash
from .index import AttributionIndex, IndexBuilder, IndexParams
from .models import artifact_from_state
from .training import TrainConfig, train

log = structlog.get_logger("payable.worker.gradient")


class GradientEngine:
    def __init__(self, store: Store, key: Keypair, device: torch.device):
        self.store, self.key, self.device = store, key, device
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
        trained = train(config, distinct_rows(data), train_config, self.device)  # as its index will see them
        model_hash = self.store.put_model(artifact_from_state(config, trained.state))
        dataset_hash = self.store.put_dataset(request.dataset)
        logits = self._logits(model_hash, data.features)
        accuracy = float((logits.argmax(1) == data.labels).mean())
        log.info("model_trained", model=model_hash.hex(), dataset=dataset_hash.hex(), examples=len(data.labels),
                 accuracy=round(accuracy, 4))
        return pb.TrainResponse(model_hash=model_hash, dataset_hash=dataset_hash, train_accuracy=accuracy)

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
        if not np.all(np.isfinite(x)):
            raise ArtifactError("the input holds NaN or infinite values")
        logits = self._logits(model_hash, x[None])[0]
        label = int(logits.argmax())
        return pb.InferResponse(logits=logits.tolist(), label=label, output_hash=output_hash(logits, label))

    # --- attribution -------------------------------------------------------------------------------
    def build_index(self, request: pb.BuildIndexRequest):
        """Yields IndexProgress messages; the last carries the index hash."""
        defaults = IndexParams()
        params = IndexParams(method=request.method or defaults.method, ensemble=request.ensemble or defaults.ensemble,
                             projection=request.projection, damping=request.damping or None,
                             weight_decay=request.weight_decay or defaults.weight_decay)
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

    def attribute(self, request: pb.AttributeRequest) -> at.SignedAttribution:
        index = self.index(request.index_hash)
        if index.model_hash != request.model_hash:
            raise ArtifactError("this index was built for another model")
        x = np.asarray(request.input, dtype=np.float32)
        inferred = self.infer(request.model_hash, x)
        label = inferred.label if request.label < 0 else int(request.label)
        if label >= index.config.classes:
            raise ArtifactError(f"label {label} is outside the model's {index.config.classes} classes")
        shares = credit_shares(index.example_scores(x, label), index.example_contribution, request.top_k or MAX_LISTED)
        return build_result(model_hash=request.model_hash, index_hash=request.index_hash, input_hash=input_hash(x),
                            output_hash=output_hash(np.asarray(inferred.logits, dtype=np.float32), label),
                            method=index.params.method, params=json.loads(index.params.to_json()), shares=shares,
                            contributions=list(zip(index.contribution_ids, index.contributors, strict=True)),
                            worker=self.key, request_id=request.request_id, label=label,
                            draw_seed=request.draw_seed)

    def index_summaries(self) -> list[pb.StatusResponse.IndexInfo]:
        """The gradient indexes on disk, for the worker's Status."""
        found = []
        for path in sorted((self.store.root / "indexes").glob("*/manifest.json")):
            manifest = json.loads(path.read_text())
            found.append(pb.StatusResponse.IndexInfo(index_hash=bytes.fromhex(path.parent.name),
                                                     bytes=(path.parent / "features.f16").stat().st_size,
                                                     examples=manifest["examples"],
                                                     method=manifest["params"]["method"]))
        return found

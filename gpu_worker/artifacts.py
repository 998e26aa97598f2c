"""Content-addressed model artifacts and datasets in the worker's data directory.

A model artifact is data - a JSON architecture config, safetensors weights and an ONNX graph - never
code; its id is blake2b-256 of the artifact's deterministic serialization, and every read re-checks
it, so a model whose bytes differ from what the chain registered is refused, never run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import blake2_256

from .models import ModelConfig, to_onnx
from .training import Snapshot


class ArtifactError(ValueError):
    """An artifact or dataset is missing, malformed, or does not match its hash."""


def artifact_from_state(config: ModelConfig, state: dict[str, torch.Tensor]) -> pb.ModelArtifact:
    tensors = {k: v.detach().to(torch.float64).contiguous() for k, v in sorted(state.items())}
    return pb.ModelArtifact(config_json=config.to_json(), weights=save_safetensors(tensors),
                            onnx=to_onnx(config, state))


def artifact_hash(artifact: pb.ModelArtifact) -> bytes:
    return blake2_256(artifact.SerializeToString(deterministic=True))


def decode_artifact(artifact: pb.ModelArtifact):
    """(config, weights): a ModelConfig for classifiers, an LMConfig for language models."""
    from .span.lm import LMConfig

    try:
        family = json.loads(artifact.config_json).get("family")
        config = LMConfig.from_json(artifact.config_json) if family == "tiny-lm" else \
            ModelConfig.from_json(artifact.config_json)
        state = load_safetensors(artifact.weights)
    except Exception as exc:  # noqa: BLE001 - any malformed artifact is refused the same way
        raise ArtifactError(f"artifact does not decode: {exc}") from exc
    return config, state


def dataset_to_proto(data: Snapshot) -> pb.Dataset:
    out = pb.Dataset(contributions=[pb.Contribution(id=i, contributor=c)
                                    for i, c in zip(data.contribution_ids, data.contributors, strict=True)])
    for x, y, c in zip(data.features, data.labels, data.contribution, strict=True):
        out.examples.add(features=x.tolist(), label=int(y), contribution=int(c))
    return out


def dataset_from_proto(message: pb.Dataset) -> Snapshot:
    if not message.examples:
        raise ArtifactError("the dataset has no examples")
    width = len(message.examples[0].features)
    if any(len(e.features) != width for e in message.examples):
        raise ArtifactError("every example must have the same number of features")
    return Snapshot(np.array([e.features for e in message.examples], dtype=np.float32),
                    np.array([e.label for e in message.examples], dtype=np.int64),
                    np.array([e.contribution for e in message.examples], dtype=np.int64),
                    [c.id for c in message.contributions], [bytes(c.contributor) for c in message.contributions])


class Store:
    """models/<hash>.bin and datasets/<hash>.bin under the data directory, checked on every read."""

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir)
        for sub in ("models", "datasets", "indexes"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _put(self, kind: str, data: bytes) -> bytes:
        digest = blake2_256(data)
        path = self.root / kind / f"{digest.hex()}.bin"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return digest

    def _get(self, kind: str, digest: bytes) -> bytes:
        path = self.root / kind / f"{digest.hex()}.bin"
        if not path.exists():
            raise ArtifactError(f"no {kind[:-1]} {digest.hex()} in {self.root}")
        data = path.read_bytes()
        if blake2_256(data) != digest:
            raise ArtifactError(f"{kind[:-1]} {digest.hex()} on disk does not match its hash (corrupted)")
        return data

    def put_model(self, artifact: pb.ModelArtifact, expected: bytes | None = None) -> bytes:
        data = artifact.SerializeToString(deterministic=True)
        if expected is not None and blake2_256(data) != expected:
            raise ArtifactError(f"artifact bytes hash to {blake2_256(data).hex()}, not the registered "
                                f"{expected.hex()}: refused")
        decode_artifact(artifact)
        return self._put("models", data)

    def model(self, digest: bytes) -> tuple[ModelConfig, dict[str, torch.Tensor], pb.ModelArtifact]:
        artifact = pb.ModelArtifact.FromString(self._get("models", digest))
        config, state = decode_artifact(artifact)
        return config, state, artifact

    def models(self) -> list[bytes]:
        return sorted(bytes.fromhex(p.stem) for p in (self.root / "models").glob("*.bin"))

    def put_text_dataset(self, dataset: pb.TextDataset) -> bytes:
        if not dataset.documents:
            raise ArtifactError("the text dataset has no documents")
        if any(d.contribution >= len(dataset.contributions) for d in dataset.documents):
            raise ArtifactError("a document points at a contribution that does not exist")
        return self._put("datasets", dataset.SerializeToString(deterministic=True))

    def text_dataset(self, digest: bytes) -> pb.TextDataset:
        return pb.TextDataset.FromString(self._get("datasets", digest))

    def put_dataset(self, dataset: pb.Dataset) -> bytes:
        dataset_from_proto(dataset)
        return self._put("datasets", dataset.SerializeToString(deterministic=True))

    def dataset(self, digest: bytes) -> Snapshot:
        return dataset_from_proto(pb.Dataset.FromString(self._get("datasets", digest)))

"""Content-addressed model artifacts and datasets in the worker's data directory.

A model artifact is data - a JSON architecture config, safetensors weights and an ONNX graph - never
code; its id is blake2b-256 of the artifact's deterministic serialization, and every read re-checks
it, so a model whose bytes differ from what the chain registered is refused, never run.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors

from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import blake2_256

from .configs import LMConfig, ModelConfig, config_from_json
from .datasets import Snapshot, dataset_from_proto
from .errors import ArtifactError, ArtifactNotFound


def artifact_hash(artifact: pb.ModelArtifact) -> bytes:
    return blake2_256(artifact.SerializeToString(deterministic=True))


def decode_artifact(artifact: pb.ModelArtifact):
    """(config, weights): a ModelConfig for classifiers, an LMConfig for language models."""
    try:
        config = config_from_json(artifact.config_json)
        state = load_safetensors(artifact.weights)
    except Exception as exc:  # any malformed artifact is refused the same way
        raise ArtifactError(f"artifact does not decode: {exc}") from exc
    return config, state


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
            raise ArtifactNotFound(f"no {kind[:-1]} {digest.hex()} in {self.root}")
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

    def model(self, digest: bytes) -> tuple[ModelConfig | LMConfig, dict[str, torch.Tensor], pb.ModelArtifact]:
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

"""A classifier's training examples with their provenance, and their wire form (`payable.worker.v1.Dataset`).

Every example keeps the index of the contribution it came from, so whatever the worker trains or
attributes can be traced back to the DataNet contributions - and their contributors - behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from payable.worker.v1 import worker_pb2 as pb

from .errors import ArtifactError


@dataclass
class Snapshot:
    """Training examples with their provenance: example i belongs to contribution `contribution[i]`."""

    features: np.ndarray      # float32 [n, d]
    labels: np.ndarray        # int64 [n]
    contribution: np.ndarray  # int64 [n]: index into contribution_ids
    contribution_ids: list[int]
    contributors: list[bytes]  # per contribution: the contributor's 32-byte account

    def __post_init__(self) -> None:
        n = len(self.features)
        if len(self.labels) != n or len(self.contribution) != n:
            raise ValueError("features, labels and contribution must have one entry per example")
        if len(self.contribution_ids) != len(self.contributors):
            raise ValueError("every contribution needs exactly one contributor")
        if n and (self.contribution.min() < 0 or self.contribution.max() >= len(self.contribution_ids)):
            raise ValueError("an example points at a contribution that does not exist")

    def subset(self, keep: np.ndarray) -> Snapshot:
        return Snapshot(self.features[keep], self.labels[keep], self.contribution[keep], self.contribution_ids,
                        self.contributors)


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

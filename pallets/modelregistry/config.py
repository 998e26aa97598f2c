"""Model registry constants, set per chain in the chain spec's `config.modelregistry`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelRegistryConfig:
    min_contributors_bps: int = 2_000  # the contributors' share of every fee is at least 20%
    max_snapshots: int = 16            # snapshots one model may cite (bounds register_model's weight)

    def __post_init__(self) -> None:
        if not 0 <= self.min_contributors_bps <= 10_000:
            raise ValueError("modelregistry.min_contributors_bps must be within 0..10000")
        if not 1 <= self.max_snapshots <= 16:
            raise ValueError("modelregistry.max_snapshots must be within 1..16 (the declared weight covers 16)")

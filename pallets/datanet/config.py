"""DataNet pallet constants, set per chain in the chain spec's `config.datanet`."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.codec import ONE_OPEN


@dataclass(frozen=True)
class DataNetConfig:
    creation_deposit: int = 10 * ONE_OPEN      # reserved from the creator for as long as the DataNet exists
    min_contribution_deposit: int = ONE_OPEN // 100
    max_curators: int = 16
    max_snapshot_contributions: int = 1000     # bounds publish_snapshot's weight
    max_blob_size: int = 1 << 30               # bytes a single contribution may declare

    def __post_init__(self) -> None:
        if self.max_curators < 1 or self.max_snapshot_contributions < 1 or self.max_blob_size < 1:
            raise ValueError("datanet limits must be positive")
        if self.creation_deposit < 1 or self.min_contribution_deposit < 1:  # each is a hold: of something
            raise ValueError("datanet.creation_deposit and datanet.min_contribution_deposit must be at least 1 base "
                             "unit (deposits are what keep spam DataNets and contributions out)")

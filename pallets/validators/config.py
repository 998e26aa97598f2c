"""Validators pallet constants, set per chain in the chain spec's `config.validators`."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.codec import ONE_OPEN

MAX_POWER = 2**60  # CometBFT caps the total voting power at 2^63 / 8; this keeps any set far below it


@dataclass(frozen=True)
class ValidatorsConfig:
    max_validators: int = 32           # N: the top-N candidates by bond form the set
    epoch_length: int = 20             # blocks; the set is elected at the end of every epoch's last block
    min_bond: int = 100 * ONE_OPEN     # to be a candidate
    power_unit: int = ONE_OPEN         # voting power = bond // power_unit
    proposer_bps: int = 2_000          # the proposer's share of a block's fees; the rest goes by power
    duplicate_vote_slash_bps: int = 500        # of the bond, for double signing
    light_client_attack_slash_bps: int = 1_000  # of the bond, for a light-client attack

    def __post_init__(self) -> None:
        if not 1 <= self.max_validators <= 1000:
            raise ValueError("validators.max_validators must be within 1..1000")
        if self.epoch_length < 1 or self.power_unit < 1 or self.min_bond < self.power_unit:
            raise ValueError("validators: epoch_length and power_unit must be positive and min_bond >= power_unit")
        for name in ("proposer_bps", "duplicate_vote_slash_bps", "light_client_attack_slash_bps"):
            if not 0 <= getattr(self, name) <= 10_000:
                raise ValueError(f"validators.{name} is in basis points: 0..10000")

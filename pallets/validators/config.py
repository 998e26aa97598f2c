"""Validators pallet constants, set per chain in the chain spec's `config.validators`."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.codec import ONE_OPEN

MAX_POWER = 2**60  # CometBFT caps the total voting power at 2^63 / 8; this keeps any set far below it
MAX_WINDOW = 10_000  # blocks: a validator's missed-block bit array stays within 1,250 bytes
MAX_JAIL_MS = 365 * 24 * 3600 * 1000


@dataclass(frozen=True)
class ValidatorsConfig:
    max_validators: int = 32           # N: the top-N candidates by bond form the set
    epoch_length: int = 20             # blocks; the set is elected at the end of every epoch's last block
    min_bond: int = 100 * ONE_OPEN     # to be a candidate
    power_unit: int = ONE_OPEN         # voting power = bond // power_unit
    proposer_bps: int = 2_000          # the proposer's share of a block's fees; the rest goes by power
    duplicate_vote_slash_bps: int = 500        # of the bond, for double signing (and tombstoned)
    light_client_attack_slash_bps: int = 1_000  # of the bond, for a light-client attack (and tombstoned)
    # Downtime, as Cosmos' x/slashing counts it. The defaults suit the testnet's blocks of ~0.5 s: a
    # validator is jailed after missing half of its last 1,000 blocks (about four minutes down), for ten
    # minutes of block time, and loses 0.1% of its bond; a restart or a short outage costs nothing.
    signed_blocks_window: int = 1_000          # blocks in the sliding window (1..MAX_WINDOW)
    min_signed_per_window_bps: int = 5_000     # must sign at least this share of the window (0: never jailed)
    downtime_jail_ms: int = 600_000            # block time before a downtime-jailed candidate may `unjail`
    downtime_slash_bps: int = 10               # of the bond, when jailed for downtime

    def __post_init__(self) -> None:
        if not 1 <= self.max_validators <= 1000:
            raise ValueError("validators.max_validators must be within 1..1000")
        if self.epoch_length < 1 or self.power_unit < 1 or self.min_bond < self.power_unit:
            raise ValueError("validators: epoch_length and power_unit must be positive and min_bond >= power_unit")
        for name in ("proposer_bps", "duplicate_vote_slash_bps", "light_client_attack_slash_bps",
                     "min_signed_per_window_bps", "downtime_slash_bps"):
            if not 0 <= getattr(self, name) <= 10_000:
                raise ValueError(f"validators.{name} is in basis points: 0..10000")
        if not 1 <= self.signed_blocks_window <= MAX_WINDOW:
            raise ValueError(f"validators.signed_blocks_window must be within 1..{MAX_WINDOW} blocks (the "
                             f"missed-block bit array is kept per validator), got {self.signed_blocks_window}")
        if not 0 <= self.downtime_jail_ms <= MAX_JAIL_MS:
            raise ValueError(f"validators.downtime_jail_ms is block time in milliseconds: 0..{MAX_JAIL_MS} "
                             f"(a year), got {self.downtime_jail_ms}")

    @property
    def max_missed(self) -> int:
        """Missed blocks a full window may hold before its validator is jailed (more than this jails)."""
        return self.signed_blocks_window - self.signed_blocks_window * self.min_signed_per_window_bps // 10_000

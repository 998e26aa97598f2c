"""Token pallet constants, set per chain in the chain spec's `config.token`."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.codec import ONE_OPEN


@dataclass(frozen=True)
class TokenConfig:
    existential_deposit: int = ONE_OPEN // 100  # 0.01 OPEN: below this an account's free dust is reaped
    unbonding_period: int = 100                 # blocks between unbond and withdraw_unbonded
    max_unlock_chunks: int = 32                 # pending unbonds per account (bounds the account record)

    def __post_init__(self) -> None:
        if self.existential_deposit < 1:
            raise ValueError("token.existential_deposit must be at least 1 base unit")
        if self.unbonding_period < 1:
            raise ValueError("token.unbonding_period must be at least 1 block")
        if not 1 <= self.max_unlock_chunks <= 1024:
            raise ValueError("token.max_unlock_chunks must be within 1..1024")

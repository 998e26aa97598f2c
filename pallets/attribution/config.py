"""Attribution pallet constants, set per chain in the chain spec's `config.attribution`."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.codec import ONE_OPEN


@dataclass(frozen=True)
class AttributionConfig:
    score_tolerance_ppb: int = 1_000_000   # replicas agree when every share differs by at most 0.1%
    minority_penalty: int = 10 * ONE_OPEN  # slashed from each worker outside the agreeing majority
    max_credited: int = 16                 # contributions one result may credit (bounds the weight)
    challenge_window: int = 20             # blocks after settlement in which it may be disputed
    challenge_bond: int = 20 * ONE_OPEN    # reserved from a challenger; lost if the jury disagrees
    tail_window: int = 14_400              # blocks after settlement in which a result's tail may be paid

    def __post_init__(self) -> None:
        if not 0 <= self.score_tolerance_ppb <= 1_000_000_000 or not 1 <= self.max_credited <= 16:
            raise ValueError("attribution: tolerance within 0..1e9 ppb, max_credited within 1..16")
        if self.tail_window < 1:
            raise ValueError("attribution: tail_window must be at least 1 block")

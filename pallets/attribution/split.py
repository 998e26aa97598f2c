"""The exact fee split: integers only, nothing minted, nothing lost.

A settled request's escrowed fee is divided by the model's basis points into the contributors' pool,
the model owner, the protocol and the workers. Of the contributors' pool, the part the result pays
(`paid_ppb`, parts per billion: the sum of its shares - all of it for gradient attribution, the
reproduced share of the output for span attribution) is divided pro rata by the contributors'
fixed-point scores, and the rest goes to the model owner. Each division takes the floor and hands the
leftover base units to the largest fractional remainders (ties to the lower index), so the parts
always sum to the whole. With no credited contribution the pool goes to the model owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.apportion import largest_remainder

BPS = 10_000
PPB = 1_000_000_000  # scores and the paid fraction are parts per billion of the contributors' pool


@dataclass(frozen=True)
class Split:
    contributors: list[int]  # per credited contribution, in the order of the scores given
    model_owner: int
    protocol: int
    worker: int

    @property
    def total(self) -> int:
        return sum(self.contributors) + self.model_owner + self.protocol + self.worker


def split_fee(fee: int, bps: tuple[int, int, int, int], scores: list[int], paid_ppb: int = PPB) -> Split:
    """Divide `fee` by (contributors, owner, protocol, worker) basis points, then `paid_ppb` of the pool by
    `scores`; the unpaid part of the pool goes to the model owner."""
    if sum(bps) != BPS:
        raise ValueError(f"the split must sum to {BPS} basis points, not {sum(bps)}")
    if not 0 <= paid_ppb <= PPB:
        raise ValueError(f"paid_ppb must be within 0..{PPB}, not {paid_ppb}")
    pool, owner, protocol, worker = largest_remainder(fee, list(bps)) if fee else (0, 0, 0, 0)
    paid = pool * paid_ppb // PPB
    if paid and any(scores):
        contributors = largest_remainder(paid, scores)
        owner += pool - paid
    else:
        owner, contributors = owner + pool, [0] * len(scores)
    return Split(contributors, owner, protocol, worker)

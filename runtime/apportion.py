"""Exact integer apportionment: a whole split in proportion to weights, nothing minted, nothing lost.

Each part takes the floor of its exact share and the leftover units go to the largest fractional
remainders (ties to the lower index), so the parts always sum to the whole and each is within one
unit of its exact share. The chain splits fees this way and the worker splits a result's shares this
way, so both live here, below either.
"""

from __future__ import annotations


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Split `total` base units in proportion to non-negative integer weights, exactly."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("amounts and weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("at least one weight must be positive")
    shares = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    leftover = total - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:leftover]:
        shares[i] += 1
    return shares

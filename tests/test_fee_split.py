"""The exact fee split: parts always sum to the fee, and each part is as close to its share as integers allow."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pallets.attribution.split import largest_remainder, split_fee

bps = st.lists(st.integers(0, 10_000), min_size=3, max_size=3).filter(lambda p: sum(p) <= 10_000).map(
    lambda p: (p[0], p[1], p[2], 10_000 - sum(p)))


@given(st.integers(0, 10**30), bps, st.lists(st.integers(0, 10**9), max_size=12))
def test_nothing_is_minted_or_lost(fee, split, scores):
    result = split_fee(fee, split, scores)
    assert result.total == fee
    assert len(result.contributors) == len(scores)
    assert all(part >= 0 for part in [*result.contributors, result.model_owner, result.protocol, result.worker])


@given(st.integers(0, 10**24), st.lists(st.integers(0, 10**9), min_size=1, max_size=12).filter(any))
def test_each_share_is_within_one_unit_of_its_exact_value(total, weights):
    shares = largest_remainder(total, weights)
    assert sum(shares) == total
    for share, weight in zip(shares, weights, strict=True):
        exact = Fraction(total * weight, sum(weights))
        assert abs(share - exact) < 1


def test_contributors_are_paid_pro_rata_and_a_pool_without_credit_goes_to_the_owner():
    result = split_fee(1_000, (7_000, 2_000, 500, 500), [3, 1])
    assert (result.contributors, result.model_owner, result.protocol, result.worker) == ([525, 175], 200, 50, 50)
    nobody = split_fee(1_000, (7_000, 2_000, 500, 500), [0, 0])
    assert nobody.contributors == [0, 0] and nobody.model_owner == 900
    with pytest.raises(ValueError, match="sum to"):
        split_fee(10, (5_000, 5_000, 1, 0), [1])

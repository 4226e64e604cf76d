"""Largest-remainder splitting and the fee formula."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting import (
    InvalidAmountError,
    InvalidWeightsError,
    fee_units,
    split_largest_remainder,
)
from accounting.errors import InvalidFeeError

amounts = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=2**256),
)
weights_maps = st.dictionaries(
    keys=st.integers(min_value=0, max_value=10**6),
    values=st.integers(min_value=1, max_value=2**63 - 1) | st.integers(min_value=1, max_value=9),
    min_size=1,
    max_size=30,
)


@given(amount=amounts, weights=weights_maps)
def test_parts_sum_exactly_and_stay_within_one_unit(amount, weights):
    parts = split_largest_remainder(amount, weights)
    assert sorted(parts) == sorted(weights)
    assert sum(parts.values()) == amount
    total = sum(weights.values())
    for key, part in parts.items():
        exact = Fraction(amount * weights[key], total)
        assert isinstance(part, int)
        assert abs(part - exact) < 1
        # floor or floor + 1, never less than the floor
        assert part - (amount * weights[key] // total) in (0, 1)


@given(amount=amounts, weights=weights_maps)
def test_remainder_goes_to_largest_fractional_parts_then_smaller_id(amount, weights):
    parts = split_largest_remainder(amount, weights)
    total = sum(weights.values())
    rem = {k: (amount * w) % total for k, w in weights.items()}
    bumped = {k for k in weights if parts[k] != amount * weights[k] // total}
    order = sorted(weights, key=lambda k: (-rem[k], k))
    assert bumped == set(order[: len(bumped)])


@given(amount=amounts, weights=weights_maps)
def test_deterministic_whatever_the_insertion_order(amount, weights):
    forward = split_largest_remainder(amount, weights)
    backward = split_largest_remainder(amount, dict(reversed(list(weights.items()))))
    assert forward == backward
    assert list(forward) == sorted(forward)


@given(n=st.integers(min_value=1, max_value=20), amount=st.integers(min_value=0, max_value=100))
def test_equal_weights_tie_break_by_smaller_id(n, amount):
    ids = list(range(100, 100 + n))
    parts = split_largest_remainder(amount, dict.fromkeys(ids, 7))
    q, r = divmod(amount, n)
    assert parts == {cid: q + (1 if i < r else 0) for i, cid in enumerate(ids)}


def test_known_examples():
    assert split_largest_remainder(10, {1: 1, 2: 1, 3: 1}) == {1: 4, 2: 3, 3: 3}
    assert split_largest_remainder(100, {7: 1, 3: 2}) == {3: 67, 7: 33}
    # remainders 2/3 vs 1/3: the larger fractional part wins even with a larger id
    assert split_largest_remainder(2, {1: 1, 2: 2}) == {1: 1, 2: 1}
    assert split_largest_remainder(0, {5: 3}) == {5: 0}
    big = 2**200 + 1
    assert split_largest_remainder(big, {1: 1, 2: 1}) == {1: 2**199 + 1, 2: 2**199}


@given(amount=amounts, fee_bps=st.integers(min_value=0, max_value=10_000))
def test_fee_formula(amount, fee_bps):
    fee = fee_units(amount, fee_bps)
    assert fee == amount * fee_bps // 10_000
    assert 0 <= fee <= amount
    assert fee * 10_000 <= amount * fee_bps < (fee + 1) * 10_000


def test_fee_edges():
    assert fee_units(10**30, 0) == 0
    assert fee_units(10**30, 10_000) == 10**30
    assert fee_units(9_999, 1) == 0
    assert fee_units(10_000, 1) == 1
    assert fee_units(2**70, 250) == 2**70 * 250 // 10_000


@pytest.mark.parametrize("bad", [-1, 10_001, 1.5, True, "100", None])
def test_fee_bps_rejected(bad):
    with pytest.raises(InvalidFeeError) as info:
        fee_units(100, bad)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [-1, 1.0, True, Decimal("1.5"), "10", None])
def test_amount_rejected(bad):
    with pytest.raises(InvalidAmountError):
        split_largest_remainder(bad, {1: 1})
    with pytest.raises(InvalidAmountError):
        fee_units(bad, 100)


def test_integral_decimal_amount_accepted():
    assert split_largest_remainder(Decimal(10**40), {1: 1}) == {1: 10**40}


@pytest.mark.parametrize(
    "bad",
    [{}, {1: 0}, {1: -3}, {1: 1.0}, {1: True}, {"a": 1}, {True: 1}, {1: Decimal(2)}, [(1, 1)]],
)
def test_weights_rejected(bad):
    with pytest.raises(InvalidWeightsError) as info:
        split_largest_remainder(10, bad)
    assert isinstance(info.value, ValueError)

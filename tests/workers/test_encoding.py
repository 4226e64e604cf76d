"""Integer ↔ limb-array conversions (the docs/architecture.md §4 binary layout)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.codec.limb_arrays import (
    ints_to_limbs,
    limbs_to_ints,
    limbs_to_point,
    limbs_to_points,
    points_to_limbs,
)

U256 = st.integers(min_value=0, max_value=(1 << 256) - 1)


@given(st.lists(U256, max_size=40))
def test_ints_round_trip(values: list[int]) -> None:
    limbs = ints_to_limbs(values)
    assert limbs.shape == (len(values), 4)
    assert limbs.dtype == np.uint64
    assert limbs.flags.c_contiguous and limbs.flags.writeable
    assert limbs_to_ints(limbs) == values


@given(
    st.integers(min_value=1, max_value=8).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.integers(0, (1 << (64 * n)) - 1), max_size=10))
    )
)
def test_ints_round_trip_for_any_width(case: tuple[int, list[int]]) -> None:
    n_limbs, values = case
    limbs = ints_to_limbs(values, n_limbs)
    assert limbs.shape == (len(values), n_limbs)
    assert limbs_to_ints(limbs) == values


@given(U256)
def test_limbs_are_little_endian_words(value: int) -> None:
    row = ints_to_limbs([value])[0]
    assert [int(limb) for limb in row] == [(value >> (64 * k)) & ((1 << 64) - 1) for k in range(4)]


@given(st.lists(U256, max_size=10))
def test_bytes_are_the_binary_body_layout(values: list[int]) -> None:
    body = b"".join(v.to_bytes(32, "little") for v in values)
    assert ints_to_limbs(values).tobytes() == body


@given(st.lists(st.tuples(U256, U256), max_size=20))
def test_points_round_trip(points: list[tuple[int, int]]) -> None:
    limbs = points_to_limbs(points)
    assert limbs.shape == (len(points), 2, 4)
    assert limbs_to_points(limbs) == points
    for i, point in enumerate(points):
        assert limbs_to_point(limbs[i]) == point


def test_infinity_is_all_zeros() -> None:
    limbs = points_to_limbs([(0, 0), (1, 2)])
    assert not limbs[0].any()
    assert limbs_to_point(limbs[0]) == (0, 0)


def test_empty_inputs() -> None:
    assert ints_to_limbs([]).shape == (0, 4)
    assert points_to_limbs([]).shape == (0, 2, 4)
    assert limbs_to_ints(np.zeros((0, 4), dtype=np.uint64)) == []


def test_non_contiguous_arrays_convert() -> None:
    values = list(range(10))
    limbs = ints_to_limbs(values)
    assert limbs_to_ints(limbs[::2]) == values[::2]
    assert limbs_to_ints(np.asfortranarray(limbs)) == values


@pytest.mark.parametrize("bad", [-1, 1 << 256])
def test_values_that_do_not_fit_raise(bad: int) -> None:
    with pytest.raises(OverflowError):
        ints_to_limbs([1, bad])


def test_limbs_to_ints_wants_a_matrix() -> None:
    with pytest.raises(ValueError):
        limbs_to_ints(np.zeros(4, dtype=np.uint64))


@pytest.mark.parametrize(
    ("curve", "words"),
    [("bn254_g1", 4), ("bls12_381_g1", 6), ("bn254_g2", 8), ("bls12_381_g2", 12)],
)
def test_points_to_limbs_on_every_curve(curve: str, words: int) -> None:
    from workers.codec.limb_arrays import coordinate_words
    from workers.params import CURVES

    params = CURVES[curve]
    p = params.base_modulus
    rng = random.Random(words)
    if params.degree == 2:
        points = [
            ((rng.randrange(p), rng.randrange(p)), (rng.randrange(p), p - 1)) for _ in range(5)
        ]
    else:
        points = [(rng.randrange(p), p - 1) for _ in range(5)]
    points.append(params.infinity)
    assert coordinate_words(curve) == words
    limbs = points_to_limbs(points, curve)
    assert limbs.shape == (len(points), 2, words) and not limbs[-1].any()
    assert limbs_to_points(limbs, curve) == points
    assert limbs_to_point(limbs[0], curve) == points[0]
    flat = [
        c
        for point in points
        for coordinate in point
        for c in (coordinate if params.degree == 2 else (coordinate,))
    ]
    assert limbs.astype("<u8").tobytes() == b"".join(
        c.to_bytes(8 * words // params.degree, "little") for c in flat
    )

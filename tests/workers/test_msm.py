"""The CPU MSM against py_ecc, and the Montgomery arithmetic underneath it."""

from __future__ import annotations

import random

import numpy as np
import pytest
from numba import njit
from py_ecc import optimized_bn128 as bn128

from workers import msm
from workers.codec.limb_arrays import ints_to_limbs, limbs_to_ints, points_to_limbs
from workers.fields.mont4 import (
    adc,
    add_into,
    from_mont_into,
    inv_into,
    mac,
    montgomery_constants,
    mul_into,
    mul_wide,
    sbb,
    sub_into,
    to_mont_into,
)
from workers.msm import digits, pippenger, window
from workers.params import BN254_P, BN254_R, CURVES

CURVE = "bn254_g1"
P = BN254_P
R = BN254_R
INF = (0, 0)


def random_point(rng: random.Random) -> tuple[int, int]:
    """A uniformly random point of BN254 G1 (cofactor 1), by a square root (p ≡ 3 mod 4)."""
    while True:
        x = rng.randrange(P)
        rhs = (x * x * x + 3) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return (x, y if rng.random() < 0.5 else P - y)


def negate(point: tuple[int, int]) -> tuple[int, int]:
    return INF if point == INF else (point[0], (P - point[1]) % P)


def py_ecc_msm(points: list[tuple[int, int]], scalars: list[int]) -> tuple[int, int]:
    """``Σ kᵢ·Pᵢ`` as a sum of py_ecc scalar multiplications."""
    total = bn128.Z1
    for point, scalar in zip(points, scalars, strict=True):
        if point != INF and scalar:
            jacobian = (bn128.FQ(point[0]), bn128.FQ(point[1]), bn128.FQ.one())
            total = bn128.add(total, bn128.multiply(jacobian, scalar))
    if bn128.is_inf(total):
        return INF
    x, y = bn128.normalize(total)
    return (int(x), int(y))


def mixed_input(n: int, seed: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Random terms salted with every special case that fits: zero scalars, infinity,
    repeated points with equal and different scalars, ``P`` next to ``−P``."""
    rng = random.Random(seed)
    points = [random_point(rng) for _ in range(n)]
    scalars = [rng.randrange(R) for _ in range(n)]
    if n >= 2:
        scalars[1] = 0
    if n >= 3:
        points[2] = INF
    if n >= 6:
        points[3] = points[4] = points[5] = points[0]
        scalars[3] = scalars[4] = scalars[0]
        points[6 % n] = negate(points[7 % n])
    if n >= 10:
        points[8], scalars[8] = negate(points[9]), scalars[9]
        scalars[10 % n] = R - 1
        scalars[11 % n] = 1
    return points, scalars


@pytest.mark.parametrize("n", [1, 2, 3, 17, 256])
def test_msm_matches_py_ecc(n: int) -> None:
    points, scalars = mixed_input(n, seed=n)
    assert msm(CURVE, points, scalars) == py_ecc_msm(points, scalars)


def test_msm_1000_points_matches_py_ecc() -> None:
    points, scalars = mixed_input(1000, seed=1000)
    assert msm(CURVE, points, scalars) == py_ecc_msm(points, scalars)


def test_msm_of_generator_multiples() -> None:
    generator = CURVES[CURVE].generator
    three_g = msm(CURVE, [generator], [3])
    assert three_g == py_ecc_msm([generator], [3])
    assert msm(CURVE, [generator, generator, generator], [1, 1, 1]) == three_g
    assert msm(CURVE, [generator], [R - 1]) == negate(generator)
    assert msm(CURVE, [generator], [1]) == generator


def test_msm_cancellations_give_infinity() -> None:
    rng = random.Random(7)
    point = random_point(rng)
    k = rng.randrange(1, R)
    assert msm(CURVE, [point, negate(point)], [k, k]) == INF
    assert msm(CURVE, [point, point], [k, R - k]) == INF
    assert msm(CURVE, [point] * 3, [0, 0, 0]) == INF
    assert msm(CURVE, [INF, INF], [k, 1]) == INF
    assert msm(CURVE, [], []) == INF


def test_msm_one_point_many_times() -> None:
    """Every bucket sum meets the same point again: doublings inside additions."""
    rng = random.Random(11)
    point = random_point(rng)
    scalars = [rng.randrange(R) for _ in range(40)] + [5] * 20
    expected = py_ecc_msm([point], [sum(scalars) % R])
    assert msm(CURVE, [point] * len(scalars), scalars) == expected


@pytest.mark.parametrize("c", [1, 2, 7, 13, 16])
def test_msm_limbs_for_every_window(monkeypatch: pytest.MonkeyPatch, c: int) -> None:
    points, scalars = mixed_input(24, seed=c)
    # Scalars whose signed digits sit on the edges: ±2^(c−1), all-ones windows, top bits.
    scalars[12:16] = [1 << (c - 1), (1 << c) - 1, (1 << 253) + (1 << (c - 1)), R - 2]
    monkeypatch.setattr(pippenger, "window_size", lambda n, **rule: c)
    result = pippenger.msm_limbs(CURVE, points_to_limbs(points), ints_to_limbs(scalars))
    assert result == py_ecc_msm(points, scalars)


def test_msm_limbs_accepts_any_256_bit_scalar() -> None:
    rng = random.Random(3)
    point = random_point(rng)
    scalar = (1 << 256) - 1
    result = pippenger.msm_limbs(CURVE, points_to_limbs([point]), ints_to_limbs([scalar]))
    assert result == py_ecc_msm([point], [scalar % R])


def test_msm_limbs_accepts_read_only_arrays() -> None:
    """Ray's object store hands out read-only arrays."""
    points, scalars = mixed_input(8, seed=8)
    bases, limbs = points_to_limbs(points), ints_to_limbs(scalars)
    bases.flags.writeable = False
    limbs.flags.writeable = False
    assert pippenger.msm_limbs(CURVE, bases, limbs) == py_ecc_msm(points, scalars)


@pytest.mark.parametrize("c", [1, 2, 5, 11, 13, 16])
def test_signed_digits_reconstruct_the_scalar(c: int) -> None:
    rng = random.Random(c)
    scalars = [rng.randrange(1 << 256) for _ in range(30)] + [0, 1, R - 1, (1 << 256) - 1]
    windows = window.n_windows(c)
    got = digits.signed_digits(ints_to_limbs(scalars), c, windows)
    assert got.shape == (windows, len(scalars))
    assert np.abs(got).max() <= 1 << (c - 1)
    assert (got > -(1 << (c - 1))).all()
    rebuilt = [sum(int(got[w, i]) << (w * c) for w in range(windows)) for i in range(30 + 4)]
    assert rebuilt == scalars


def test_window_rule_minimises_the_documented_cost() -> None:
    previous = 1
    for log_n in range(0, 25):
        n = 1 << log_n
        c = window.window_size(n)
        assert 1 <= c <= window.C_MAX
        assert c >= previous  # more points, wider windows
        previous = c
        cost = window.msm_cost(n, c)
        assert all(cost <= window.msm_cost(n, other) for other in range(1, window.C_MAX + 1))
    assert window.window_size(1 << 16) == 13


# --- Montgomery arithmetic (workers.fields.mont4), on both BN254 fields ---------------------------


@njit
def _limb_primitives(a: np.uint64, b: np.uint64, c: np.uint64, d: np.uint64) -> tuple:
    one = np.uint64(1)
    return mul_wide(a, b), mac(a, b, c, d), adc(a, b, c & one), sbb(a, b, d & one)


def split(value: int) -> tuple[int, int]:
    """A 128-bit value as ``(lo, hi)`` 64-bit words."""
    return (value & ((1 << 64) - 1), value >> 64)


def test_128_bit_limb_primitives() -> None:
    rng = random.Random(128)
    top = (1 << 64) - 1
    cases = [(top, top, top, top), (0, 0, 0, 0), (0, top, 1, 1), (top, 0, 0, 1)]
    cases += [tuple(rng.randrange(1 << 64) for _ in range(4)) for _ in range(200)]
    for a, b, c, d in cases:
        wide, fused, added, subtracted = _limb_primitives(*map(np.uint64, (a, b, c, d)))
        assert tuple(map(int, wide)) == split(a * b)
        assert tuple(map(int, fused)) == split(a * b + c + d)
        assert tuple(map(int, added)) == split(a + b + (c & 1))
        difference = a - b - (d & 1)
        assert tuple(map(int, subtracted)) == (difference % (1 << 64), int(difference < 0))


@pytest.mark.parametrize("modulus", [BN254_P, BN254_R], ids=["fp", "fr"])
def test_field_operations_match_python_ints(modulus: int) -> None:
    rng = random.Random(modulus % 1000)
    edges = [0, 1, 2, modulus - 1, modulus - 2, (1 << 64) - 1, 1 << 64, 1 << 192, modulus // 2]
    xs = edges + [rng.randrange(modulus) for _ in range(300)] + edges[::-1]
    ys = edges[::-1] + [rng.randrange(modulus) for _ in range(300)] + edges
    a, b = ints_to_limbs(xs), ints_to_limbs(ys)
    consts = montgomery_constants(modulus)
    r = 1 << 256
    r_inv = pow(r, -1, modulus)
    out = np.empty_like(a)

    mul_into(out, a, b, consts)
    assert limbs_to_ints(out) == [x * y * r_inv % modulus for x, y in zip(xs, ys, strict=True)]
    add_into(out, a, b, consts)
    assert limbs_to_ints(out) == [(x + y) % modulus for x, y in zip(xs, ys, strict=True)]
    sub_into(out, a, b, consts)
    assert limbs_to_ints(out) == [(x - y) % modulus for x, y in zip(xs, ys, strict=True)]

    mont = np.empty_like(a)
    to_mont_into(mont, a, consts)
    assert limbs_to_ints(mont) == [x * r % modulus for x in xs]
    inverse = np.empty_like(a)
    inv_into(inverse, mont, consts)
    from_mont_into(inverse, inverse, consts)
    assert limbs_to_ints(inverse) == [pow(x, -1, modulus) if x else 0 for x in xs]
    from_mont_into(mont, mont, consts)
    assert limbs_to_ints(mont) == xs


def test_montgomery_constants() -> None:
    consts = montgomery_constants(BN254_P)
    p, r2, one, pinv = limbs_to_ints(consts)
    assert p == BN254_P
    assert r2 == (1 << 512) % BN254_P
    assert one == (1 << 256) % BN254_P
    assert (pinv * BN254_P) % (1 << 64) == (1 << 64) - 1  # p·p' ≡ −1
    with pytest.raises(ValueError):
        montgomery_constants(2**255 - 19)  # top limb too large for the no-carry CIOS
    with pytest.raises(ValueError):
        montgomery_constants(1 << 200)

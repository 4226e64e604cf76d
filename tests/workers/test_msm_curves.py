"""MSM on ``bn254_g2``, ``bls12_381_g1`` and ``bls12_381_g2`` against py_ecc, and its checks.

The bucket-method tests (every window, split windows, batch-affine buckets) run on
``bn254_g1`` too: all four curves share one implementation.
"""

from __future__ import annotations

import random
from functools import cache

import numpy as np
import pytest
from py_ecc import optimized_bls12_381 as bls
from py_ecc import optimized_bn128 as bn

from workers import msm
from workers.api import validate_msm_input
from workers.codec.limb_arrays import ints_to_limbs, limbs_to_point, points_to_limbs
from workers.errors import (
    BackendUnavailableError,
    KernelInputError,
    MalformedPointError,
    PointNotInSubgroupError,
    PointNotOnCurveError,
    ScalarOutOfRangeError,
)
from workers.msm import checks, pippenger, window
from workers.msm.curve import kernel_curve, mont_rows
from workers.params import CURVES
from workers.reference import (
    in_subgroup,
    is_on_curve,
    naive_msm,
    point_add,
    point_neg,
    random_curve_point,
    scalar_mul_raw,
    sum_points,
)

NEW_CURVES = ["bn254_g2", "bls12_381_g1", "bls12_381_g2"]
ALL_CURVES = ["bn254_g1", *NEW_CURVES]
PY_ECC = {"bn254_g1": bn, "bn254_g2": bn, "bls12_381_g1": bls, "bls12_381_g2": bls}
POOL_SIZE = 6


def _to_py_ecc(curve: str, point: tuple) -> tuple:
    lib = PY_ECC[curve]
    if CURVES[curve].degree == 2:
        return (lib.FQ2(list(point[0])), lib.FQ2(list(point[1])), lib.FQ2.one())
    return (lib.FQ(point[0]), lib.FQ(point[1]), lib.FQ.one())


def _from_py_ecc(curve: str, point: tuple) -> tuple:
    lib = PY_ECC[curve]
    if lib.is_inf(point):
        return CURVES[curve].infinity
    x, y = lib.normalize(point)
    if CURVES[curve].degree == 2:
        return (tuple(int(c) for c in x.coeffs), tuple(int(c) for c in y.coeffs))
    return (int(x), int(y))


def py_ecc_msm(curve: str, points: list[tuple], scalars: list[int]) -> tuple:
    """``Σ kᵢ·Pᵢ`` as py_ecc scalar multiplications, one per distinct point."""
    lib = PY_ECC[curve]
    params = CURVES[curve]
    merged: dict[tuple, int] = {}
    for point, k in zip(points, scalars, strict=True):
        if point != params.infinity:
            merged[point] = (merged.get(point, 0) + k) % params.order
    total = lib.Z2 if params.degree == 2 else lib.Z1
    for point, k in merged.items():
        total = lib.add(total, lib.multiply(_to_py_ecc(curve, point), k))
    return _from_py_ecc(curve, total)


@cache
def point_pool(curve: str) -> tuple[tuple, ...]:
    """A few subgroup points ``k·G`` from py_ecc (G2 scalar multiplications are slow)."""
    lib = PY_ECC[curve]
    generator = lib.G2 if CURVES[curve].degree == 2 else lib.G1
    rng = random.Random(curve)
    return tuple(
        _from_py_ecc(curve, lib.multiply(generator, rng.randrange(1, lib.curve_order)))
        for _ in range(POOL_SIZE)
    )


def mixed_input(curve: str, n: int, seed: int) -> tuple[list[tuple], list[int]]:
    """Random terms over the pool plus every special case: zero scalars, ``r − 1``, infinity,
    repeated points, ``P`` next to ``−P`` with the same scalar."""
    params = CURVES[curve]
    rng = random.Random(seed)
    pool = point_pool(curve)
    points = [rng.choice(pool) for _ in range(n)]
    scalars = [rng.randrange(params.order) for _ in range(n)]
    specials = [
        (pool[0], 0),
        (params.infinity, 5),
        (pool[1], params.order - 1),
        (pool[1], 1),
        (pool[2], scalars[0] if n else 3),
        (point_neg(params, pool[2]), scalars[0] if n else 3),
        (params.generator, 1),
    ]
    for i, (point, k) in enumerate(specials[:n]):
        points[i], scalars[i] = point, k
    order = list(range(n))
    rng.shuffle(order)
    return [points[i] for i in order], [scalars[i] for i in order]


# -- correctness ------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", NEW_CURVES)
@pytest.mark.parametrize("n", [1, 2, 7, 60])
def test_msm_matches_py_ecc(curve: str, n: int) -> None:
    points, scalars = mixed_input(curve, n, seed=n)
    assert msm(curve, points, scalars) == py_ecc_msm(curve, points, scalars)


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_msm_many_terms_matches_py_ecc(curve: str) -> None:
    points, scalars = mixed_input(curve, 700, seed=700)
    assert msm(curve, points, scalars) == py_ecc_msm(curve, points, scalars)


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_msm_edge_cases(curve: str) -> None:
    params = CURVES[curve]
    g, inf, r = params.generator, params.infinity, params.order
    assert msm(curve, [], []) == inf
    assert msm(curve, [inf, inf], [3, 4]) == inf
    assert msm(curve, [g], [0]) == inf
    assert msm(curve, [g], [1]) == g
    assert msm(curve, [g], [r - 1]) == point_neg(params, g)
    assert msm(curve, [g, point_neg(params, g)], [9, 9]) == inf
    assert msm(curve, [g, g], [5, r - 5]) == inf
    assert msm(curve, [g] * 3, [1, 1, 1]) == py_ecc_msm(curve, [g], [3])


@pytest.mark.parametrize("curve", ALL_CURVES)
@pytest.mark.parametrize("c", [1, 2, 7, 14])
def test_msm_for_every_window(monkeypatch: pytest.MonkeyPatch, curve: str, c: int) -> None:
    points, scalars = mixed_input(curve, 12, seed=c)
    r = CURVES[curve].order
    scalars[7:11] = [1 << (c - 1), (1 << c) - 1, (1 << 253) + (1 << (c - 1)), r - 2]
    monkeypatch.setattr(pippenger, "window_size", lambda n, **rule: c)
    bases, limbs = points_to_limbs(points, curve), ints_to_limbs(scalars)
    assert pippenger.msm_limbs(curve, bases, limbs) == py_ecc_msm(curve, points, scalars)


def _mont_case(curve: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Finite bases in Montgomery form, their scalars and the field descriptor."""
    points, scalars = mixed_input(curve, n, seed=seed)
    kc = kernel_curve(curve)
    rows = points_to_limbs(points, curve).reshape(-1, 2 * kc.words)
    keep = rows.any(axis=1)
    return mont_rows(kc, rows[keep]), ints_to_limbs(scalars)[keep], kc.f


@pytest.mark.parametrize("curve", ALL_CURVES)
@pytest.mark.parametrize("threads", [2, 3, 40])
def test_window_split_matches_serial(curve: str, threads: int) -> None:
    """Each window range on its own bucket array gives the serial result exactly."""
    mont, limbs, f = _mont_case(curve, 40, seed=threads)
    serial = pippenger.bucket_msm(mont, limbs, 5, f)
    split = pippenger.bucket_msm(mont, limbs, 5, f, threads=threads)
    assert np.array_equal(serial, split)


def test_window_rule_caps_the_bucket_memory() -> None:
    assert window.max_window(2 * 4) == 16  # BN254 G1-sized points
    assert window.max_window(2 * 6) == 15
    assert window.max_window(2 * 8) == 15
    assert window.max_window(2 * 12) == 14
    for words in (12, 16, 24):
        for n in (1, 1 << 8, 1 << 16, 1 << 20):
            c = window.window_size(n, point_words=words)
            assert 1 <= c <= window.max_window(words)
    assert window.window_size(1 << 16, point_words=12) == window.window_size(1 << 16)


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_reference_agrees_with_py_ecc(curve: str) -> None:
    points, scalars = mixed_input(curve, 4, seed=5)
    assert naive_msm(curve, points, scalars) == py_ecc_msm(curve, points, scalars)
    assert sum_points(curve, points) == py_ecc_msm(curve, points, [1] * len(points))


# -- validation ---------------------------------------------------------------------------------


@cache
def outside_subgroup(curve: str) -> tuple:
    """A point of the whole curve that is not in the prime-order subgroup."""
    params = CURVES[curve]
    rng = random.Random(1)
    while True:
        point = random_curve_point(curve, rng)
        if is_on_curve(params, point) and not in_subgroup(params, point):
            return point


def _off_curve(curve: str) -> tuple:
    x, y = CURVES[curve].generator
    if CURVES[curve].degree == 2:
        return (x, (y[0], (y[1] + 1) % CURVES[curve].base_modulus))
    return (x, (y + 1) % CURVES[curve].base_modulus)


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_rejects_points_outside_the_subgroup(curve: str) -> None:
    params = CURVES[curve]
    bad = outside_subgroup(curve)
    if params.degree == 2:
        assert PY_ECC[curve].is_on_curve(_to_py_ecc(curve, bad), PY_ECC[curve].b2)
    else:
        assert PY_ECC[curve].is_on_curve(_to_py_ecc(curve, bad), PY_ECC[curve].b)
    points = [params.generator, params.infinity, bad]
    for check in (msm, validate_msm_input):
        with pytest.raises(PointNotInSubgroupError, match=r"points\[2\] .*subgroup") as info:
            check(curve, points, [1, 2, 3])
        assert info.value.field == "points"
        assert isinstance(info.value, PointNotOnCurveError)


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_rejects_off_curve_and_out_of_range(curve: str) -> None:
    params = CURVES[curve]
    g, p = params.generator, params.base_modulus
    with pytest.raises(PointNotOnCurveError, match=r"points\[1\] is not on"):
        msm(curve, [g, _off_curve(curve)], [1, 1])
    if params.degree == 2:
        too_big = ((g[0][0] + p, g[0][1]), g[1])
        negative = (g[0], (g[1][0], -1))
    else:
        too_big = (g[0] + p, g[1])
        negative = (g[0], -1)
    for bad in (too_big, negative):
        with pytest.raises(PointNotOnCurveError, match=r"points\[0\].*out of range"):
            msm(curve, [bad, g], [1, 1])
    with pytest.raises(ScalarOutOfRangeError, match=r"scalars\[1\]"):
        msm(curve, [g, g], [1, params.order])


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_rejects_wrong_shapes(curve: str) -> None:
    params = CURVES[curve]
    g = params.generator
    if params.degree == 2:
        wrong = [(1, 2), ((1, 2), 3), ((1, 2, 3), (4, 5)), (g[0], g[1], g[0]), "xy"]
    else:
        wrong = [((1, 2), (3, 4)), (1, 2, 3), (1.0, 2), "xy", None]
    for bad in wrong:
        with pytest.raises(MalformedPointError, match=r"points\[1\]") as info:
            msm(curve, [g, bad], [1, 1])
        assert info.value.field == "points"
        assert isinstance(info.value, KernelInputError)


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_gpu_backend_is_cpu_only_for_new_curves(curve: str) -> None:
    g = CURVES[curve].generator
    with pytest.raises(BackendUnavailableError, match=f"no MSM on {curve}"):
        msm(curve, [g], [2], backend="gpu")
    assert msm(curve, [g], [2], backend="auto") == msm(curve, [g], [2], backend="cpu")


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_subgroup_check_kernel(curve: str) -> None:
    params = CURVES[curve]
    good = [*point_pool(curve), params.infinity]
    assert checks.first_point_not_in_subgroup(curve, points_to_limbs(good, curve)) == -1
    bad = [*good, outside_subgroup(curve)]
    first_bad = checks.first_point_not_in_subgroup(curve, points_to_limbs(bad, curve))
    assert first_bad == len(good)


# -- distributed ------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_distributed_msm_on_every_curve(ray_cluster, curve: str) -> None:
    from workers.cluster.dispatch import run_msm
    from workers.cluster.plan import plan_msm

    points, scalars = mixed_input(curve, 30, seed=30)
    chunks = plan_msm(curve, len(points), 4)
    result = run_msm(
        curve, points_to_limbs(points, curve), ints_to_limbs(scalars), chunks, max_in_flight=2
    )
    assert result == msm(curve, points, scalars)


# -- batch-affine accumulation ------------------------------------------------------------------


@pytest.mark.parametrize("curve", ALL_CURVES)
@pytest.mark.parametrize(("n", "c"), [(40, 2), (300, 4), (700, 10)])
def test_batch_affine_matches_py_ecc(
    monkeypatch: pytest.MonkeyPatch, curve: str, n: int, c: int
) -> None:
    """Few buckets (every term conflicts), and enough terms for several batches per window."""
    points, scalars = mixed_input(curve, n, seed=n + c)
    monkeypatch.setattr(pippenger, "window_size", lambda n, **rule: c)
    bases, limbs = points_to_limbs(points, curve), ints_to_limbs(scalars)
    words = bases.shape[2]
    expected = py_ecc_msm(curve, points, scalars)
    for batch_affine in (True, False):
        got = pippenger.msm_to_limbs(curve, bases, limbs, batch_affine=batch_affine)
        assert limbs_to_point(got, curve) == expected, (batch_affine, words)


@pytest.mark.parametrize("curve", ALL_CURVES)
def test_batch_affine_window_split(curve: str) -> None:
    mont, limbs, f = _mont_case(curve, 300, seed=3)
    serial = pippenger.bucket_msm(mont, limbs, 6, f, batch_affine=False)
    split = pippenger.bucket_msm(mont, limbs, 6, f, threads=3, batch_affine=True)
    assert np.array_equal(serial, split)


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_endomorphism_subgroup_test_equals_the_definition(curve: str) -> None:
    """``[k]P = ±σ(P)`` accepts exactly the points with ``[r]P = O``: subgroup points, random
    points of the whole curve, torsion points ``[r]Q`` and subgroup points plus torsion."""
    params = CURVES[curve]
    rng = random.Random(9)
    torsion = scalar_mul_raw(params, random_curve_point(curve, rng), params.order)
    assert torsion != params.infinity
    candidates = [
        *point_pool(curve),
        params.generator,
        torsion,
        point_add(params, point_pool(curve)[0], torsion),
        *(random_curve_point(curve, rng) for _ in range(6)),
    ]
    for point in candidates:
        limbs = points_to_limbs([params.generator, point], curve)
        fast = checks.first_point_not_in_subgroup(curve, limbs)
        slow = checks.first_point_not_in_subgroup_by_order(curve, limbs)
        assert fast == slow == (-1 if in_subgroup(params, point) else 1)


@pytest.mark.parametrize("curve", NEW_CURVES)
def test_subgroup_test_split_among_threads(curve: str) -> None:
    good = list(point_pool(curve))
    points = [good[i % len(good)] for i in range(checks.SUBGROUP_PARALLEL_MIN_POINTS + 50)]
    points[300] = points[-3] = outside_subgroup(curve)
    limbs = points_to_limbs(points, curve)
    assert checks.first_point_not_in_subgroup(curve, limbs) == 300


# -- the six-limb Montgomery arithmetic ----------------------------------------------------------


def test_six_limb_arithmetic_matches_python_ints() -> None:
    from workers.fields import mont6

    p = CURVES["bls12_381_g1"].base_modulus
    consts = mont6.montgomery_constants6(p)
    rng = random.Random(6)
    edges = [0, 1, 2, p - 1, p - 2, (1 << 320) - 1, (1 << 64) - 1, p >> 1]
    a_values = edges + [rng.randrange(p) for _ in range(200)]
    b_values = [*reversed(edges), *(rng.randrange(p) for _ in range(200))]
    a, b = ints_to_limbs(a_values, 6), ints_to_limbs(b_values, 6)
    out = np.empty_like(a)
    r_inv = pow(1 << 384, -1, p)

    def ints(arr: np.ndarray) -> list[int]:
        return [int.from_bytes(row.astype("<u8").tobytes(), "little") for row in arr]

    mont6.mul6_into(out, a, b, consts)
    assert ints(out) == [x * y * r_inv % p for x, y in zip(a_values, b_values, strict=True)]
    mont6.add6_into(out, a, b, consts)
    assert ints(out) == [(x + y) % p for x, y in zip(a_values, b_values, strict=True)]
    mont6.sub6_into(out, a, b, consts)
    assert ints(out) == [(x - y) % p for x, y in zip(a_values, b_values, strict=True)]
    mont6.to_mont6_into(out, a, consts)
    assert ints(out) == [(x << 384) % p for x in a_values]
    mont = out.copy()
    mont6.inv6_into(out, mont, consts)
    assert ints(out) == [(pow(x, -1, p) << 384) % p if x else 0 for x in a_values]
    mont6.from_mont6_into(out, mont, consts)
    assert ints(out) == a_values
    with pytest.raises(ValueError, match="odd modulus"):
        mont6.montgomery_constants6(1 << 383)

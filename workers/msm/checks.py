"""Input checks of the MSM bases: on the curve, in the order-``r`` subgroup, every curve.

* :func:`first_point_off_curve`: ``y² = x³ + b`` on every base (all four curves have
  ``a = 0``), in numba over the generic field operations of :mod:`workers.fields.generic`.
* :func:`first_point_not_in_subgroup`: membership of the order-``r`` subgroup by the
  endomorphism tests of :func:`subgroup_test` — ``[k]P = ±σ(P)`` with a 64-bit
  (BLS12-381 G2) to 128-bit ``k`` and ``σ`` a Frobenius-type endomorphism — instead
  of the definition ``[r]P = O`` (:func:`first_point_not_in_subgroup_by_order`,
  255-bit, kept as the reference the tests compare with).  Measured per point on one
  core: ``bn254_g2`` 170 µs (definition: 305), ``bls12_381_g1`` 75 µs (205),
  ``bls12_381_g2`` 122 µs (705).  From :data:`SUBGROUP_PARALLEL_MIN_POINTS` bases on,
  the bases are split among the kernel threads (Python threads, ``nogil`` kernels, as
  in :mod:`workers.msm.pippenger`).  ``bn254_g1`` has cofactor 1: every point of the
  curve is in the subgroup, and the callers skip this check for it.

Scalar multiplications here use the XYZZ formulas of :mod:`workers.msm.xyzz`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
from numba import njit

from workers.fields.generic import (
    element_mont,
    fe_add,
    fe_conj,
    fe_equal,
    fe_is_zero,
    fe_load,
    fe_mul,
    fe_neg,
    fe_sqr,
)
from workers.fields.mont4 import kernel_threads
from workers.msm.curve import kernel_curve, mont_rows
from workers.msm.xyzz import dbl, madd
from workers.params import CURVES

# --- checks -----------------------------------------------------------------------------------


@njit(cache=True)
def _first_off_curve(bases, b, f):  # noqa: ANN001
    """First row ``x‖y`` (Montgomery form) with ``y² ≠ x³ + b``, or −1; zero rows pass."""
    e = bases.shape[1] // 2
    for i in range(bases.shape[0]):
        x = fe_load(bases, i, 0, f)
        y = fe_load(bases, i, e, f)
        if fe_is_zero(x) and fe_is_zero(y):
            continue
        rhs = fe_add(fe_mul(fe_sqr(x, f), x, f), b, f)
        if not fe_equal(fe_sqr(y, f), rhs):
            return i
    return -1


@njit(cache=True)
def _first_not_in_subgroup(bases, order, f):  # noqa: ANN001
    """First row (on the curve, Montgomery form) with ``[order]P ≠ O``, or −1; zero rows pass.

    ``order`` is the group order as four ``uint64`` limbs; left-to-right
    double-and-add in XYZZ coordinates.
    """
    e = bases.shape[1] // 2
    top = 255
    while top > 0 and (order[top >> 6] >> np.uint64(top & 63)) & np.uint64(1) == 0:
        top -= 1
    for i in range(bases.shape[0]):
        x = fe_load(bases, i, 0, f)
        y = fe_load(bases, i, e, f)
        if fe_is_zero(x) and fe_is_zero(y):
            continue
        acc = (x, y, f[2], f[2])
        for bit in range(top - 1, -1, -1):
            acc = dbl(acc, f)
            if (order[bit >> 6] >> np.uint64(bit & 63)) & np.uint64(1):
                acc = madd(acc, x, y, f)
        if not fe_is_zero(acc[2]):
            return i
    return -1


@njit(cache=True, nogil=True)
def _first_failing_endomorphism(bases, k, top, negate, conj, cx, cy, f):  # noqa: ANN001
    """First row (on the curve, Montgomery form) with ``[k]P ≠ ±σ(P)``, or −1; zero rows pass.

    ``σ(x, y) = (x̄·cx, ȳ·cy)`` (``x̄`` the conjugate when ``conj``, else ``x``);
    ``k`` has bits ``top … 0`` in four ``uint64`` limbs; ``negate`` compares with ``−σ(P)``.
    ``[k]P`` by double-and-add in XYZZ, compared projectively: ``X = σx·ZZ``, ``Y = σy·ZZZ``.
    """
    e = bases.shape[1] // 2
    for i in range(bases.shape[0]):
        x = fe_load(bases, i, 0, f)
        y = fe_load(bases, i, e, f)
        if fe_is_zero(x) and fe_is_zero(y):
            continue
        acc = (x, y, f[2], f[2])
        for bit in range(top - 1, -1, -1):
            acc = dbl(acc, f)
            if (k[bit >> 6] >> np.uint64(bit & 63)) & np.uint64(1):
                acc = madd(acc, x, y, f)
        sx = fe_mul(fe_conj(x, f) if conj else x, cx, f)
        sy = fe_mul(fe_conj(y, f) if conj else y, cy, f)
        if negate:
            sy = fe_neg(sy, f)
        ax, ay, zz, zzz = acc
        if fe_is_zero(zz):
            return i
        if not (fe_equal(ax, fe_mul(sx, zz, f)) and fe_equal(ay, fe_mul(sy, zzz, f))):
            return i
    return -1


# --- Python side ------------------------------------------------------------------------------

SUBGROUP_PARALLEL_MIN_POINTS = 256
"""From this many bases on, the subgroup test splits them among the kernel threads."""
BN254_X = 4965661367192848881
"""The BN254 seed ``x`` (``p = 36x⁴ + 36x³ + 24x² + 6x + 1``)."""


def _fp2_pow(a: tuple[int, int], e: int, p: int) -> tuple[int, int]:
    from workers.reference import f_mul

    result = (1, 0)
    while e:
        if e & 1:
            result = f_mul(result, a, p)
        a = f_mul(a, a, p)
        e >>= 1
    return result


@cache
def subgroup_test(curve: str) -> tuple[int, bool, bool, object, object]:
    """The endomorphism membership test of ``curve``: ``(k, negate, conj, cx, cy)``.

    ``P`` is in the order-``r`` subgroup iff ``[k]P = ±σ(P)`` with ``σ`` as in
    :func:`_first_failing_endomorphism`:

    * ``bn254_g2``: ``ψ(P) = [6x²]P``, ``ψ(x, y) = (x̄·ξ^((p−1)/3), ȳ·ξ^((p−1)/2))``,
      ``ξ = 9 + u`` (El Housni, Guillevic and Piellard, "Co-factor clearing and subgroup
      membership testing on pairing-friendly curves", ePrint 2022/352, §4);
    * ``bls12_381_g1``: ``φ(P) = −[x²]P``, ``φ(x, y) = (β·x, y)`` with ``β`` the cube root
      of unity of EIP-2537 (M. Scott, "A note on group membership tests for G1, G2 and GT
      on BLS pairing-friendly curves", ePrint 2021/1130, §4; EIP-2537's
      ``fast_subgroup_checks``);
    * ``bls12_381_g2``: ``ψ(P) = [x]P = −[|x|]P`` (``x < 0``), ``ψ(x, y) =
      (x̄/(1+u)^((p−1)/3), ȳ/(1+u)^((p−1)/2))`` (Scott, ibid.; EIP-2537).

    The tests agree with ``[r]P = O`` (:func:`_first_not_in_subgroup`) on subgroup
    points and on random points of the whole curve (``tests/workers/test_msm_curves.py``).
    """
    from workers.params import BLS12_381_X
    from workers.reference import f_inv

    params = CURVES[curve]
    p = params.base_modulus
    if curve == "bn254_g2":
        xi = (9, 1)
        return (
            6 * BN254_X**2,
            False,
            True,
            _fp2_pow(xi, (p - 1) // 3, p),
            _fp2_pow(xi, (p - 1) // 2, p),
        )
    if curve == "bls12_381_g1":
        beta = int(
            "793479390729215512621379701633421447060886740281060493010456487427281649075476305"
            "620758731620350"
        )
        return (BLS12_381_X**2, True, False, beta, 1)
    if curve == "bls12_381_g2":
        return (
            -BLS12_381_X,
            True,
            True,
            f_inv(_fp2_pow((1, 1), (p - 1) // 3, p), p),
            f_inv(_fp2_pow((1, 1), (p - 1) // 2, p), p),
        )
    raise ValueError(f"no endomorphism subgroup test for {curve}")


def first_point_off_curve(curve: str, bases: np.ndarray) -> int:
    """Index of the first base not on ``curve``, or −1.

    ``bases``: ``(n, 2, words)`` canonical limbs (or anything reshaping to
    ``(n, 2·words)``).  The point at infinity (all zeros) counts as on the
    curve.  Coordinates must already be known to be below the base field modulus.
    """
    kc = kernel_curve(curve)
    return int(_first_off_curve(mont_rows(kc, bases), kc.b, kc.f))


def first_point_not_in_subgroup(curve: str, bases: np.ndarray) -> int:
    """Index of the first base (on the curve) outside the order-``r`` subgroup, or −1.

    By the endomorphism test of :func:`subgroup_test` (a 64- to 128-bit scalar
    multiplication instead of a 255-bit one).
    """
    from workers.codec.limb_arrays import ints_to_limbs

    kc = kernel_curve(curve)
    rows = mont_rows(kc, bases)
    k, negate, conj, cx, cy = subgroup_test(curve)
    k_limbs = tuple(np.uint64(v) for v in ints_to_limbs([k])[0])
    args = (
        k_limbs,
        k.bit_length() - 1,
        negate,
        conj,
        element_mont(cx, kc.modulus),
        element_mont(cy, kc.modulus),
        kc.f,
    )
    n = rows.shape[0]
    threads = kernel_threads() if n >= SUBGROUP_PARALLEL_MIN_POINTS else 1
    if threads == 1:
        return int(_first_failing_endomorphism(rows, *args))
    bounds = [n * t // threads for t in range(threads + 1)]

    def run(t: int) -> int:
        bad = int(_first_failing_endomorphism(rows[bounds[t] : bounds[t + 1]], *args))
        return -1 if bad < 0 else bounds[t] + bad

    with ThreadPoolExecutor(max_workers=threads) as pool:
        failures = [i for i in pool.map(run, range(threads)) if i >= 0]
    return min(failures, default=-1)


def first_point_not_in_subgroup_by_order(curve: str, bases: np.ndarray) -> int:
    """:func:`first_point_not_in_subgroup` by the definition, ``[r]P = O`` (slower; tests)."""
    from workers.codec.limb_arrays import ints_to_limbs

    kc = kernel_curve(curve)
    order = tuple(np.uint64(v) for v in ints_to_limbs([CURVES[curve].order])[0])
    return int(_first_not_in_subgroup(mont_rows(kc, bases), order, kc.f))

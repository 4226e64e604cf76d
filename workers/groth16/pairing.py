"""BN254's optimal ate pairing in numba: Miller loop, final exponentiation, product checks.

The optimal ate pairing of Vercauteren ("Optimal pairings", IEEE Trans. Inf. Theory 56(1),
2010, §IV) for a BN curve with parameter ``x`` (``4965661367192848881`` for BN254): with
``Q`` in G2 (on the sextic twist ``E': y² = x³ + 3/ξ`` over ``F_p²``, ``ξ = 9 + u``) and ``P``
in G1 (``E: y² = x³ + 3`` over ``F_p``),

``e(P, Q) = (f_{6x+2,Q}(P) · l_{[6x+2]Q, π(Q)}(P) · l_{[6x+2]Q+π(Q), −π²(Q)}(P))^((p¹²−1)/r)``

where ``π`` is the ``p``-power Frobenius carried to the twist,
``π(x, y) = (x̄·ξ^((p−1)/3), ȳ·ξ^((p−1)/2))``.  The Miller loop runs in affine coordinates
on the twist: the untwisting map ``(x, y) ↦ (x·w², y·w³)`` turns the line through ``T`` with
slope ``λ`` (on the twist) into ``y_P − λ·x_P·w + (λ·x_T − y_T)·w³`` at ``P`` (Beuchat et al.,
ePrint 2010/354, §4, affine variant); vertical lines fall in a proper subfield and are
dropped, since the final exponentiation kills them.  One shared accumulator serves
several pairs (a "multi-Miller loop"), so a product of pairings costs one squaring per step
and one final exponentiation, and the slopes' denominators of all pairs are inverted together
(one inversion per step).  The final exponentiation is the easy part ``f^((p⁶−1)(p²+1))``
(a conjugate over ``f``, then the ``p²``-Frobenius) and the hard part ``(p⁴ − p² + 1)/r`` by
square-and-multiply — simpler than Scott et al.'s addition chain in ``x`` ("On the final
exponentiation for calculating pairings on ordinary elliptic curves", Pairing 2009), which
would be about twice as fast, and well inside the 30 ms a Groth16 verification may take.

The tower arithmetic is :mod:`workers.fields.tower`.  Points must already be checked: on
their curves, not infinity (a pair with infinity contributes 1 and is left out by the
callers), and ``Q`` in the order-``r`` subgroup (the ate pairing is bilinear only there).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from numba import njit

from workers.fields.generic import (
    descriptor,
    element_mont,
    fe_add,
    fe_conj,
    fe_dbl,
    fe_inv,
    fe_load,
    fe_mul,
    fe_neg,
    fe_sqr,
    fe_store,
    fe_sub,
    fe_zero,
    from_mont_rows,
    to_mont_rows,
)
from workers.fields.mont4 import load
from workers.fields.tower import (
    fp2_scale,
    fp12_conj,
    fp12_frobenius2,
    fp12_inv,
    fp12_is_one,
    fp12_mul,
    fp12_one,
    fp12_pow,
    fp12_sqr,
)
from workers.params import BN254_P, BN254_R

BN_X = 4965661367192848881
"""The BN parameter ``x`` of BN254 (``p = 36x⁴ + 36x³ + 24x² + 6x + 1``)."""
ATE_LOOP_COUNT = 6 * BN_X + 2
XI = (9, 1)
"""``ξ = 9 + u``: ``v³ = ξ`` in the tower, and the twist is ``y² = x³ + 3/ξ``."""
WORDS = 4
"""``uint64`` limbs of one ``F_p`` element."""


def _fp2_mul(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    p = BN254_P
    return ((a[0] * b[0] - a[1] * b[1]) % p, (a[0] * b[1] + a[1] * b[0]) % p)


def _fp2_pow(a: tuple[int, int], e: int) -> tuple[int, int]:
    acc = (1, 0)
    for bit in bin(e)[2:]:
        acc = _fp2_mul(acc, acc)
        if bit == "1":
            acc = _fp2_mul(acc, a)
    return acc


def _bits(e: int) -> np.ndarray:
    return np.array([int(b) for b in bin(e)[2:]], dtype=np.uint8)


@cache
def _constants() -> tuple:
    """The descriptor, the Frobenius constants and the exponent bits (built once)."""
    p = BN254_P
    frobenius = (
        element_mont(_fp2_pow(XI, (p - 1) // 3), p),
        element_mont(_fp2_pow(XI, (p - 1) // 2), p),
        element_mont(_fp2_pow(XI, (p * p - 1) // 3), p),
        element_mont(_fp2_pow(XI, (p * p - 1) // 2), p),
    )
    gammas = []
    for k in range(6):
        re, im = _fp2_pow(XI, k * (p * p - 1) // 6)
        assert im == 0  # ξ^((p²−1)/6) lies in F_p
        gammas.append(element_mont(re, p))
    hard = (p**4 - p**2 + 1) // BN254_R
    assert hard * BN254_R == p**4 - p**2 + 1
    # The loop starts at T = Q, so the leading bit of 6x + 2 is consumed by the start.
    loop_bits = _bits(ATE_LOOP_COUNT)[1:]
    return descriptor(p, 2), frobenius, tuple(gammas), loop_bits, _bits(hard)


@njit(cache=True)
def _line(lam: Any, tx: Any, ty: Any, px: Any, py: Any, f: Any) -> Any:
    """The line of slope ``λ`` through ``T`` (twist coordinates) at ``P``, in ``F_p¹²``."""
    zero = fe_zero(f)
    c0 = ((py, fe_sub(py, py, f)), zero, zero)
    c1 = (
        fe_neg(fp2_scale(lam, px, f), f),
        fe_sub(fe_mul(lam, tx, f), ty, f),
        zero,
    )
    return (c0, c1)


@njit(cache=True)
def _step(
    acc: Any, tx: Any, ty: Any, qx: Any, qy: Any, inv_dx: Any, px: Any, py: Any, f: Any
) -> tuple:
    """``acc·l_{T,Q}(P)`` and ``T + Q`` (``T ≠ ±Q``, both affine on the twist), given
    ``inv_dx = 1/(x_Q − x_T)``."""
    lam = fe_mul(fe_sub(qy, ty, f), inv_dx, f)
    acc = fp12_mul(acc, _line(lam, tx, ty, px, py, f), f)
    x3 = fe_sub(fe_sub(fe_sqr(lam, f), tx, f), qx, f)
    y3 = fe_sub(fe_mul(lam, fe_sub(tx, x3, f), f), ty, f)
    return acc, x3, y3


@njit(cache=True)
def _batch_inverse(values: np.ndarray, out: np.ndarray, f: Any) -> None:
    """``out[j] = 1/values[j]`` for rows of ``F_p²`` elements, with one inversion (Montgomery's
    trick: prefix products, one inverse, then back down)."""
    n = values.shape[0]
    prefix = fe_load(values, 0, 0, f)
    fe_store(out, 0, prefix, 0)
    for j in range(1, n):
        prefix = fe_mul(prefix, fe_load(values, j, 0, f), f)
        fe_store(out, j, prefix, 0)
    inv = fe_inv(prefix, f)
    for j in range(n - 1, 0, -1):
        fe_store(out, j, fe_mul(inv, fe_load(out, j - 1, 0, f), f), 0)
        inv = fe_mul(inv, fe_load(values, j, 0, f), f)
    fe_store(out, 0, inv, 0)


@njit(cache=True)
def _miller_loop(g1: np.ndarray, g2: np.ndarray, loop_bits: np.ndarray, frob: Any, f: Any) -> Any:
    """``Π f_{6x+2,Qᵢ}(Pᵢ)`` times the two Frobenius lines, for the Montgomery rows of ``g1``
    and ``g2``; the slopes' denominators of all pairs are inverted together at each step."""
    n = g1.shape[0]
    t = g2.copy()
    dens = np.empty((n, 4 * WORDS), dtype=np.uint64)
    invs = np.empty((n, 4 * WORDS), dtype=np.uint64)
    three = fe_add(fe_dbl(f[2], f), f[2], f)
    acc = fp12_one(f)
    for i in range(loop_bits.shape[0]):
        acc = fp12_sqr(acc, f)
        for j in range(n):
            fe_store(dens, j, fe_dbl(fe_load(t, j, 2 * WORDS, f), f), 0)
        _batch_inverse(dens, invs, f)
        for j in range(n):
            px = load(g1, j, 0)
            py = load(g1, j, WORDS)
            tx = fe_load(t, j, 0, f)
            ty = fe_load(t, j, 2 * WORDS, f)
            lam = fe_mul(fe_mul(fe_sqr(tx, f), three, f), fe_load(invs, j, 0, f), f)
            acc = fp12_mul(acc, _line(lam, tx, ty, px, py, f), f)
            x3 = fe_sub(fe_sqr(lam, f), fe_dbl(tx, f), f)
            y3 = fe_sub(fe_mul(lam, fe_sub(tx, x3, f), f), ty, f)
            fe_store(t, j, x3, 0)
            fe_store(t, j, y3, 2 * WORDS)
        if loop_bits[i]:
            for j in range(n):
                fe_store(dens, j, fe_sub(fe_load(g2, j, 0, f), fe_load(t, j, 0, f), f), 0)
            _batch_inverse(dens, invs, f)
            for j in range(n):
                px = load(g1, j, 0)
                py = load(g1, j, WORDS)
                tx = fe_load(t, j, 0, f)
                ty = fe_load(t, j, 2 * WORDS, f)
                qx = fe_load(g2, j, 0, f)
                qy = fe_load(g2, j, 2 * WORDS, f)
                inv_dx = fe_load(invs, j, 0, f)
                acc, x3, y3 = _step(acc, tx, ty, qx, qy, inv_dx, px, py, f)
                fe_store(t, j, x3, 0)
                fe_store(t, j, y3, 2 * WORDS)
    gx1, gy1, gx2, gy2 = frob
    for j in range(n):
        px = load(g1, j, 0)
        py = load(g1, j, WORDS)
        tx = fe_load(t, j, 0, f)
        ty = fe_load(t, j, 2 * WORDS, f)
        qx = fe_load(g2, j, 0, f)
        qy = fe_load(g2, j, 2 * WORDS, f)
        q1x = fe_mul(fe_conj(qx, f), gx1, f)
        q1y = fe_mul(fe_conj(qy, f), gy1, f)
        inv_dx = fe_inv(fe_sub(q1x, tx, f), f)
        acc, tx, ty = _step(acc, tx, ty, q1x, q1y, inv_dx, px, py, f)
        q2x = fe_mul(qx, gx2, f)
        q2y = fe_neg(fe_mul(qy, gy2, f), f)
        lam = fe_mul(fe_sub(q2y, ty, f), fe_inv(fe_sub(q2x, tx, f), f), f)
        acc = fp12_mul(acc, _line(lam, tx, ty, px, py, f), f)
    return acc


@njit(cache=True)
def _final_exponentiation(acc: Any, gammas: Any, hard_bits: np.ndarray, f: Any) -> Any:
    """``acc^((p¹²−1)/r)``: ``m = acc^((p⁶−1)(p²+1))`` by a conjugate over ``acc`` and the
    ``p²``-Frobenius, then ``m^((p⁴−p²+1)/r)`` by square-and-multiply."""
    easy = fp12_mul(fp12_conj(acc, f), fp12_inv(acc, f), f)
    easy = fp12_mul(fp12_frobenius2(easy, gammas, f), easy, f)
    return fp12_pow(easy, hard_bits, f)


@njit(cache=True)
def _product_is_one(g1, g2, loop_bits, hard_bits, frob, gammas, f):  # noqa: ANN001
    acc = _miller_loop(g1, g2, loop_bits, frob, f)
    return fp12_is_one(_final_exponentiation(acc, gammas, hard_bits, f), f)


@njit(cache=True)
def _pairing_words(g1, g2, loop_bits, hard_bits, frob, gammas, f):  # noqa: ANN001
    value = _final_exponentiation(_miller_loop(g1, g2, loop_bits, frob, f), gammas, hard_bits, f)
    out = np.empty((12, WORDS), dtype=np.uint64)
    for half in range(2):
        for k in range(3):
            fe_store(out, 6 * half + 2 * k, value[half][k][0], 0)
            fe_store(out, 6 * half + 2 * k + 1, value[half][k][1], 0)
    return out


G1Ints = tuple[int, int]
G2Ints = tuple[tuple[int, int], tuple[int, int]]


def _rows(pairs: list[tuple[G1Ints, G2Ints]]) -> tuple[np.ndarray, np.ndarray]:
    mask = (1 << 64) - 1
    values1 = [v for (g1, _) in pairs for v in g1]
    values2 = [v for (_, ((x0, x1), (y0, y1))) in pairs for v in (x0, x1, y0, y1)]

    def words(values: list[int]) -> np.ndarray:
        limbs = [[(v >> (64 * k)) & mask for k in range(WORDS)] for v in values]
        return to_mont_rows(np.array(limbs, dtype=np.uint64).reshape(-1, WORDS), BN254_P)

    g1 = words(values1).reshape(len(pairs), 2 * WORDS)
    g2 = words(values2).reshape(len(pairs), 4 * WORDS)
    return np.ascontiguousarray(g1), np.ascontiguousarray(g2)


def pairing_product_is_one(pairs: list[tuple[G1Ints, G2Ints]]) -> bool:
    """Whether ``Π e(Pᵢ, Qᵢ) = 1`` for affine integer points (checked, none at infinity).

    Coordinates are canonical integers below ``p``; ``Qᵢ`` must lie in G2 (the order-``r``
    subgroup of the twist) — callers check it first.
    """
    if not pairs:
        return True
    f, frob, gammas, loop_bits, hard_bits = _constants()
    g1, g2 = _rows(pairs)
    return bool(_product_is_one(g1, g2, loop_bits, hard_bits, frob, gammas, f))


def pairing(p1: G1Ints, q2: G2Ints) -> list[int]:
    """``e(P, Q)`` as the 12 canonical integers of the tower element (see
    :func:`workers.fields.tower.to_w_coefficients` for py_ecc's basis)."""
    f, frob, gammas, loop_bits, hard_bits = _constants()
    g1, g2 = _rows([(p1, q2)])
    words = _pairing_words(g1, g2, loop_bits, hard_bits, frob, gammas, f)
    words = from_mont_rows(words, BN254_P)
    return [sum(int(w) << (64 * k) for k, w in enumerate(row)) for row in words]

"""BN254's ``F_p¹²`` as a tower over ``F_p²``, in numba: the field the pairing lands in.

* ``F_p² = F_p[u]/(u² + 1)`` — :mod:`workers.fields.generic` (``fe_*`` on pairs);
* ``F_p⁶ = F_p²[v]/(v³ − ξ)`` with ``ξ = 9 + u``: an element ``c0 + c1·v + c2·v²`` is the
  triple ``(c0, c1, c2)``;
* ``F_p¹² = F_p⁶[w]/(w² − v)``: an element ``c0 + c1·w`` is the pair ``(c0, c1)``.

So ``w⁶ = ξ`` and ``u = w⁶ − 9``: ``F_p¹²`` is also ``F_p[w]/(w¹² − 18·w⁶ + 82)``, the
representation py_ecc uses (:func:`to_w_coefficients` converts, for the tests).  This is the
tower of Beuchat et al., "High-speed software implementation of the optimal Ate pairing over
Barreto–Naehrig curves" (Pairing 2010, ePrint 2010/354, §2), and of snarkjs' ffjavascript.

Formulas: Karatsuba multiplication in ``F_p⁶`` (6 ``F_p²`` products) and ``F_p¹²`` (3 ``F_p⁶``
products), from Devegili, Ó hÉigeartaigh, Scott and Dahab, "Multiplication and squaring on
pairing-friendly fields" (ePrint 2006/471, §4); inversion through the norm to the subfield
(Beuchat et al. §3: ``F_p⁶`` by the adjugate, ``F_p¹²`` by ``(c0 − c1·w)/(c0² − c1²·v)``).

Every function takes the ``F_p²`` descriptor ``f`` of :func:`workers.fields.generic.descriptor`
(``descriptor(BN254_P, 2)``); elements are in Montgomery form.
"""

from __future__ import annotations

from typing import Any

from numba import njit

from workers.fields.generic import (
    fe_add,
    fe_dbl,
    fe_equal,
    fe_inv,
    fe_mul,
    fe_neg,
    fe_sqr,
    fe_sub,
    fe_zero,
)

Fp2 = Any
"""An ``F_p²`` element: a pair of 4-limb Montgomery tuples."""
Fp6 = tuple[Fp2, Fp2, Fp2]
Fp12 = tuple[Fp6, Fp6]


@njit(cache=True)
def fp2_mul_xi(a: Fp2, f: Any) -> Fp2:
    """``a·ξ = (9a0 − a1) + (a0 + 9a1)·u`` for ``ξ = 9 + u``."""
    a0, a1 = a
    nine_a0 = fe_add(fe_dbl(fe_dbl(fe_dbl(a0, f), f), f), a0, f)
    nine_a1 = fe_add(fe_dbl(fe_dbl(fe_dbl(a1, f), f), f), a1, f)
    return (fe_sub(nine_a0, a1, f), fe_add(a0, nine_a1, f))


@njit(cache=True)
def fp2_scale(a: Fp2, s: Any, f: Any) -> Fp2:
    """``a·s`` for ``s`` in the base field ``F_p``."""
    return (fe_mul(a[0], s, f), fe_mul(a[1], s, f))


# --- F_p⁶ ------------------------------------------------------------------------------------


@njit(cache=True)
def fp6_zero(f: Any) -> Fp6:
    zero = fe_zero(f)
    return (zero, zero, zero)


@njit(cache=True)
def fp6_one(f: Any) -> Fp6:
    zero = fe_zero(f)
    return (f[2], zero, zero)


@njit(cache=True)
def fp6_add(a: Fp6, b: Fp6, f: Any) -> Fp6:
    return (fe_add(a[0], b[0], f), fe_add(a[1], b[1], f), fe_add(a[2], b[2], f))


@njit(cache=True)
def fp6_sub(a: Fp6, b: Fp6, f: Any) -> Fp6:
    return (fe_sub(a[0], b[0], f), fe_sub(a[1], b[1], f), fe_sub(a[2], b[2], f))


@njit(cache=True)
def fp6_neg(a: Fp6, f: Any) -> Fp6:
    return (fe_neg(a[0], f), fe_neg(a[1], f), fe_neg(a[2], f))


@njit(cache=True)
def fp6_mul_v(a: Fp6, f: Any) -> Fp6:
    """``a·v = ξ·a2 + a0·v + a1·v²``."""
    return (fp2_mul_xi(a[2], f), a[0], a[1])


@njit(cache=True)
def fp6_mul(a: Fp6, b: Fp6, f: Any) -> Fp6:
    """Karatsuba over ``v³ = ξ`` (Devegili et al. §4): 6 ``F_p²`` multiplications."""
    a0, a1, a2 = a
    b0, b1, b2 = b
    t0 = fe_mul(a0, b0, f)
    t1 = fe_mul(a1, b1, f)
    t2 = fe_mul(a2, b2, f)
    s12 = fe_mul(fe_add(a1, a2, f), fe_add(b1, b2, f), f)
    s01 = fe_mul(fe_add(a0, a1, f), fe_add(b0, b1, f), f)
    s02 = fe_mul(fe_add(a0, a2, f), fe_add(b0, b2, f), f)
    c0 = fe_add(t0, fp2_mul_xi(fe_sub(fe_sub(s12, t1, f), t2, f), f), f)
    c1 = fe_add(fe_sub(fe_sub(s01, t0, f), t1, f), fp2_mul_xi(t2, f), f)
    c2 = fe_add(fe_sub(fe_sub(s02, t0, f), t2, f), t1, f)
    return (c0, c1, c2)


@njit(cache=True)
def fp6_inv(a: Fp6, f: Any) -> Fp6:
    """``a⁻¹`` by the adjugate: ``(A, B, C)/(a0·A + ξ·(a2·B + a1·C))``."""
    a0, a1, a2 = a
    big_a = fe_sub(fe_sqr(a0, f), fp2_mul_xi(fe_mul(a1, a2, f), f), f)
    big_b = fe_sub(fp2_mul_xi(fe_sqr(a2, f), f), fe_mul(a0, a1, f), f)
    big_c = fe_sub(fe_sqr(a1, f), fe_mul(a0, a2, f), f)
    norm = fe_add(
        fe_mul(a0, big_a, f),
        fp2_mul_xi(fe_add(fe_mul(a2, big_b, f), fe_mul(a1, big_c, f), f), f),
        f,
    )
    inv = fe_inv(norm, f)
    return (fe_mul(big_a, inv, f), fe_mul(big_b, inv, f), fe_mul(big_c, inv, f))


# --- F_p¹² -----------------------------------------------------------------------------------


@njit(cache=True)
def fp12_one(f: Any) -> Fp12:
    return (fp6_one(f), fp6_zero(f))


@njit(cache=True)
def fp12_mul(a: Fp12, b: Fp12, f: Any) -> Fp12:
    """Karatsuba over ``w² = v``: 3 ``F_p⁶`` multiplications."""
    t0 = fp6_mul(a[0], b[0], f)
    t1 = fp6_mul(a[1], b[1], f)
    s = fp6_mul(fp6_add(a[0], a[1], f), fp6_add(b[0], b[1], f), f)
    return (fp6_add(t0, fp6_mul_v(t1, f), f), fp6_sub(fp6_sub(s, t0, f), t1, f))


@njit(cache=True)
def fp12_sqr(a: Fp12, f: Any) -> Fp12:
    """Complex squaring: ``c0 = (a0 + a1)(a0 + v·a1) − t − v·t``, ``c1 = 2t``, ``t = a0·a1``."""
    a0, a1 = a
    t = fp6_mul(a0, a1, f)
    s = fp6_mul(fp6_add(a0, a1, f), fp6_add(a0, fp6_mul_v(a1, f), f), f)
    c0 = fp6_sub(fp6_sub(s, t, f), fp6_mul_v(t, f), f)
    return (c0, fp6_add(t, t, f))


@njit(cache=True)
def fp12_conj(a: Fp12, f: Any) -> Fp12:
    """``c0 − c1·w``: the ``p⁶``-power Frobenius (``w^(p⁶) = −w``)."""
    return (a[0], fp6_neg(a[1], f))


@njit(cache=True)
def fp12_inv(a: Fp12, f: Any) -> Fp12:
    """``(c0 − c1·w)/(c0² − v·c1²)``."""
    norm = fp6_sub(fp6_mul(a[0], a[0], f), fp6_mul_v(fp6_mul(a[1], a[1], f), f), f)
    inv = fp6_inv(norm, f)
    return (fp6_mul(a[0], inv, f), fp6_neg(fp6_mul(a[1], inv, f), f))


@njit(cache=True)
def fp12_frobenius2(a: Fp12, gammas: Any, f: Any) -> Fp12:
    """``a^(p²)``: the ``F_p²`` coefficient of ``w^k`` times ``γ_k = ξ^(k(p²−1)/6)`` (in ``F_p``).

    ``gammas[k]`` is ``γ_k`` in Montgomery form; ``c^(p²) = c`` for ``c`` in ``F_p²``.
    """
    c0 = (
        fp2_scale(a[0][0], gammas[0], f),
        fp2_scale(a[0][1], gammas[2], f),
        fp2_scale(a[0][2], gammas[4], f),
    )
    c1 = (
        fp2_scale(a[1][0], gammas[1], f),
        fp2_scale(a[1][1], gammas[3], f),
        fp2_scale(a[1][2], gammas[5], f),
    )
    return (c0, c1)


@njit(cache=True)
def fp12_is_one(a: Fp12, f: Any) -> bool:
    one = fp12_one(f)
    same = True
    for half in range(2):
        for k in range(3):
            same = same & fe_equal(a[half][k], one[half][k])
    return same


@njit(cache=True)
def fp12_pow(a: Fp12, bits: Any, f: Any) -> Fp12:
    """``a^e`` by square-and-multiply over ``bits``, the exponent's bits, most significant first."""
    acc = fp12_one(f)
    for i in range(bits.shape[0]):
        acc = fp12_sqr(acc, f)
        if bits[i]:
            acc = fp12_mul(acc, a, f)
    return acc


def to_w_coefficients(c: list[int]) -> list[int]:
    """A tower element's 12 canonical ``F_p`` integers → its coefficients over ``1, w, …, w¹¹``.

    ``c`` is ordered ``[c0.c0.re, c0.c0.im, c0.c1.re, …, c1.c2.im]`` (``F_p¹²`` half, then
    ``F_p⁶`` coefficient, then ``F_p²`` real/imaginary part).  With ``v = w²`` and
    ``u = w⁶ − 9``, the ``F_p²`` coefficient ``a + b·u`` of ``w^k`` (``k = 2j + half``) gives
    ``(a − 9b)·w^k + b·w^(k+6)``; the result is not reduced modulo ``p``.
    """
    out = [0] * 12
    for half in range(2):
        for j in range(3):
            k = 2 * j + half
            re, im = c[6 * half + 2 * j], c[6 * half + 2 * j + 1]
            out[k] += re - 9 * im
            out[k + 6] += im
    return out

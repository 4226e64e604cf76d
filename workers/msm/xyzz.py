"""Short-Weierstrass point formulas for ``a = 0`` curves in XYZZ coordinates, over any field.

A point is held as ``(X, Y, ZZ, ZZZ)`` with ``x = X/ZZ``, ``y = Y/ZZZ`` and
``ZZ³ = ZZZ²``; ``ZZ = 0`` is the point at infinity.  The formulas are those of
the Explicit-Formulas Database (D. J. Bernstein and T. Lange,
https://hyperelliptic.org/EFD/g1p/auto-shortw-xyzz.html) for ``a = 0``:

* :func:`madd` — ``madd-2008-s``, bucket + affine base, 8M + 2S;
* :func:`add` — ``add-2008-s``, 12M + 2S;
* :func:`mdbl` — ``mdbl-2008-s-1``, an affine point doubled, 4M + 3S;
* :func:`dbl` — ``dbl-2008-s-1``, 6M + 3S with ``a = 0``.

XYZZ suits the bucket method: the mixed addition, by far the commonest
operation, is cheaper than in Jacobian coordinates (8M + 2S against 7M + 4S
with a harder doubling case) and the exceptional cases are easy to test.
Every addition checks for them, as a bucket sum must: an empty summand
(``ZZ = 0``), the same point twice (it doubles) and ``P + (−P)`` (it empties).

The formulas are written once over the element operations ``fe_*`` of
:mod:`workers.fields.generic`, which numba resolves at compile time for each
element type (``F_p`` on four or six limbs, ``F_p²`` over either), so BN254 G1,
BLS12-381 G1, BN254 G2 and BLS12-381 G2 each get their own specialisation of
the same source.  ``f`` is the field descriptor of :func:`workers.fields.generic.descriptor`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from workers.fields.generic import (
    fe_add,
    fe_dbl,
    fe_inv,
    fe_is_zero,
    fe_load,
    fe_mul,
    fe_sqr,
    fe_store,
    fe_sub,
    fe_zero,
)

Element = Any
"""A field element: a limb tuple of ``F_p`` or a pair of them for ``F_p²``."""
Field = tuple
"""A field descriptor ``(p, p', one)`` (:func:`workers.fields.generic.descriptor`)."""
Xyzz = tuple[Element, Element, Element, Element]
"""A point ``(X, Y, ZZ, ZZZ)`` in Montgomery form; ``ZZ = 0`` is infinity."""


@njit(cache=True)
def infinity(f: Field) -> Xyzz:
    """The point at infinity ``(0, 0, 0, 0)`` of the element type of ``f``."""
    z = fe_zero(f)
    return (z, z, z, z)


@njit(cache=True)
def mdbl(x: Element, y: Element, f: Field) -> Xyzz:
    """``2·(x, y)`` for an affine point (``mdbl-2008-s-1``)."""
    u = fe_dbl(y, f)
    v = fe_sqr(u, f)
    w = fe_mul(u, v, f)
    s = fe_mul(x, v, f)
    xx = fe_sqr(x, f)
    m = fe_add(fe_dbl(xx, f), xx, f)
    x3 = fe_sub(fe_sqr(m, f), fe_dbl(s, f), f)
    y3 = fe_sub(fe_mul(m, fe_sub(s, x3, f), f), fe_mul(w, y, f), f)
    return (x3, y3, v, w)


@njit(cache=True)
def dbl(pt: Xyzz, f: Field) -> Xyzz:
    """``2·P`` (``dbl-2008-s-1``); infinity (``ZZ = 0``) stays infinity."""
    x1, y1, zz1, zzz1 = pt
    u = fe_dbl(y1, f)
    v = fe_sqr(u, f)
    w = fe_mul(u, v, f)
    s = fe_mul(x1, v, f)
    xx = fe_sqr(x1, f)
    m = fe_add(fe_dbl(xx, f), xx, f)
    x3 = fe_sub(fe_sqr(m, f), fe_dbl(s, f), f)
    y3 = fe_sub(fe_mul(m, fe_sub(s, x3, f), f), fe_mul(w, y1, f), f)
    return (x3, y3, fe_mul(v, zz1, f), fe_mul(w, zzz1, f))


@njit(cache=True)
def madd(pt: Xyzz, x2: Element, y2: Element, f: Field) -> Xyzz:
    """``P + (x2, y2)`` for an affine, finite ``(x2, y2)`` (``madd-2008-s``)."""
    x1, y1, zz1, zzz1 = pt
    if fe_is_zero(zz1):
        return (x2, y2, f[2], f[2])
    u2 = fe_mul(x2, zz1, f)
    s2 = fe_mul(y2, zzz1, f)
    h = fe_sub(u2, x1, f)
    r = fe_sub(s2, y1, f)
    if fe_is_zero(h):
        if fe_is_zero(r):
            return mdbl(x2, y2, f)
        return infinity(f)
    hh = fe_sqr(h, f)
    hhh = fe_mul(h, hh, f)
    q = fe_mul(x1, hh, f)
    x3 = fe_sub(fe_sub(fe_sqr(r, f), hhh, f), fe_dbl(q, f), f)
    y3 = fe_sub(fe_mul(r, fe_sub(q, x3, f), f), fe_mul(y1, hhh, f), f)
    return (x3, y3, fe_mul(zz1, hh, f), fe_mul(zzz1, hhh, f))


@njit(cache=True)
def add(pt1: Xyzz, pt2: Xyzz, f: Field) -> Xyzz:
    """``P1 + P2`` (``add-2008-s``), with every exceptional case."""
    x1, y1, zz1, zzz1 = pt1
    x2, y2, zz2, zzz2 = pt2
    if fe_is_zero(zz1):
        return pt2
    if fe_is_zero(zz2):
        return pt1
    u1 = fe_mul(x1, zz2, f)
    u2 = fe_mul(x2, zz1, f)
    s1 = fe_mul(y1, zzz2, f)
    s2 = fe_mul(y2, zzz1, f)
    h = fe_sub(u2, u1, f)
    r = fe_sub(s2, s1, f)
    if fe_is_zero(h):
        if fe_is_zero(r):
            return dbl(pt1, f)
        return infinity(f)
    hh = fe_sqr(h, f)
    hhh = fe_mul(h, hh, f)
    q = fe_mul(u1, hh, f)
    x3 = fe_sub(fe_sub(fe_sqr(r, f), hhh, f), fe_dbl(q, f), f)
    y3 = fe_sub(fe_mul(r, fe_sub(q, x3, f), f), fe_mul(s1, hhh, f), f)
    zz3 = fe_mul(fe_mul(zz1, zz2, f), hh, f)
    zzz3 = fe_mul(fe_mul(zzz1, zzz2, f), hhh, f)
    return (x3, y3, zz3, zzz3)


@njit(cache=True, inline="always")
def load_xyzz(arr: np.ndarray, i: int, e: int, f: Field) -> Xyzz:
    """The XYZZ point in row ``i`` of ``arr``: four elements of ``e`` words each."""
    return (
        fe_load(arr, i, 0, f),
        fe_load(arr, i, e, f),
        fe_load(arr, i, 2 * e, f),
        fe_load(arr, i, 3 * e, f),
    )


@njit(cache=True, inline="always")
def store_xyzz(arr: np.ndarray, i: int, pt: Xyzz, e: int) -> None:
    """Write the XYZZ point ``pt`` to row ``i`` of ``arr`` (elements of ``e`` words)."""
    fe_store(arr, i, pt[0], 0)
    fe_store(arr, i, pt[1], e)
    fe_store(arr, i, pt[2], 2 * e)
    fe_store(arr, i, pt[3], 3 * e)


@njit(cache=True)
def to_affine(pt: Xyzz, e: int, f: Field) -> np.ndarray:
    """``(X/ZZ, Y/ZZZ)`` as a ``(2, e)`` array in Montgomery form, zeros for infinity."""
    out = np.zeros((2, e), dtype=np.uint64)
    x, y, zz, zzz = pt
    if not fe_is_zero(zz):
        fe_store(out, 0, fe_mul(x, fe_inv(zz, f), f), 0)
        fe_store(out, 1, fe_mul(y, fe_inv(zzz, f), f), 0)
    return out

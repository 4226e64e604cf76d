"""Bucket accumulation of Pippenger's method: XYZZ buckets, or batch-affine ones.

For each window ``w`` of a range ``w0 ≤ w < w1`` every term adds ``±Pᵢ`` to
bucket ``|dᵢ,w|`` (the signed digits of :mod:`workers.msm.digits`), then the
window sum ``S_w = Σ_j j·B_j`` is formed with two running sums from the top
bucket down (``2 · 2^(c−1)`` additions) — the bucket method of Bernstein,
Doumen, Lange and Oosterwijk ("Faster batch forgery identification",
INDOCRYPT 2012, §4) for Pippenger's algorithm (FOCS 1976).  The windows of a
range share one bucket array, so disjoint ranges run on different threads
(:mod:`workers.msm.pippenger`); :func:`combine_windows` then forms
``Σ_w 2^(w·c)·S_w`` by Horner's rule.

Two ways to fill the buckets, with the same arguments and results:

* :func:`window_sums_xyzz`: buckets in XYZZ coordinates, one mixed addition
  ``madd-2008-s`` (8M + 2S) per term (:mod:`workers.msm.xyzz`).
* :func:`window_sums_batch_affine`: buckets kept *affine*, where
  ``(x1, y1) + (x2, y2)`` needs ``λ = (y2 − y1)/(x2 − x1)``,
  ``x3 = λ² − x1 − x2`` and ``y3 = λ(x1 − x3) − y1`` (1M + 1S + the division);
  the divisions of a batch of :data:`BATCH` independent additions share one
  field inversion by Montgomery's simultaneous inversion (P. L. Montgomery,
  "Speeding the Pollard and elliptic curve methods of factorization",
  *Math. Comp.* 48 (1987), §10.3.1): prefix products of the denominators (1M
  each), one inversion, two multiplications per element on the way back —
  about 5M + 1S a term against 8M + 2S, the trick of gnark-crypto's
  ``msm_batch_affine`` and of Barretenberg for large MSMs.  A bucket takes at
  most one addition per batch (the additions of a batch must be independent),
  so a term whose bucket is already busy in the batch — or whose base has the
  bucket's ``x`` (a doubling or ``P + (−P)``, which affine addition cannot do)
  — goes to a second, XYZZ bucket array instead, with every special case.  At
  the end of a window each bucket is the sum of its affine and XYZZ parts.

Array layout: ``bases`` is ``(n, 2e)``, ``x‖y`` in Montgomery form with ``e``
words per element, all finite; ``scalars`` is ``(n, 4)`` canonical limbs;
``window_sums`` is ``(W, 4e)``, one XYZZ point per window.  See
``docs/architecture.md`` §5.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workers.fields.generic import (
    fe_equal,
    fe_inv,
    fe_load,
    fe_mul,
    fe_neg,
    fe_sqr,
    fe_store,
    fe_sub,
)
from workers.msm.digits import carries_into, next_digit
from workers.msm.xyzz import (
    Field,
    Xyzz,
    add,
    dbl,
    infinity,
    load_xyzz,
    madd,
    store_xyzz,
    to_affine,
)

BATCH = 256
"""Affine additions per shared inversion (a bucket is touched at most once per batch)."""


@njit(cache=True)
def _running_sums(buckets: np.ndarray, n_buckets: int, e: int, f: Field) -> Xyzz:
    """``Σ_j (j + 1)·B_j`` over XYZZ buckets, by two running sums from the top bucket down."""
    running = infinity(f)
    total = infinity(f)
    for j in range(n_buckets - 1, -1, -1):
        running = add(running, load_xyzz(buckets, j, e, f), f)
        total = add(total, running, f)
    return total


@njit(cache=True, nogil=True)
def window_sums_xyzz(
    bases: np.ndarray,
    scalars: np.ndarray,
    c: int,
    w0: int,
    w1: int,
    window_sums: np.ndarray,
    f: Field,
) -> None:
    """``S_w`` of windows ``w0 ≤ w < w1`` into rows ``w`` of ``window_sums``, XYZZ buckets."""
    n = bases.shape[0]
    e = bases.shape[1] // 2
    n_buckets = 1 << (c - 1)
    buckets = np.empty((n_buckets, 4 * e), dtype=np.uint64)
    carries = carries_into(scalars, c, w0)
    for w in range(w0, w1):
        buckets[:, 2 * e : 3 * e] = 0  # ZZ = 0: every bucket empty
        for i in range(n):
            digit, carries[i] = next_digit(scalars, i, w, c, carries[i])
            if digit == 0:
                continue
            x = fe_load(bases, i, 0, f)
            y = fe_load(bases, i, e, f)
            if digit < 0:
                y = fe_neg(y, f)
                digit = -digit
            j = digit - 1
            store_xyzz(buckets, j, madd(load_xyzz(buckets, j, e, f), x, y, f), e)
        store_xyzz(window_sums, w, _running_sums(buckets, n_buckets, e, f), e)


@njit(cache=True)
def _flush(bases, aff, batch_terms, batch_buckets, batch_neg, m, prefix, dens, f):  # noqa: ANN001
    """Apply the ``m`` pending affine additions ``aff[j] += ±bases[i]`` with one inversion."""
    e = bases.shape[1] // 2
    acc = f[2]
    for k in range(m):
        d = fe_sub(fe_load(bases, batch_terms[k], 0, f), fe_load(aff, batch_buckets[k], 0, f), f)
        fe_store(dens, k, d, 0)
        fe_store(prefix, k, acc, 0)
        acc = fe_mul(acc, d, f)
    inv = fe_inv(acc, f)
    for k in range(m - 1, -1, -1):
        i = batch_terms[k]
        j = batch_buckets[k]
        d_inv = fe_mul(inv, fe_load(prefix, k, 0, f), f)
        inv = fe_mul(inv, fe_load(dens, k, 0, f), f)
        x1 = fe_load(aff, j, 0, f)
        y1 = fe_load(aff, j, e, f)
        x2 = fe_load(bases, i, 0, f)
        y2 = fe_load(bases, i, e, f)
        if batch_neg[k]:
            y2 = fe_neg(y2, f)
        lam = fe_mul(fe_sub(y2, y1, f), d_inv, f)
        x3 = fe_sub(fe_sub(fe_sqr(lam, f), x1, f), x2, f)
        y3 = fe_sub(fe_mul(lam, fe_sub(x1, x3, f), f), y1, f)
        fe_store(aff, j, x3, 0)
        fe_store(aff, j, y3, e)


@njit(cache=True, nogil=True)
def window_sums_batch_affine(
    bases: np.ndarray,
    scalars: np.ndarray,
    c: int,
    w0: int,
    w1: int,
    window_sums: np.ndarray,
    f: Field,
) -> None:
    """:func:`window_sums_xyzz` with batch-affine bucket accumulation (module doc)."""
    n = bases.shape[0]
    e = bases.shape[1] // 2
    n_buckets = 1 << (c - 1)
    aff = np.empty((n_buckets, 2 * e), dtype=np.uint64)
    full = np.zeros(n_buckets, dtype=np.bool_)
    stamp = np.full(n_buckets, -1, dtype=np.int64)
    xyzz = np.empty((n_buckets, 4 * e), dtype=np.uint64)
    batch_terms = np.empty(BATCH, dtype=np.int64)
    batch_buckets = np.empty(BATCH, dtype=np.int64)
    batch_neg = np.empty(BATCH, dtype=np.bool_)
    prefix = np.empty((BATCH, e), dtype=np.uint64)
    dens = np.empty((BATCH, e), dtype=np.uint64)
    carries = carries_into(scalars, c, w0)
    batch_id = 0
    for w in range(w0, w1):
        full[:] = False
        xyzz[:, 2 * e : 3 * e] = 0  # ZZ = 0: every XYZZ bucket empty
        m = 0
        for i in range(n):
            digit, carries[i] = next_digit(scalars, i, w, c, carries[i])
            if digit == 0:
                continue
            negative = digit < 0
            j = (-digit if negative else digit) - 1
            if not full[j]:  # an empty bucket takes the base as it is
                x = fe_load(bases, i, 0, f)
                y = fe_load(bases, i, e, f)
                fe_store(aff, j, x, 0)
                fe_store(aff, j, fe_neg(y, f) if negative else y, e)
                full[j] = True
                continue
            x = fe_load(bases, i, 0, f)
            if stamp[j] == batch_id or fe_equal(x, fe_load(aff, j, 0, f)):
                y = fe_load(bases, i, e, f)
                if negative:
                    y = fe_neg(y, f)
                store_xyzz(xyzz, j, madd(load_xyzz(xyzz, j, e, f), x, y, f), e)
                continue
            stamp[j] = batch_id
            batch_terms[m] = i
            batch_buckets[m] = j
            batch_neg[m] = negative
            m += 1
            if m == BATCH:
                _flush(bases, aff, batch_terms, batch_buckets, batch_neg, m, prefix, dens, f)
                m = 0
                batch_id += 1
        if m:
            _flush(bases, aff, batch_terms, batch_buckets, batch_neg, m, prefix, dens, f)
            m = 0
        batch_id += 1
        for j in range(n_buckets):
            if full[j]:
                bucket = madd(
                    load_xyzz(xyzz, j, e, f), fe_load(aff, j, 0, f), fe_load(aff, j, e, f), f
                )
                store_xyzz(xyzz, j, bucket, e)
        store_xyzz(window_sums, w, _running_sums(xyzz, n_buckets, e, f), e)


@njit(cache=True)
def combine_windows(window_sums: np.ndarray, c: int, f: Field) -> np.ndarray:
    """``Σ_w 2^(w·c)·S_w`` by Horner's rule, as an affine ``(2, e)`` array in Montgomery form."""
    e = window_sums.shape[1] // 4
    windows = window_sums.shape[0]
    acc = load_xyzz(window_sums, windows - 1, e, f)
    for w in range(windows - 2, -1, -1):
        for _ in range(c):
            acc = dbl(acc, f)
        acc = add(acc, load_xyzz(window_sums, w, e, f), f)
    return to_affine(acc, e, f)

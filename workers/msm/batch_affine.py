"""Batch-affine bucket accumulation for :mod:`workers.msm.generic` (Montgomery's trick).

In the bucket method every term adds a base to one bucket.  With buckets in
XYZZ coordinates that is a mixed addition of 8M + 2S.  Kept *affine*, the
addition ``(x1, y1) + (x2, y2)`` needs ``λ = (y2 − y1)/(x2 − x1)``, then
``x3 = λ² − x1 − x2`` and ``y3 = λ(x1 − x3) − y1`` (1M + 1S + the division);
the divisions of a whole batch of independent additions share one field
inversion by Montgomery's simultaneous-inversion trick (P. L. Montgomery,
"Speeding the Pollard and elliptic curve methods of factorization",
*Math. Comp.* 48 (1987), §10.3.1): prefix products ``dₖ`` of the denominators
(1M each), one inversion, and two multiplications per element on the way
back — 3M per addition plus ``inversion / batch``.  In total ≈ 5M + 1S
against 8M + 2S, the trick used by gnark-crypto (``msm_batch_affine``) and by
Aztec/Barretenberg for large MSMs.

Rules of a batch (:data:`BATCH`): a bucket takes at most one addition per
batch (the additions of a batch must be independent), so a term whose bucket
is already busy — or whose base has the same ``x`` as the bucket (a doubling
or ``P + (−P)``, which affine addition cannot do) — goes into a second,
XYZZ bucket array instead (the exceptional path of :mod:`workers.msm.generic`,
with every special case).  An empty affine bucket just takes the base.  At the
end of the window each bucket is the sum of its affine and XYZZ parts and the
running-sum reduction is the same as in :func:`workers.msm.generic._window_sums`.
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
from workers.msm.generic import _inf, _load_xyzz, _store_xyzz, _xyzz_add, _xyzz_madd
from workers.msm.pippenger import _next_digit

BATCH = 256
"""Additions per shared inversion (a bucket is touched at most once per batch)."""


@njit(cache=True)
def _flush(bases, aff, batch_terms, batch_buckets, batch_neg, m, prefix, dens, f):  # noqa: ANN001
    """Apply the ``m`` pending affine additions ``aff[j] += ±base[i]`` with one inversion."""
    e = bases.shape[1] // 2
    acc = f[2]
    for k in range(m):
        i = batch_terms[k]
        j = batch_buckets[k]
        d = fe_sub(fe_load(bases, i, 0, f), fe_load(aff, j, 0, f), f)
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
def window_sums_batch_affine(bases, scalars, c, w0, w1, window_sums, f) -> None:  # noqa: ANN001
    """:func:`workers.msm.generic._window_sums` with batch-affine bucket accumulation."""
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
    carries = np.zeros(n, dtype=np.int64)
    if w0 > 0:
        for i in range(n):
            carry = 0
            for w in range(w0):
                _, carry = _next_digit(scalars, i, w, c, carry)
            carries[i] = carry
    batch_id = 0
    for w in range(w0, w1):
        full[:] = False
        xyzz[:, 2 * e : 3 * e] = 0  # ZZ = 0: every XYZZ bucket empty
        m = 0
        for i in range(n):
            digit, carries[i] = _next_digit(scalars, i, w, c, carries[i])
            if digit == 0:
                continue
            negative = digit < 0
            j = (-digit if negative else digit) - 1
            if not full[j]:
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
                _store_xyzz(xyzz, j, _xyzz_madd(_load_xyzz(xyzz, j, e, f), x, y, f), e)
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
        running = _inf(f)
        total = _inf(f)
        for j in range(n_buckets - 1, -1, -1):
            bucket = _load_xyzz(xyzz, j, e, f)
            if full[j]:
                bucket = _xyzz_madd(bucket, fe_load(aff, j, 0, f), fe_load(aff, j, e, f), f)
            running = _xyzz_add(running, bucket, f)
            total = _xyzz_add(total, running, f)
        _store_xyzz(window_sums, w, total, e)

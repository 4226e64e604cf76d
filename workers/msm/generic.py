"""The bucket-method MSM on every ``a = 0`` curve beyond BN254 G1, generic over the field.

``bls12_381_g1`` (``F_p`` on six limbs), ``bn254_g2`` and ``bls12_381_g2``
(``F_p²`` over four and six limbs) share this one module: the point formulas,
the bucket method and the checks are written with the generic element
operations of :mod:`workers.fields.generic`, and numba compiles one specialisation
per element type.  The algorithm is exactly that of :mod:`workers.msm.pippenger`
(Pippenger's bucket method with signed ``c``-bit digits, XYZZ buckets with the
EFD formulas ``madd-2008-s``/``add-2008-s``/``dbl-2008-s-1``, Horner over the
windows, windows split among threads — Python threads here, see
:func:`_bucket_msm_parallel`); see its docstring for the references
and the window rule.  ``bn254_g1`` keeps its own hand-specialised module.

Window rule here: the cost model of :func:`workers.msm.pippenger.msm_cost` (its
ratio of mixed to general additions is the same over ``F_p²``, where every
multiplication costs three), with ``c`` capped so that one thread's bucket
array stays within :data:`BUCKET_BYTES_MAX` (4 MiB: ``c ≤ 15`` on G1 of
BLS12-381, ``≤ 15`` on BN254 G2, ``≤ 14`` on BLS12-381 G2).

Bucket accumulation: from :data:`BATCH_AFFINE_MIN_TERMS` terms on, the buckets
are kept affine and filled by batches of additions sharing one inversion
(:mod:`workers.msm.batch_affine`, Montgomery's trick); below, in XYZZ.  Measured
on one core (process CPU time, 2^16 terms): ``bls12_381_g1`` 0.95 → 0.81 s,
``bn254_g2`` 1.44 → 1.07 s, ``bls12_381_g2`` 2.82 → 2.18 s; at 2^12 it is a wash
(0.08 s either way) and at 2^10 no better, hence the 2^13 threshold.  The
window rule's optimum did not move (at 2^16 on ``bls12_381_g1``: c = 11, 12,
13, 14 → 0.86, 0.83, 0.81, 0.88 s; the rule picks 13).

Array layout (the binary layout of docs/architecture.md §4): a coordinate is ``D·N``
words — ``D = 1`` or ``2`` components of ``N = 4`` or ``6`` limbs, ``c0``
first — and a base row is ``x‖y``; infinity is all zeros.

The input checks (on the curve, in the subgroup) are in :mod:`workers.msm.checks`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from workers.fields.generic import (
    descriptor,
    element_words,
    fe_add,
    fe_dbl,
    fe_inv,
    fe_is_zero,
    fe_load,
    fe_mul,
    fe_neg,
    fe_sqr,
    fe_store,
    fe_sub,
    fe_zero,
    montgomery_rows,
)
from workers.fields.mont4 import kernel_threads, to_mont_into
from workers.fields.mont6 import from_mont6_into, to_mont6_into
from workers.msm.pippenger import (
    C_MAX,
    PARALLEL_MIN_TERMS,
    SCALAR_BITS,
    _next_digit,
    msm_cost,
    n_windows,
)
from workers.params import CURVES, CurveParams

BATCH_AFFINE_MIN_TERMS = 1 << 13
"""From this many terms on, buckets accumulate batch-affine (:mod:`workers.msm.batch_affine`)."""
BUCKET_BYTES_MAX = 4 << 20
"""Largest bucket array of one thread (about a server core's L2 cache)."""


# --- the window rule ------------------------------------------------------------------------


def max_window(point_words: int) -> int:
    """Largest ``c`` whose ``2^(c−1)`` XYZZ buckets of ``2·point_words`` words fit the cap."""
    bucket_bytes = 8 * 2 * point_words
    c = 1
    while c < C_MAX and (1 << c) * bucket_bytes <= BUCKET_BYTES_MAX:
        c += 1
    return c


def window_size_ext(n: int, point_words: int, threads: int = 1) -> int:
    """The ``c`` minimising the busiest thread's modelled cost, up to :func:`max_window`."""

    def cost(c: int) -> tuple[int, int]:
        windows = n_windows(c, SCALAR_BITS)
        per_window = msm_cost(n, c, SCALAR_BITS) // windows
        return (-(-windows // threads) * per_window, c)

    return min(range(1, max_window(point_words) + 1), key=cost)


# --- XYZZ point arithmetic (a = 0), generic over the element type --------------------------


@njit(cache=True)
def _inf(f):  # noqa: ANN001
    z = fe_zero(f)
    return (z, z, z, z)


@njit(cache=True)
def _xyzz_mdbl(x, y, f):  # noqa: ANN001
    """``2·(x, y)`` for an affine point (mdbl-2008-s-1)."""
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
def _xyzz_dbl(pt, f):  # noqa: ANN001
    """``2·P`` (dbl-2008-s-1); infinity (``ZZ = 0``) stays infinity."""
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
def _xyzz_madd(pt, x2, y2, f):  # noqa: ANN001
    """``P + (x2, y2)`` for an affine, finite ``(x2, y2)`` (madd-2008-s)."""
    x1, y1, zz1, zzz1 = pt
    if fe_is_zero(zz1):
        return (x2, y2, f[2], f[2])
    u2 = fe_mul(x2, zz1, f)
    s2 = fe_mul(y2, zzz1, f)
    h = fe_sub(u2, x1, f)
    r = fe_sub(s2, y1, f)
    if fe_is_zero(h):
        if fe_is_zero(r):
            return _xyzz_mdbl(x2, y2, f)
        return _inf(f)
    hh = fe_sqr(h, f)
    hhh = fe_mul(h, hh, f)
    q = fe_mul(x1, hh, f)
    x3 = fe_sub(fe_sub(fe_sqr(r, f), hhh, f), fe_dbl(q, f), f)
    y3 = fe_sub(fe_mul(r, fe_sub(q, x3, f), f), fe_mul(y1, hhh, f), f)
    return (x3, y3, fe_mul(zz1, hh, f), fe_mul(zzz1, hhh, f))


@njit(cache=True)
def _xyzz_add(pt1, pt2, f):  # noqa: ANN001
    """``P1 + P2`` in XYZZ (add-2008-s), with every exceptional case."""
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
            return _xyzz_dbl(pt1, f)
        return _inf(f)
    hh = fe_sqr(h, f)
    hhh = fe_mul(h, hh, f)
    q = fe_mul(u1, hh, f)
    x3 = fe_sub(fe_sub(fe_sqr(r, f), hhh, f), fe_dbl(q, f), f)
    y3 = fe_sub(fe_mul(r, fe_sub(q, x3, f), f), fe_mul(s1, hhh, f), f)
    zz3 = fe_mul(fe_mul(zz1, zz2, f), hh, f)
    zzz3 = fe_mul(fe_mul(zzz1, zzz2, f), hhh, f)
    return (x3, y3, zz3, zzz3)


@njit(cache=True)
def _load_xyzz(arr, i, e, f):  # noqa: ANN001
    return (
        fe_load(arr, i, 0, f),
        fe_load(arr, i, e, f),
        fe_load(arr, i, 2 * e, f),
        fe_load(arr, i, 3 * e, f),
    )


@njit(cache=True)
def _store_xyzz(arr, i, pt, e):  # noqa: ANN001
    fe_store(arr, i, pt[0], 0)
    fe_store(arr, i, pt[1], e)
    fe_store(arr, i, pt[2], 2 * e)
    fe_store(arr, i, pt[3], 3 * e)


# --- the bucket method ----------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _window_sums(bases, scalars, c, w0, w1, window_sums, f):  # noqa: ANN001
    """``S_w = Σ_j j·B_j`` of windows ``w0 ≤ w < w1``
    (see :func:`workers.msm.pippenger._window_sums`).

    ``bases`` is ``(n, 2e)``: ``x‖y`` in Montgomery form, all finite, ``e``
    words per element; ``scalars`` ``(n, 4)`` canonical limbs.
    """
    n = bases.shape[0]
    e = bases.shape[1] // 2
    n_buckets = 1 << (c - 1)
    buckets = np.empty((n_buckets, 4 * e), dtype=np.uint64)
    carries = np.zeros(n, dtype=np.int64)
    if w0 > 0:
        for i in range(n):
            carry = 0
            for w in range(w0):
                _, carry = _next_digit(scalars, i, w, c, carry)
            carries[i] = carry
    for w in range(w0, w1):
        buckets[:, 2 * e : 3 * e] = 0  # ZZ = 0: every bucket empty
        for i in range(n):
            digit, carries[i] = _next_digit(scalars, i, w, c, carries[i])
            if digit == 0:
                continue
            x = fe_load(bases, i, 0, f)
            y = fe_load(bases, i, e, f)
            if digit < 0:
                y = fe_neg(y, f)
                digit = -digit
            j = digit - 1
            _store_xyzz(buckets, j, _xyzz_madd(_load_xyzz(buckets, j, e, f), x, y, f), e)
        running = _inf(f)
        total = _inf(f)
        for j in range(n_buckets - 1, -1, -1):
            running = _xyzz_add(running, _load_xyzz(buckets, j, e, f), f)
            total = _xyzz_add(total, running, f)
        _store_xyzz(window_sums, w, total, e)


@njit(cache=True)
def _combine_windows(window_sums, c, f):  # noqa: ANN001
    """``Σ_w 2^(w·c)·S_w`` by Horner's rule, as an affine ``(2, e)`` array in Montgomery form."""
    e = window_sums.shape[1] // 4
    windows = window_sums.shape[0]
    acc = _load_xyzz(window_sums, windows - 1, e, f)
    for w in range(windows - 2, -1, -1):
        for _ in range(c):
            acc = _xyzz_dbl(acc, f)
        acc = _xyzz_add(acc, _load_xyzz(window_sums, w, e, f), f)
    out = np.zeros((2, e), dtype=np.uint64)
    x, y, zz, zzz = acc
    if not fe_is_zero(zz):
        fe_store(out, 0, fe_mul(x, fe_inv(zz, f), f), 0)
        fe_store(out, 1, fe_mul(y, fe_inv(zzz, f), f), 0)
    return out


def _window_kernel(batch_affine: bool):
    if batch_affine:
        from workers.msm.batch_affine import window_sums_batch_affine

        return window_sums_batch_affine
    return _window_sums


def _bucket_msm(
    bases: np.ndarray,
    scalars: np.ndarray,
    c: int,
    windows: int,
    f: tuple,
    batch_affine: bool = False,
) -> np.ndarray:
    """One thread: the affine sum (Montgomery form; zeros = infinity)."""
    window_sums = np.zeros((windows, 2 * bases.shape[1]), dtype=np.uint64)
    _window_kernel(batch_affine)(bases, scalars, c, 0, windows, window_sums, f)
    return _combine_windows(window_sums, c, f)


def _bucket_msm_parallel(
    bases: np.ndarray,
    scalars: np.ndarray,
    c: int,
    windows: int,
    threads: int,
    f: tuple,
    batch_affine: bool = False,
) -> np.ndarray:
    """:func:`_bucket_msm` with the windows split into ``threads`` contiguous ranges.

    Each range runs :func:`_window_sums` (compiled ``nogil``) on its own Python
    thread with its own bucket array.  (A numba ``prange`` would be the natural
    tool, as in :mod:`workers.msm.pippenger`, but parfors cannot pass the tuple field
    descriptor into their outlined gufunc.)
    """
    window_sums = np.zeros((windows, 2 * bases.shape[1]), dtype=np.uint64)
    kernel = _window_kernel(batch_affine)

    def run(t: int) -> None:
        w0, w1 = t * windows // threads, (t + 1) * windows // threads
        kernel(bases, scalars, c, w0, w1, window_sums, f)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, range(threads)))
    return _combine_windows(window_sums, c, f)


# --- Python side ------------------------------------------------------------------------------


def _field_of(params: CurveParams) -> tuple[tuple, int, int]:
    """``(descriptor, limbs per base-field element, words per curve-field element)``."""
    limbs = montgomery_rows(params.base_modulus).shape[1]
    return (
        descriptor(params.base_modulus, params.degree),
        limbs,
        element_words(params.base_modulus, params.degree),
    )


def _to_mont(words: np.ndarray, modulus: int) -> np.ndarray:
    """Every base-field limb group of ``words`` (rows of whole elements) into Montgomery form."""
    consts = montgomery_rows(modulus)
    limbs = consts.shape[1]
    out = np.empty_like(words)
    convert = to_mont_into if limbs == 4 else to_mont6_into
    convert(out.reshape(-1, limbs), np.ascontiguousarray(words).reshape(-1, limbs), consts)
    return out


def _from_mont(words: np.ndarray, modulus: int) -> np.ndarray:
    from workers.fields.mont4 import from_mont_into

    consts = montgomery_rows(modulus)
    limbs = consts.shape[1]
    out = np.empty_like(words)
    convert = from_mont_into if limbs == 4 else from_mont6_into
    convert(out.reshape(-1, limbs), np.ascontiguousarray(words).reshape(-1, limbs), consts)
    return out


def _element_mont(value: object, params: CurveParams) -> object:
    """A curve-field constant (int, or ``(c0, c1)``) as a Montgomery-form element tuple."""
    from workers.codec.limb_arrays import ints_to_limbs

    limbs = montgomery_rows(params.base_modulus).shape[1]
    parts = list(value) if isinstance(value, tuple) else [value]
    row = _to_mont(ints_to_limbs(parts, limbs), params.base_modulus)
    elements = [tuple(np.uint64(v) for v in r) for r in row]
    return tuple(elements) if params.degree == 2 else elements[0]


def _kernel_rows(bases: np.ndarray, words: int) -> np.ndarray:
    return np.require(bases, dtype=np.uint64, requirements=["C", "W"]).reshape(-1, 2 * words)


def msm_limbs_ext(
    curve: str, bases: np.ndarray, scalars: np.ndarray, batch_affine: bool | None = None
) -> np.ndarray:
    """Unchecked MSM on ``curve``: the affine sum as a canonical ``(2, words)`` array.

    ``bases``: ``(n, 2, words)`` canonical coordinates (or anything reshaping to
    ``(n, 2·words)``), infinity as zeros; ``scalars``: ``(n, 4)`` below ``2^256``.
    All zeros in the result is infinity.
    """
    params = CURVES[curve]
    f, _, words = _field_of(params)
    bases = _kernel_rows(bases, words)
    scalars = np.require(scalars, dtype=np.uint64, requirements=["C", "W"]).reshape(-1, 4)
    if bases.shape[0] != scalars.shape[0]:
        raise ValueError(f"{bases.shape[0]} bases but {scalars.shape[0]} scalars")
    keep = bases.any(axis=1) & scalars.any(axis=1)
    if not keep.any():
        return np.zeros((2, words), dtype=np.uint64)
    if not keep.all():
        bases, scalars = bases[keep], scalars[keep]
    bases_mont = _to_mont(bases, params.base_modulus)
    n = bases.shape[0]
    threads = kernel_threads() if n >= PARALLEL_MIN_TERMS else 1
    c = window_size_ext(n, 2 * words, threads)
    windows = n_windows(c)
    if batch_affine is None:
        batch_affine = n >= BATCH_AFFINE_MIN_TERMS
    if threads > 1:
        threads = min(threads, windows)
        result = _bucket_msm_parallel(bases_mont, scalars, c, windows, threads, f, batch_affine)
    else:
        result = _bucket_msm(bases_mont, scalars, c, windows, f, batch_affine)
    return _from_mont(result, params.base_modulus)

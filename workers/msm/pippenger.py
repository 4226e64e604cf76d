"""Multi-scalar multiplication ``Q = Σ kᵢ·Pᵢ`` on BN254 G1 by the bucket method, in numba.

(The entry points :func:`msm_limbs` and :func:`first_point_off_curve` also
serve the other curves by handing them to :mod:`workers.msm.generic`, the same
algorithm written over generic field operations.  This module keeps the
hand-specialised BN254 G1 code with XYZZ buckets, which :func:`msm_limbs` runs
below :data:`BATCH_AFFINE_TERMS` terms; from there on, batch-affine bucket
accumulation (:mod:`workers.msm.batch_affine`) is faster and BN254 G1 goes there too.)

The algorithm is Pippenger's (N. Pippenger, "On the evaluation of powers and
related problems", FOCS 1976) in the "bucket method" form used for elliptic
curves by Bernstein, Doumen, Lange and Oosterwijk ("Faster batch forgery
identification", INDOCRYPT 2012) and laid out in arkworks
(``ec/src/scalar_mul/variable_base``) and gnark-crypto (``ecc/bn254/multiexp.go``):

1. Drop the terms with a zero scalar or a base at infinity.
2. Cut every scalar into ``W = ⌈(256 + 1) / c⌉`` *signed* digits of ``c`` bits,
   ``kᵢ = Σ_w dᵢ,w · 2^(w·c)`` with ``dᵢ,w ∈ (−2^(c−1), 2^(c−1)]``: a raw
   window value above ``2^(c−1)`` becomes ``raw − 2^c`` and carries one into
   the next window.  A negative digit adds ``−Pᵢ = (x, −y)``, which is free,
   so each window needs only ``2^(c−1)`` buckets instead of ``2^c − 1``
   (G. Botrel and Y. El Housni, "EdMSM", IACR ePrint 2022/1400).  Counting 256
   bits (not 254) makes any 256-bit scalar come out right, at no extra cost
   for the usual ``c``.
3. For each window ``w``: every term adds ``±Pᵢ`` to bucket ``|dᵢ,w|`` (one
   mixed addition), then ``S_w = Σ_j j·B_j`` is formed with two running sums
   from the top bucket down (``2 · 2^(c−1)`` additions).
4. ``Q = Σ_w 2^(w·c)·S_w`` by Horner's rule from the top window (``c``
   doublings per window).

Buckets are kept in XYZZ coordinates (``x = X/ZZ``, ``y = Y/ZZZ``,
``ZZ³ = ZZZ²``), which make the mixed addition bucket + affine base cost
8M + 2S: formulas ``madd-2008-s``, ``add-2008-s``, ``mdbl-2008-s-1`` and
``dbl-2008-s-1`` of the Explicit-Formulas Database (Bernstein and Lange,
``g1p/auto/shortw/xyzz``), for ``a = 0``.  Every addition checks for the
exceptional cases of a bucket sum: an empty bucket (``ZZ = 0``), the same
point twice (it doubles) and ``P + (−P)`` (it empties).

Window rule (:func:`window_size`).  With ``n`` terms the cost in field
multiplications is modelled as ::

    cost(c) = ⌈257 / c⌉ · (n · MADD_COST + 2 · 2^(c−1) · ADD_COST)

(``MADD_COST = 10``, ``ADD_COST = 14``; the ``≈ 256`` doublings of step 4 and
the ``W·n`` digit extractions do not depend much on ``c`` and are left out),
and ``c`` is the minimiser over ``1 ≤ c ≤ C_MAX``: the first term shrinks
like ``1/c`` and the second grows like ``2^c / c``, so ``c`` grows roughly
like ``log₂ n − log₂ log₂ n`` (``c = 6`` for ``n = 2^8``, ``13`` for ``2^16``,
``16`` for ``2^20``) — the same trade-off gnark-crypto's ``bestC`` makes.
Measured on one core at ``n = 2^18``, the wall time is ``cost(c) × 26…30 ns``
for ``c`` = 12…16, and the model's choice was within 3 % of the best
measured ``c``.  ``C_MAX = 16`` caps the bucket array at
``2^15 × 128`` bytes = 4 MiB, about a server core's L2 cache; wider windows
would pay cache misses the model does not count.

Threads (:func:`workers.fields.mont4.kernel_threads`): from
:data:`PARALLEL_MIN_TERMS` terms on, the windows are split into contiguous
ranges, one per thread, each with its own bucket array
(:func:`_bucket_msm_parallel`; the carry into a range's first window is
recomputed from the digits below it), and the window rule then counts
``⌈W / threads⌉`` windows.  One thread runs :func:`_bucket_msm`, which has no
parallel region at all.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from workers.codec.limb_arrays import limbs_to_point
from workers.fields.mont4 import (
    Fe,
    add,
    double,
    equal,
    from_mont,
    is_zero,
    kernel_threads,
    load,
    mont_inv,
    mont_mul,
    montgomery_constants,
    neg,
    store,
    sub,
    to_mont_into,
    to_montgomery_int,
    unpack,
)
from workers.params import CURVES

SCALAR_BITS = 256
"""Scalars are read as 256-bit integers (canonical ones are below ``r < 2^254``)."""
C_MAX = 16
MADD_COST = 10
"""Field multiplications of a mixed XYZZ addition (8M + 2S)."""
ADD_COST = 14
"""Field multiplications of a general XYZZ addition (12M + 2S)."""
BATCH_AFFINE_TERMS = 1 << 13
"""From this many terms on, :func:`msm_limbs` hands ``bn254_g1`` to the batch-affine bucket
accumulation of :mod:`workers.msm.batch_affine` too (2^16 on one core: 0.49 → 0.40 s CPU)."""
PARALLEL_MIN_TERMS = 1 << 12
"""Below this many terms an MSM runs on one thread (a parallel region costs more than it saves)."""

Xyzz = tuple[Fe, Fe, Fe, Fe]
"""A point in XYZZ coordinates ``(X, Y, ZZ, ZZZ)``, Montgomery form; ``ZZ = 0`` is infinity."""

_ZERO = np.uint64(0)
_FE0 = (_ZERO, _ZERO, _ZERO, _ZERO)
_INF = (_FE0, _FE0, _FE0, _FE0)


# --- the window rule ------------------------------------------------------------------------


def n_windows(c: int, scalar_bits: int = SCALAR_BITS) -> int:
    """Signed ``c``-bit digits for ``scalar_bits``-bit scalars (plus one bit for the carry)."""
    return -(-(scalar_bits + 1) // c)


def msm_cost(n: int, c: int, scalar_bits: int = SCALAR_BITS) -> int:
    """Modelled field multiplications of an ``n``-term MSM with window ``c`` (see module doc)."""
    return n_windows(c, scalar_bits) * (n * MADD_COST + 2 * (1 << (c - 1)) * ADD_COST)


def window_size(n: int, scalar_bits: int = SCALAR_BITS, threads: int = 1) -> int:
    """The window ``c`` minimising :func:`msm_cost` (the smaller one on ties).

    With ``threads > 1`` the windows are shared out among the threads, so the
    wall time follows the busiest thread: ``⌈W / threads⌉`` windows' worth of
    the cost instead of ``W``'s (the same rule for one thread).
    """

    def cost(c: int) -> tuple[int, int]:
        windows = n_windows(c, scalar_bits)
        per_window = msm_cost(n, c, scalar_bits) // windows
        return (-(-windows // threads) * per_window, c)

    return min(range(1, C_MAX + 1), key=cost)


# --- XYZZ point arithmetic (a = 0) ----------------------------------------------------------


@njit(cache=True)
def _xyzz_mdbl(x: Fe, y: Fe, p: Fe, pinv: np.uint64) -> Xyzz:
    """``2·(x, y)`` for an affine point (mdbl-2008-s-1)."""
    u = double(y, p)
    v = mont_mul(u, u, p, pinv)
    w = mont_mul(u, v, p, pinv)
    s = mont_mul(x, v, p, pinv)
    xx = mont_mul(x, x, p, pinv)
    m = add(double(xx, p), xx, p)
    x3 = sub(mont_mul(m, m, p, pinv), double(s, p), p)
    y3 = sub(mont_mul(m, sub(s, x3, p), p, pinv), mont_mul(w, y, p, pinv), p)
    return (x3, y3, v, w)


@njit(cache=True)
def _xyzz_dbl(pt: Xyzz, p: Fe, pinv: np.uint64) -> Xyzz:
    """``2·P`` (dbl-2008-s-1); infinity (``ZZ = 0``) stays infinity."""
    x1, y1, zz1, zzz1 = pt
    u = double(y1, p)
    v = mont_mul(u, u, p, pinv)
    w = mont_mul(u, v, p, pinv)
    s = mont_mul(x1, v, p, pinv)
    xx = mont_mul(x1, x1, p, pinv)
    m = add(double(xx, p), xx, p)
    x3 = sub(mont_mul(m, m, p, pinv), double(s, p), p)
    y3 = sub(mont_mul(m, sub(s, x3, p), p, pinv), mont_mul(w, y1, p, pinv), p)
    return (x3, y3, mont_mul(v, zz1, p, pinv), mont_mul(w, zzz1, p, pinv))


@njit(cache=True)
def _xyzz_madd(pt: Xyzz, x2: Fe, y2: Fe, p: Fe, pinv: np.uint64, one: Fe) -> Xyzz:
    """``P + (x2, y2)`` for an affine, finite ``(x2, y2)`` (madd-2008-s)."""
    x1, y1, zz1, zzz1 = pt
    if is_zero(zz1):
        return (x2, y2, one, one)
    u2 = mont_mul(x2, zz1, p, pinv)
    s2 = mont_mul(y2, zzz1, p, pinv)
    h = sub(u2, x1, p)
    r = sub(s2, y1, p)
    if is_zero(h):
        if is_zero(r):
            return _xyzz_mdbl(x2, y2, p, pinv)
        return _INF
    hh = mont_mul(h, h, p, pinv)
    hhh = mont_mul(h, hh, p, pinv)
    q = mont_mul(x1, hh, p, pinv)
    x3 = sub(sub(mont_mul(r, r, p, pinv), hhh, p), double(q, p), p)
    y3 = sub(mont_mul(r, sub(q, x3, p), p, pinv), mont_mul(y1, hhh, p, pinv), p)
    return (x3, y3, mont_mul(zz1, hh, p, pinv), mont_mul(zzz1, hhh, p, pinv))


@njit(cache=True)
def _xyzz_add(pt1: Xyzz, pt2: Xyzz, p: Fe, pinv: np.uint64) -> Xyzz:
    """``P1 + P2`` in XYZZ (add-2008-s), with every exceptional case."""
    x1, y1, zz1, zzz1 = pt1
    x2, y2, zz2, zzz2 = pt2
    if is_zero(zz1):
        return pt2
    if is_zero(zz2):
        return pt1
    u1 = mont_mul(x1, zz2, p, pinv)
    u2 = mont_mul(x2, zz1, p, pinv)
    s1 = mont_mul(y1, zzz2, p, pinv)
    s2 = mont_mul(y2, zzz1, p, pinv)
    h = sub(u2, u1, p)
    r = sub(s2, s1, p)
    if is_zero(h):
        if is_zero(r):
            return _xyzz_dbl(pt1, p, pinv)
        return _INF
    hh = mont_mul(h, h, p, pinv)
    hhh = mont_mul(h, hh, p, pinv)
    q = mont_mul(u1, hh, p, pinv)
    x3 = sub(sub(mont_mul(r, r, p, pinv), hhh, p), double(q, p), p)
    y3 = sub(mont_mul(r, sub(q, x3, p), p, pinv), mont_mul(s1, hhh, p, pinv), p)
    zz3 = mont_mul(mont_mul(zz1, zz2, p, pinv), hh, p, pinv)
    zzz3 = mont_mul(mont_mul(zzz1, zzz2, p, pinv), hhh, p, pinv)
    return (x3, y3, zz3, zzz3)


@njit(cache=True, inline="always")
def _load_xyzz(arr: np.ndarray, i: int) -> Xyzz:
    return (load(arr, i, 0), load(arr, i, 4), load(arr, i, 8), load(arr, i, 12))


@njit(cache=True, inline="always")
def _store_xyzz(arr: np.ndarray, i: int, pt: Xyzz) -> None:
    store(arr, i, pt[0], 0)
    store(arr, i, pt[1], 4)
    store(arr, i, pt[2], 8)
    store(arr, i, pt[3], 12)


# --- signed digits ----------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _next_digit(scalars: np.ndarray, i: int, w: int, c: int, carry: int) -> tuple[int, int]:
    """Signed digit ``w`` of scalar ``i`` and the carry into digit ``w + 1``."""
    offset = w * c
    q = offset >> 6
    raw = carry
    if q < scalars.shape[1]:
        r = offset & 63
        bits = scalars[i, q] >> np.uint64(r)
        if r + c > 64 and q + 1 < scalars.shape[1]:
            bits |= scalars[i, q + 1] << np.uint64(64 - r)
        raw += np.int64(bits & np.uint64((1 << c) - 1))
    if raw > (1 << (c - 1)):
        return raw - (1 << c), 1
    return raw, 0


@njit(cache=True)
def signed_digits(scalars: np.ndarray, c: int, windows: int) -> np.ndarray:
    """All signed digits as a ``(windows, n)`` ``int64`` array (for tests and inspection)."""
    n = scalars.shape[0]
    digits = np.zeros((windows, n), dtype=np.int64)
    for i in range(n):
        carry = 0
        for w in range(windows):
            digits[w, i], carry = _next_digit(scalars, i, w, c, carry)
    return digits


# --- the bucket method ----------------------------------------------------------------------


@njit(cache=True)
def _window_sums(
    bases: np.ndarray,
    scalars: np.ndarray,
    c: int,
    w0: int,
    w1: int,
    window_sums: np.ndarray,
    consts: np.ndarray,
) -> None:
    """``S_w = Σ_j j·B_j`` of windows ``w0 ≤ w < w1`` into rows ``w`` of ``window_sums``.

    ``bases`` is ``(n, 8)``: ``x‖y`` in Montgomery form, all finite;
    ``scalars`` is ``(n, 4)`` canonical limbs.  The carries into window ``w0``
    are recomputed from the digits below it (integer work only), so disjoint
    window ranges can run on different threads, each with its own buckets.
    """
    p, pinv, _, one = unpack(consts)
    n = bases.shape[0]
    n_buckets = 1 << (c - 1)
    buckets = np.empty((n_buckets, 16), dtype=np.uint64)
    carries = np.zeros(n, dtype=np.int64)
    if w0 > 0:
        for i in range(n):
            carry = 0
            for w in range(w0):
                _, carry = _next_digit(scalars, i, w, c, carry)
            carries[i] = carry
    for w in range(w0, w1):
        buckets[:, 8:12] = 0  # ZZ = 0: every bucket empty
        for i in range(n):
            digit, carries[i] = _next_digit(scalars, i, w, c, carries[i])
            if digit == 0:
                continue
            x = load(bases, i, 0)
            y = load(bases, i, 4)
            if digit < 0:
                y = neg(y, p)
                digit = -digit
            j = digit - 1
            _store_xyzz(buckets, j, _xyzz_madd(_load_xyzz(buckets, j), x, y, p, pinv, one))
        running = _INF
        total = _INF
        for j in range(n_buckets - 1, -1, -1):
            running = _xyzz_add(running, _load_xyzz(buckets, j), p, pinv)
            total = _xyzz_add(total, running, p, pinv)
        _store_xyzz(window_sums, w, total)


@njit(cache=True)
def _combine_windows(window_sums: np.ndarray, c: int, consts: np.ndarray) -> np.ndarray:
    """``Σ_w 2^(w·c)·S_w`` by Horner's rule, as an affine ``(2, 4)`` canonical array."""
    p, pinv, _, _ = unpack(consts)
    windows = window_sums.shape[0]
    acc = _load_xyzz(window_sums, windows - 1)
    for w in range(windows - 2, -1, -1):
        for _ in range(c):
            acc = _xyzz_dbl(acc, p, pinv)
        acc = _xyzz_add(acc, _load_xyzz(window_sums, w), p, pinv)
    return _xyzz_to_affine(acc, consts)


@njit(cache=True)
def _bucket_msm(
    bases: np.ndarray, scalars: np.ndarray, c: int, windows: int, consts: np.ndarray
) -> np.ndarray:
    """``Σ scalars[i]·bases[i]`` as an affine ``(2, 4)`` canonical array (zeros = infinity).

    One thread; inputs as in :func:`_window_sums`.
    """
    window_sums = np.zeros((windows, 16), dtype=np.uint64)
    _window_sums(bases, scalars, c, 0, windows, window_sums, consts)
    return _combine_windows(window_sums, c, consts)


@njit(cache=True, parallel=True)
def _bucket_msm_parallel(
    bases: np.ndarray,
    scalars: np.ndarray,
    c: int,
    windows: int,
    threads: int,
    consts: np.ndarray,
) -> np.ndarray:
    """:func:`_bucket_msm` with the windows split into ``threads`` contiguous ranges.

    Every window's buckets are independent of the others', so each range runs
    on its own thread with its own bucket array; the Horner combination of the
    window sums stays serial (``≈ 256`` doublings).
    """
    window_sums = np.zeros((windows, 16), dtype=np.uint64)
    for t in prange(threads):
        _window_sums(
            bases,
            scalars,
            c,
            t * windows // threads,
            (t + 1) * windows // threads,
            window_sums,
            consts,
        )
    return _combine_windows(window_sums, c, consts)


@njit(cache=True)
def _xyzz_to_affine(pt: Xyzz, consts: np.ndarray) -> np.ndarray:
    """``(X/ZZ, Y/ZZZ)`` as canonical limbs, or zeros for infinity."""
    p, pinv, _, one = unpack(consts)
    out = np.zeros((2, 4), dtype=np.uint64)
    x, y, zz, zzz = pt
    if is_zero(zz):
        return out
    x_affine = mont_mul(x, mont_inv(zz, p, pinv, one), p, pinv)
    y_affine = mont_mul(y, mont_inv(zzz, p, pinv, one), p, pinv)
    store(out, 0, from_mont(x_affine, p, pinv))
    store(out, 1, from_mont(y_affine, p, pinv))
    return out


def _as_kernel_array(arr: np.ndarray) -> np.ndarray:
    """C-contiguous, writable ``uint64`` (a copy only if needed): one compiled kernel type.

    Arrays from Ray's object store are read-only, and numba compiles a separate
    specialisation for read-only arguments.
    """
    return np.require(arr, dtype=np.uint64, requirements=["C", "W"])


@njit(cache=True)
def _first_off_curve(bases: np.ndarray, a: np.ndarray, b: np.ndarray, consts: np.ndarray) -> int:
    """Index of the first row ``x‖y`` of ``bases`` (canonical) with ``y² ≠ x³ + a·x + b``, or −1.

    All-zero rows (infinity) pass; ``a`` and ``b`` are ``(1, 4)`` Montgomery rows.
    """
    p, pinv, r2, _ = unpack(consts)
    a_m = load(a, 0)
    b_m = load(b, 0)
    for i in range(bases.shape[0]):
        x = load(bases, i, 0)
        y = load(bases, i, 4)
        if is_zero(x) and is_zero(y):
            continue
        x = mont_mul(x, r2, p, pinv)
        y = mont_mul(y, r2, p, pinv)
        rhs = mont_mul(add(mont_mul(x, x, p, pinv), a_m, p), x, p, pinv)
        if not equal(mont_mul(y, y, p, pinv), add(rhs, b_m, p)):
            return i
    return -1


def first_point_off_curve(curve: str, bases: np.ndarray) -> int:
    """Index of the first base of ``(n, 2, 4)`` canonical limbs not on ``curve``, or −1.

    The point at infinity (all zeros) counts as on the curve.  Coordinates
    must already be known to be below the base field modulus.
    """
    params = CURVES[curve]
    if curve != "bn254_g1":
        from workers.msm.checks import first_point_off_curve_ext

        return first_point_off_curve_ext(curve, bases)
    p = params.base_modulus
    return int(
        _first_off_curve(
            _as_kernel_array(bases).reshape(-1, 8),
            to_montgomery_int(params.a, p),
            to_montgomery_int(params.b, p),
            montgomery_constants(p),
        )
    )


def msm_limbs(curve: str, bases: np.ndarray, scalars: np.ndarray) -> tuple:
    """Unchecked MSM: ``Σ scalars[i]·bases[i]`` as an affine point, ``(0, 0)`` for infinity.

    ``bases``: ``(n, 2, 4)`` ``uint64``, canonical affine coordinates on the
    curve, infinity as zeros; ``scalars``: ``(n, 4)`` ``uint64`` below
    ``2^256`` (canonical: below ``r``).  Nothing is validated here — see
    :func:`workers.api.validate_msm_input`.  The other curves go to
    :func:`workers.msm.generic.msm_limbs_ext` (bases ``(n, 2, words)``, see
    :func:`workers.codec.limb_arrays.points_to_limbs`; G2 results as ``((x0, x1), (y0, y1))``).
    """
    params = CURVES[curve]
    if curve != "bn254_g1" or np.shape(scalars)[0] >= BATCH_AFFINE_TERMS:
        from workers.msm.generic import msm_limbs_ext

        return limbs_to_point(msm_limbs_ext(curve, bases, scalars), curve)
    if params.a != 0:
        raise NotImplementedError(f"the CPU MSM handles a = 0 curves only, not {curve}")
    bases = _as_kernel_array(bases).reshape(-1, 8)
    scalars = _as_kernel_array(scalars).reshape(-1, 4)
    if bases.shape[0] != scalars.shape[0]:
        raise ValueError(f"{bases.shape[0]} bases but {scalars.shape[0]} scalars")
    keep = bases.any(axis=1) & scalars.any(axis=1)
    if not keep.any():
        return (0, 0)
    if not keep.all():
        bases, scalars = bases[keep], scalars[keep]
    consts = montgomery_constants(params.base_modulus)
    bases_mont = np.empty_like(bases)
    to_mont_into(bases_mont.reshape(-1, 4), bases.reshape(-1, 4), consts)
    n = bases.shape[0]
    threads = kernel_threads() if n >= PARALLEL_MIN_TERMS else 1
    c = window_size(n, threads=threads) if threads > 1 else window_size(n)
    windows = n_windows(c)
    if threads > 1:
        result = _bucket_msm_parallel(
            bases_mont, scalars, c, windows, min(threads, windows), consts
        )
    else:
        result = _bucket_msm(bases_mont, scalars, c, windows, consts)
    return limbs_to_point(result)

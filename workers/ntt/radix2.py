"""Number-theoretic transforms over every field of docs/architecture.md §4, in numba.

The transform (docs/architecture.md §4) of ``a`` of size ``n = 2^k`` is
``out[k] = Σ_j a[j]·ω^(j·k)`` with ``ω = g^((p−1)/n)``, natural order in and
out; the inverse is ``a[j] = n⁻¹ Σ_k out[k]·ω^(−j·k)``.  It is computed by the
iterative radix-2 decimation-in-time Cooley–Tukey algorithm (J. W. Cooley and
J. W. Tukey, "An algorithm for the machine calculation of complex Fourier
series", *Math. Comp.* 19 (1965) 297–301): a bit-reversal permutation, then
``k`` stages of butterflies ``(u, v) ↦ (u + ω·v, u − ω·v)`` over blocks of
size 2, 4, …, n (see e.g. Cormen et al., *Introduction to Algorithms*, §30.3).

Values stay canonical throughout: the twiddles are kept in Montgomery form,
and a Montgomery product of a canonical value and ``ω̄ = ω·R`` is the canonical
``v·ω`` (see :mod:`workers.fields.mont4`), so no conversion pass is needed; the
inverse's ``n⁻¹`` is one more such product per element.

Twiddles are cached per ``(field, n, inverse)`` in :data:`TWIDDLES`, one
``(n, 4)`` array laid out by stage: ``twiddles[h + j] = ω_{2h}^j`` for
``h = 1, 2, 4, …, n/2`` and ``0 ≤ j < h``, so every stage reads a contiguous
run (``twiddles[0]`` is unused).  The largest stage's run is built by
repeated multiplication, the others are subsamples of it.

A coset NTT with shift ``s`` (``out[k] = Σ_j a[j]·(s·ω^k)^j``) multiplies
``a[j]`` by ``s^j`` and transforms; its inverse divides by ``s^j`` after the
inverse transform.

The ``*_limbs`` functions are the unchecked entry points on ``(…, 4)``
``uint64`` arrays of canonical limbs; they return new arrays and leave their
inputs alone.  The one-word fields (Goldilocks, BabyBear; kernels in
:mod:`workers.fields.small`) use the same ``(…, 4)`` layout — the value in
limb 0, limbs 1–3 zero — so that every caller (the four-step dispatch, the
codec's 4-limb storage) handles every field alike; they also accept
``(…, 1)`` arrays (one word per element), which skip the padding, and return
the layout they were given.  Internally the words are gathered into a
contiguous ``uint64`` array (one pass each way, a few per cent of a 2^20
transform).  :func:`ntt_rows_limbs` and :func:`twiddle_limbs` are the two
halves of a step of the four-step algorithm used to split an NTT across
machines (:mod:`workers.cluster.plan`).

Threads (:func:`workers.fields.mont4.kernel_threads`): a 254/255-bit transform of at
least :data:`PARALLEL_MIN_SIZE` elements in all runs on several threads — a
batch of rows split by rows, a single row by :func:`_ntt_inplace_parallel`
(the bit reversal split by rows, the first stages inside per-thread blocks,
the last ``log₂ threads`` stages split by butterflies).  The one-word fields
stay on one thread (a 2^20 transform takes ≈ 45 ms).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from workers.errors import SizeNotPowerOfTwoError, UnknownFieldError
from workers.fields import small
from workers.fields.mont4 import (
    add,
    kernel_threads,
    load,
    mont_mul,
    mont_pow_small,
    montgomery_constants,
    mul_const_into,
    store,
    sub,
    to_montgomery_int,
    unpack,
)
from workers.params import FIELDS, FieldParams

TWIDDLES: dict[tuple[str, int, bool], np.ndarray] = {}
"""Twiddle tables in Montgomery form by ``(field, n, inverse)``."""
PARALLEL_MIN_SIZE = 1 << 15
"""Transforms (rows × size) smaller than this run on one thread."""


# --- kernels --------------------------------------------------------------------------------


@njit(cache=True)
def _build_twiddles(omega: np.ndarray, n: int, consts: np.ndarray) -> np.ndarray:
    """The stage-ordered table of powers of the primitive ``n``-th root ``omega`` (Montgomery)."""
    p, pinv, _, one = unpack(consts)
    twiddles = np.empty((n, 4), dtype=np.uint64)
    store(twiddles, 0, one)
    half = n // 2
    if half == 0:
        return twiddles
    w = one
    w_step = load(omega, 0)
    for j in range(half):  # last stage: ω_n^j
        store(twiddles, half + j, w)
        w = mont_mul(w, w_step, p, pinv)
    h = half // 2
    while h >= 1:  # ω_{2h}^j = ω_n^(j·n/(2h))
        stride = half // h
        for j in range(h):
            store(twiddles, h + j, load(twiddles, half + j * stride))
        h //= 2
    return twiddles


@njit(cache=True)
def _bit_reverse(a: np.ndarray) -> None:
    """Permute the rows of ``a`` (length a power of two) into bit-reversed order, in place."""
    n = a.shape[0]
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            for k in range(4):
                a[i, k], a[j, k] = a[j, k], a[i, k]


@njit(cache=True)
def _ntt_stages(a: np.ndarray, twiddles: np.ndarray, consts: np.ndarray) -> None:
    """Every butterfly stage of a DIT transform of ``a``, already in bit-reversed order."""
    p, pinv, _, _ = unpack(consts)
    n = a.shape[0]
    if n >= 2:  # first stage: ω_2^0 = 1, no multiplication
        for i in range(0, n, 2):
            u = load(a, i)
            v = load(a, i + 1)
            store(a, i, add(u, v, p))
            store(a, i + 1, sub(u, v, p))
    h = 2
    while h < n:
        for start in range(0, n, 2 * h):
            for j in range(h):
                w = load(twiddles, h + j)
                u = load(a, start + j)
                v = mont_mul(load(a, start + j + h), w, p, pinv)
                store(a, start + j, add(u, v, p))
                store(a, start + j + h, sub(u, v, p))
        h *= 2


@njit(cache=True)
def _ntt_inplace(a: np.ndarray, twiddles: np.ndarray, consts: np.ndarray) -> None:
    """Radix-2 DIT transform of the rows of ``a`` (canonical), natural order in and out."""
    _bit_reverse(a)
    _ntt_stages(a, twiddles, consts)


@njit(cache=True)
def _ntt_rows_inplace(rows: np.ndarray, twiddles: np.ndarray, consts: np.ndarray) -> None:
    """:func:`_ntt_inplace` on every ``rows[r]`` of a ``(m, n, 4)`` array."""
    for r in range(rows.shape[0]):
        _ntt_inplace(rows[r], twiddles, consts)


@njit(cache=True, inline="always")
def _bit_reversed(i: int, bits: int) -> int:
    r = 0
    for _ in range(bits):
        r = (r << 1) | (i & 1)
        i >>= 1
    return r


@njit(cache=True)
def _bit_reverse_range(a: np.ndarray, lo: int, hi: int) -> None:
    """The swaps of :func:`_bit_reverse` owned by rows ``lo ≤ i < hi`` (``i < rev(i)``)."""
    n = a.shape[0]
    bits = 0
    while (1 << bits) < n:
        bits += 1
    j = _bit_reversed(lo, bits)
    for i in range(lo, hi):
        if i < j:
            for k in range(4):
                a[i, k], a[j, k] = a[j, k], a[i, k]
        bit = n >> 1  # j ← rev(i + 1)
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit


@njit(cache=True)
def _butterflies(
    a: np.ndarray, twiddles: np.ndarray, h: int, lo: int, hi: int, consts: np.ndarray
) -> None:
    """Butterflies ``lo ≤ k < hi`` of the stage with half-block ``h`` (``k = block·h + j``)."""
    p, pinv, _, _ = unpack(consts)
    k = lo
    while k < hi:
        block = k // h
        j0 = k - block * h
        j1 = min(h, hi - block * h)
        start = block * 2 * h
        for j in range(j0, j1):
            w = load(twiddles, h + j)
            u = load(a, start + j)
            v = mont_mul(load(a, start + j + h), w, p, pinv)
            store(a, start + j, add(u, v, p))
            store(a, start + j + h, sub(u, v, p))
        k = block * h + j1


@njit(cache=True, parallel=True)
def _ntt_inplace_parallel(
    a: np.ndarray, twiddles: np.ndarray, parts: int, consts: np.ndarray
) -> None:
    """:func:`_ntt_inplace` on ``parts`` threads (``parts`` a power of two, ``≤ n/2``).

    The bit reversal is split by rows; the first ``log₂(n/parts)`` stages work
    inside blocks of ``m = n/parts`` rows, so each block is one thread's whole
    transform of size ``m`` (the twiddle table's stage runs do not depend on
    ``n``); each of the last ``log₂ parts`` stages is split by butterflies.
    """
    n = a.shape[0]
    m = n // parts
    for t in prange(parts):
        _bit_reverse_range(a, t * m, (t + 1) * m)
    for t in prange(parts):
        _ntt_stages(a[t * m : (t + 1) * m], twiddles, consts)
    h = m
    half = n // 2
    while h < n:
        for t in prange(parts):
            _butterflies(a, twiddles, h, t * half // parts, (t + 1) * half // parts, consts)
        h *= 2


@njit(cache=True, parallel=True)
def _ntt_rows_parallel(
    rows: np.ndarray, twiddles: np.ndarray, threads: int, consts: np.ndarray
) -> None:
    """:func:`_ntt_rows_inplace` with the rows split into ``threads`` contiguous runs."""
    m = rows.shape[0]
    for t in prange(threads):
        for r in range(t * m // threads, (t + 1) * m // threads):
            _ntt_inplace(rows[r], twiddles, consts)


def _parts(threads: int, n: int) -> int:
    """Blocks of a one-row parallel transform: the power of two ``≥ threads``, at most ``n/2``."""
    return min(1 << (threads - 1).bit_length(), n // 2)


def _transform_rows(rows: np.ndarray, twiddles: np.ndarray, consts: np.ndarray) -> None:
    """The thread policy of the ``(m, n, 4)`` transforms: serial, by rows, or inside each row."""
    m, n = rows.shape[0], rows.shape[1]
    threads = kernel_threads() if m * n >= PARALLEL_MIN_SIZE else 1
    if threads == 1:
        _ntt_rows_inplace(rows, twiddles, consts)
    elif m >= threads:
        _ntt_rows_parallel(rows, twiddles, threads, consts)
    elif n >= max(PARALLEL_MIN_SIZE, 4):
        for r in range(m):
            _ntt_inplace_parallel(rows[r], twiddles, _parts(threads, n), consts)
    else:
        _ntt_rows_parallel(rows, twiddles, m, consts)


@njit(cache=True)
def _mul_powers_rows(rows: np.ndarray, base: np.ndarray, consts: np.ndarray) -> None:
    """``rows[i][j] ← rows[i][j]·x^j`` in place for ``(m, n, 4)`` rows, ``base`` = ``x̄``."""
    p, pinv, _, one = unpack(consts)
    x = load(base, 0)
    for i in range(rows.shape[0]):
        row = rows[i]
        w = one
        for j in range(row.shape[0]):
            store(row, j, mont_mul(load(row, j), w, p, pinv))
            w = mont_mul(w, x, p, pinv)


@njit(cache=True)
def _twiddle_rows(
    out: np.ndarray,
    matrix: np.ndarray,
    omega: np.ndarray,
    n: int,
    row_offset: int,
    consts: np.ndarray,
    lo: int = 0,
    hi: int = -1,
) -> None:
    """``out[i][j] = matrix[i][j] · ω^((row_offset + i)·j)`` for rows ``[lo, hi)`` (all if
    ``hi < 0``), ``ω`` (Montgomery) of order ``n``."""
    p, pinv, _, one = unpack(consts)
    w_root = load(omega, 0)
    for i in range(lo, matrix.shape[0] if hi < 0 else hi):
        step = mont_pow_small(w_root, (row_offset + i) % n, p, pinv, one)
        w = one
        src = matrix[i]
        dst = out[i]
        for j in range(matrix.shape[1]):
            store(dst, j, mont_mul(load(src, j), w, p, pinv))
            w = mont_mul(w, step, p, pinv)


@njit(cache=True, parallel=True)
def _twiddle_rows_parallel(
    out: np.ndarray,
    matrix: np.ndarray,
    omega: np.ndarray,
    n: int,
    row_offset: int,
    threads: int,
    consts: np.ndarray,
) -> None:
    """:func:`_twiddle_rows` with the rows split into ``threads`` contiguous runs."""
    m = matrix.shape[0]
    for t in prange(threads):
        _twiddle_rows(
            out, matrix, omega, n, row_offset, consts, t * m // threads, (t + 1) * m // threads
        )


# --- entry points ---------------------------------------------------------------------------


def _field(field: str) -> FieldParams:
    try:
        return FIELDS[field]
    except KeyError:
        known = ", ".join(sorted(FIELDS))
        raise UnknownFieldError(f"unknown field {field!r}; known: {known}") from None


def _log2(n: int) -> int:
    if n < 1 or n & (n - 1):
        raise SizeNotPowerOfTwoError(f"NTT size {n} is not a power of two")
    return n.bit_length() - 1


def _small_id(field: str) -> int | None:
    """The :mod:`workers.fields.small` kernel id of a one-word field, else ``None``."""
    return small.SMALL_FIELDS.get(field)


def _words(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Limb 0 of a ``(…, 4)`` or ``(…, 1)`` array as a new contiguous array, and the width."""
    width = values.shape[-1] if values.ndim else 0
    if width not in (1, 4):
        raise ValueError(f"expected a (..., 4) or (..., 1) limb array, got shape {values.shape}")
    return np.array(values[..., 0], dtype=np.uint64, order="C", copy=True), width


def _unwords(words: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`_words`: ``(…, width)`` limbs with the words in limb 0."""
    if width == 1:
        return words[..., np.newaxis]
    out = np.zeros((*words.shape, width), dtype=np.uint64)
    out[..., 0] = words
    return out


def twiddles_for(field: str, n: int, inverse: bool = False) -> np.ndarray:
    """The cached stage-ordered twiddle table of size ``n`` (powers of ``ω`` or ``ω⁻¹``).

    ``(n, 4)`` limbs in Montgomery form for the 254/255-bit fields; ``(n,)``
    words in multiplier form (:mod:`workers.fields.small`) for the others.
    """
    key = (field, n, inverse)
    table = TWIDDLES.get(key)
    if table is None:
        params = _field(field)
        _log2(n)
        p = params.modulus
        omega = params.root_of_unity(n)
        if inverse:
            omega = pow(omega, -1, p)
        fid = _small_id(field)
        if fid is None:
            table = _build_twiddles(to_montgomery_int(omega, p), n, montgomery_constants(p))
        else:
            table = small.build_twiddles(
                small.to_multiplier(fid, omega), n, small.to_multiplier(fid, 1), fid
            )
        TWIDDLES[key] = table
    return table


def _scale_inplace(values: np.ndarray, factor: int, modulus: int) -> None:
    flat = values.reshape(-1, 4)
    constant = to_montgomery_int(factor % modulus, modulus)
    mul_const_into(flat, flat, constant, montgomery_constants(modulus))


def _check_coset(params: FieldParams, coset: int | None) -> None:
    if coset is not None and coset % params.modulus == 0:
        raise ValueError("a coset shift must be nonzero mod p")


def _ntt_words_inplace(
    field: str, fid: int, rows: np.ndarray, inverse: bool, coset: int | None
) -> None:
    """The small-field NTT of every row of a 2-D word array, in place."""
    p = small.modulus_of(fid)
    one = small.to_multiplier(fid, 1)
    size = rows.shape[1]
    if coset is not None and not inverse:
        base = small.to_multiplier(fid, coset)
        small.mul_powers_rows(rows, base, one, fid)
    small.ntt_rows_inplace(rows, twiddles_for(field, size, inverse), fid)
    if inverse and size > 1:
        n_inv = small.to_multiplier(fid, pow(size, -1, p))
        small.mul_const_inplace(rows.reshape(-1), n_inv, fid)
    if coset is not None and inverse:
        base = small.to_multiplier(fid, pow(coset, -1, p))
        small.mul_powers_rows(rows, base, one, fid)


def ntt_rows_limbs(
    field: str, matrix: np.ndarray, inverse: bool = False, coset: int | None = None
) -> np.ndarray:
    """An independent NTT (or inverse NTT) of every row of a ``(m, size, 4)`` array.

    With ``coset = s`` each row gets the coset NTT ``out[k] = Σ_j a[j]·(s·ω^k)^j``
    (or its inverse).  One-word fields also take ``(m, size, 1)``.
    """
    params = _field(field)
    _check_coset(params, coset)
    matrix = np.asarray(matrix)
    if matrix.ndim != 3:
        raise ValueError(f"expected a (rows, size, 4) limb array, got shape {matrix.shape}")
    size = matrix.shape[1]
    _log2(size)
    fid = _small_id(field)
    if fid is not None:
        words, width = _words(matrix)
        _ntt_words_inplace(field, fid, words, inverse, coset)
        return _unwords(words, width)
    out = np.array(matrix, dtype=np.uint64, order="C", copy=True)
    if out.shape[2] != 4:
        raise ValueError(f"expected a (rows, size, 4) limb array, got shape {out.shape}")
    p = params.modulus
    consts = montgomery_constants(p)
    if coset is not None and not inverse:
        _mul_powers_rows(out, to_montgomery_int(coset, p), consts)
    _transform_rows(out, twiddles_for(field, size, inverse), consts)
    if inverse and size > 1:
        _scale_inplace(out, pow(size, -1, p), p)
    if coset is not None and inverse:
        _mul_powers_rows(out, to_montgomery_int(pow(coset, -1, p), p), consts)
    return out


def ntt_limbs(
    field: str, values: np.ndarray, inverse: bool = False, coset: int | None = None
) -> np.ndarray:
    """The NTT (or inverse NTT) of a ``(n, 4)`` array of canonical limbs, ``n`` a power of two.

    ``coset = s`` gives the coset NTT (see :func:`ntt_rows_limbs`).
    """
    values = np.asarray(values, dtype=np.uint64)
    if values.ndim != 2 or values.shape[1] not in (1, 4):
        raise ValueError(f"expected a (n, 4) limb array, got shape {values.shape}")
    return ntt_rows_limbs(field, values[np.newaxis], inverse, coset)[0]


def twiddle_limbs(field: str, matrix: np.ndarray, n: int, row_offset: int) -> np.ndarray:
    """``out[i][j] = matrix[i][j] · ω_n^((row_offset + i)·j)`` for a ``(rows, cols, 4)`` array.

    ``ω_n = g^((p−1)/n)``: the four-step twiddle factors of rows
    ``row_offset, row_offset + 1, …`` of an NTT of size ``n``.
    """
    params = _field(field)
    _log2(n)
    p = params.modulus
    fid = _small_id(field)
    if fid is not None:
        matrix = np.asarray(matrix)
        if matrix.ndim != 3:
            raise ValueError(f"expected a (rows, cols, 4) limb array, got shape {matrix.shape}")
        words, width = _words(matrix)
        omega = small.to_multiplier(fid, params.root_of_unity(n))
        one = small.to_multiplier(fid, 1)
        small.twiddle_rows(words, words, omega, n, row_offset, one, fid)
        return _unwords(words, width)
    matrix = np.require(matrix, dtype=np.uint64, requirements=["C", "W"])  # see cpu_msm
    if matrix.ndim != 3 or matrix.shape[2] != 4:
        raise ValueError(f"expected a (rows, cols, 4) limb array, got shape {matrix.shape}")
    out = np.empty_like(matrix)
    omega = to_montgomery_int(params.root_of_unity(n), p)
    rows = matrix.shape[0]
    threads = min(kernel_threads(), rows) if matrix[..., 0].size >= PARALLEL_MIN_SIZE else 1
    if threads > 1:
        _twiddle_rows_parallel(out, matrix, omega, n, row_offset, threads, montgomery_constants(p))
    else:
        _twiddle_rows(out, matrix, omega, n, row_offset, montgomery_constants(p))
    return out


def scale_limbs(field: str, values: np.ndarray, factor: int) -> np.ndarray:
    """Every element of a ``(…, 4)`` array times ``factor`` (mod p)."""
    params = _field(field)
    fid = _small_id(field)
    if fid is not None:
        words, width = _words(np.asarray(values))
        k = small.to_multiplier(fid, factor)
        small.mul_const_inplace(words.reshape(-1), k, fid)
        return _unwords(words, width)
    out = np.array(values, dtype=np.uint64, order="C", copy=True)
    if out.ndim < 1 or out.shape[-1] != 4:
        raise ValueError(f"expected a (..., 4) limb array, got shape {out.shape}")
    _scale_inplace(out, factor, params.modulus)
    return out

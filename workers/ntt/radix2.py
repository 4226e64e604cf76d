"""Number-theoretic transforms over every field of docs/architecture.md §4, in numba.

The transform (docs/architecture.md §4) of ``a`` of size ``n = 2^k`` is
``out[k] = Σ_j a[j]·ω^(j·k)`` with ``ω = g^((p−1)/n)``, natural order in and
out; the inverse is ``a[j] = n⁻¹ Σ_k out[k]·ω^(−j·k)``.  It is computed by the
iterative radix-2 decimation-in-time Cooley–Tukey algorithm (J. W. Cooley and
J. W. Tukey, "An algorithm for the machine calculation of complex Fourier
series", *Math. Comp.* 19 (1965) 297–301): a bit-reversal permutation, then
``k`` stages of butterflies ``(u, v) ↦ (u + ω·v, u − ω·v)`` over blocks of
size 2, 4, …, n (see e.g. Cormen et al., *Introduction to Algorithms*, §30.3).

Values stay canonical throughout: the twiddles (:mod:`workers.ntt.twiddles`)
are kept in Montgomery form, and a Montgomery product of a canonical value and
``ω̄ = ω·R`` is the canonical ``v·ω`` (see :mod:`workers.fields.mont4`), so no
conversion pass is needed; the inverse's ``n⁻¹`` is one more such product per
element.

A coset NTT with shift ``s`` (``out[k] = Σ_j a[j]·(s·ω^k)^j``) multiplies
``a[j]`` by ``s^j`` and transforms; its inverse divides by ``s^j`` after the
inverse transform.

The ``*_limbs`` functions are the unchecked entry points on the compact
element arrays of :mod:`workers.codec.arrays` — ``(…, 4)`` ``uint64`` limbs
for the 254/255-bit fields (the kernels' own layout), ``(…)`` ``uint64``
words for Goldilocks and ``(…)`` ``uint32`` words for BabyBear (kernels in
:mod:`workers.fields.small`); they return new arrays of the same format and
leave their inputs alone.  A one-word field's array is copied once into the
kernels' contiguous words (BabyBear's plain transforms stay on ``uint32``,
where LLVM vectorises the butterflies).  :func:`ntt_rows_limbs` and
:func:`workers.ntt.twiddles.twiddle_limbs` are the two halves of a step of the
four-step algorithm used to split an NTT across machines
(:mod:`workers.cluster.plan`).

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

from workers.codec.arrays import field_params
from workers.fields import small
from workers.fields.mont4 import (
    add,
    kernel_threads,
    load,
    mont_mul,
    montgomery_constants,
    mul_const_into,
    store,
    sub,
    to_montgomery_int,
    unpack,
)
from workers.ntt.twiddles import (
    PARALLEL_MIN_SIZE,
    big_limbs,
    log2_size,
    small_elements,
    small_id,
    small_words,
    twiddles_for,
)
from workers.params import FieldParams

# --- kernels --------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def _ntt_inplace(a: np.ndarray, twiddles: np.ndarray, consts: np.ndarray) -> None:
    """Radix-2 DIT transform of the rows of ``a`` (canonical), natural order in and out."""
    _bit_reverse(a)
    _ntt_stages(a, twiddles, consts)


@njit(cache=True, nogil=True)
def _ntt_rows_inplace(rows: np.ndarray, twiddles: np.ndarray, consts: np.ndarray) -> None:
    """:func:`_ntt_inplace` on every ``rows[r]`` of a ``(m, n, 4)`` array."""
    for r in range(rows.shape[0]):
        _ntt_inplace(rows[r], twiddles, consts)


@njit(cache=True, nogil=True, inline="always")
def _bit_reversed(i: int, bits: int) -> int:
    r = 0
    for _ in range(bits):
        r = (r << 1) | (i & 1)
        i >>= 1
    return r


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True, parallel=True)
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


@njit(cache=True, nogil=True, parallel=True)
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


@njit(cache=True, nogil=True)
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


# --- entry points ---------------------------------------------------------------------------


def _scale_inplace(values: np.ndarray, factor: int, modulus: int) -> None:
    flat = values.reshape(-1, 4)
    constant = to_montgomery_int(factor % modulus, modulus)
    mul_const_into(flat, flat, constant, montgomery_constants(modulus))


def _check_coset(params: FieldParams, coset: int | None) -> None:
    if coset is not None and coset % params.modulus == 0:
        raise ValueError("a coset shift must be nonzero mod p")


def _small_rows(
    field: str, fid: int, matrix: np.ndarray, inverse: bool, coset: int | None
) -> np.ndarray:
    """The one-word NTT of every row of a compact ``(m, size)`` array, as a new one."""
    p = small.modulus_of(fid)
    size = matrix.shape[1]
    if fid == small.BABYBEAR_ID and coset is None:  # on uint32 words
        out = np.array(matrix, dtype=np.uint32, order="C", copy=True)
        small.bb_ntt_rows32(out, twiddles_for(field, size, inverse))
        if inverse and size > 1:
            small.bb_mul_const32(out.reshape(-1), small.to_multiplier(fid, pow(size, -1, p)))
        return out
    rows = np.array(matrix, dtype=np.uint64, order="C", copy=True)
    one = small.to_multiplier(fid, 1)
    if coset is not None and not inverse:
        small.mul_powers_rows(rows, small.to_multiplier(fid, coset), one, fid)
    small.ntt_rows_inplace(rows, twiddles_for(field, size, inverse), fid)
    if inverse and size > 1:
        small.mul_const_inplace(rows.reshape(-1), small.to_multiplier(fid, pow(size, -1, p)), fid)
    if coset is not None and inverse:
        small.mul_powers_rows(rows, small.to_multiplier(fid, pow(coset, -1, p)), one, fid)
    return small_elements(field, rows)


def ntt_rows_limbs(
    field: str, matrix: np.ndarray, inverse: bool = False, coset: int | None = None
) -> np.ndarray:
    """An independent NTT (or inverse NTT) of every row of a compact ``(m, size)`` array of
    ``field`` elements (``(m, size, 4)`` on the 254/255-bit fields), as a new one.

    With ``coset = s`` each row gets the coset NTT ``out[k] = Σ_j a[j]·(s·ω^k)^j``
    (or its inverse).
    """
    params = field_params(field)
    _check_coset(params, coset)
    fid = small_id(field)
    matrix = np.asarray(matrix)
    if matrix.ndim != (2 if fid is not None else 3) or (fid is None and matrix.shape[2] != 4):
        layout = "(rows, size)" if fid is not None else "(rows, size, 4)"
        raise ValueError(f"expected a {layout} array of {field} elements, got {matrix.shape}")
    size = matrix.shape[1]
    log2_size(size)
    if fid is not None:
        return _small_rows(field, fid, matrix, inverse, coset)
    out = np.array(matrix, dtype=np.uint64, order="C", copy=True)
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
    """The NTT (or inverse NTT) of a compact array of ``n`` ``field`` elements, ``n`` a power
    of two: ``(n,)`` words, or ``(n, 4)`` limbs on the 254/255-bit fields.

    ``coset = s`` gives the coset NTT (see :func:`ntt_rows_limbs`).
    """
    values = np.asarray(values)
    if values.ndim != (1 if small_id(field) is not None else 2):
        raise ValueError(f"expected an array of {field} elements, got shape {values.shape}")
    return ntt_rows_limbs(field, values[np.newaxis], inverse, coset)[0]


def scale_limbs(field: str, values: np.ndarray, factor: int) -> np.ndarray:
    """Every element of a compact array of ``field`` elements times ``factor`` (mod p)."""
    params = field_params(field)
    fid = small_id(field)
    if fid is not None:
        arr = np.asarray(values)
        words = small_words(arr, arr.ndim, "an array")
        small.mul_const_inplace(words.reshape(-1), small.to_multiplier(fid, factor), fid)
        return small_elements(field, words)
    out = big_limbs(values, max(np.ndim(values), 1), "an array")
    _scale_inplace(out, factor, params.modulus)
    return out

"""Twiddle tables and the four-step twiddle step, for every field of ``docs/architecture.md`` §4.

Twiddles are cached per ``(field, n, inverse)`` in :data:`TWIDDLES`, laid out
by stage: ``twiddles[h + j] = ω_{2h}^j`` for ``h = 1, 2, 4, …, n/2`` and
``0 ≤ j < h``, so every stage of the radix-2 transform
(:mod:`workers.ntt.radix2`) reads a contiguous run (``twiddles[0]`` is
unused).  The largest stage's run is built by repeated multiplication, the
others are subsamples of it.  For the 254/255-bit fields a table is ``(n, 4)``
limbs in Montgomery form (:mod:`workers.fields.mont4`); for the one-word fields
``(n,)`` words in multiplier form (:mod:`workers.fields.small`).

:func:`twiddle_limbs` is the step between the two phases of the four-step
algorithm (Bailey, "FFTs in external or hierarchical memory", 1990, §2) that
:mod:`workers.cluster.plan` uses to split an NTT across machines: entry
``[i][j]`` times ``ω_n^((row_offset + i)·j)``.

Arrays in and out are the compact element arrays of :mod:`workers.codec.arrays`
(``(…, 4)`` ``uint64`` for the 254/255-bit fields, ``(…)`` ``uint64`` for
Goldilocks, ``(…)`` ``uint32`` for BabyBear); :func:`small_words` and
:func:`small_elements` convert the one-word fields to and from the ``uint64``
words the :mod:`workers.fields.small` kernels take.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from workers.codec.arrays import element_dtype, field_params
from workers.errors import SizeNotPowerOfTwoError
from workers.fields import small
from workers.fields.mont4 import (
    kernel_threads,
    load,
    mont_mul,
    mont_pow_small,
    montgomery_constants,
    store,
    to_montgomery_int,
    unpack,
)

TWIDDLES: dict[tuple[str, int, bool], np.ndarray] = {}
"""Twiddle tables by ``(field, n, inverse)``: Montgomery limbs, or small-field multipliers."""
PARALLEL_MIN_SIZE = 1 << 15
"""Transforms (rows × size) smaller than this run on one thread."""


def log2_size(n: int) -> int:
    """``log₂ n`` of an NTT size, or :class:`SizeNotPowerOfTwoError`."""
    if n < 1 or n & (n - 1):
        raise SizeNotPowerOfTwoError(f"NTT size {n} is not a power of two")
    return n.bit_length() - 1


def small_id(field: str) -> int | None:
    """The :mod:`workers.fields.small` kernel id of a one-word field, else ``None``."""
    return small.SMALL_FIELDS.get(field)


def small_words(values: np.ndarray, ndim: int, what: str) -> np.ndarray:
    """A one-word field's compact ``ndim``-D array as a new C-contiguous ``uint64`` array."""
    arr = np.asarray(values)
    if arr.ndim != ndim:
        raise ValueError(f"expected {what} of one-word elements, got shape {arr.shape}")
    return np.array(arr, dtype=np.uint64, order="C", copy=True)


def small_elements(field: str, words: np.ndarray) -> np.ndarray:
    """``uint64`` kernel words back as ``field``'s compact array (``uint32`` on BabyBear)."""
    return words.astype(element_dtype(field), copy=False)


def big_limbs(values: np.ndarray, ndim: int, what: str) -> np.ndarray:
    """A 254/255-bit field's compact ``(…, 4)`` array as a new C-contiguous ``uint64`` array."""
    out = np.array(values, dtype=np.uint64, order="C", copy=True)
    if out.ndim != ndim or out.shape[-1] != 4:
        raise ValueError(f"expected {what} of 4-limb elements, got shape {out.shape}")
    return out


@njit(cache=True, nogil=True)
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


def twiddles_for(field: str, n: int, inverse: bool = False) -> np.ndarray:
    """The cached stage-ordered twiddle table of size ``n`` (powers of ``ω`` or ``ω⁻¹``).

    ``(n, 4)`` limbs in Montgomery form for the 254/255-bit fields; ``(n,)``
    words in multiplier form (:mod:`workers.fields.small`) for the others.
    """
    key = (field, n, inverse)
    table = TWIDDLES.get(key)
    if table is None:
        params = field_params(field)
        log2_size(n)
        p = params.modulus
        omega = params.root_of_unity(n)
        if inverse:
            omega = pow(omega, -1, p)
        fid = small_id(field)
        if fid is None:
            table = _build_twiddles(to_montgomery_int(omega, p), n, montgomery_constants(p))
        else:
            table = small.build_twiddles(
                small.to_multiplier(fid, omega), n, small.to_multiplier(fid, 1), fid
            )
        TWIDDLES[key] = table
    return table


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True, parallel=True)
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


def twiddle_limbs(field: str, matrix: np.ndarray, n: int, row_offset: int) -> np.ndarray:
    """``out[i][j] = matrix[i][j] · ω_n^((row_offset + i)·j)`` for a compact ``(rows, cols)``
    array of ``field`` elements (``(rows, cols, 4)`` on the 254/255-bit fields).

    ``ω_n = g^((p−1)/n)``: the four-step twiddle factors of rows
    ``row_offset, row_offset + 1, …`` of an NTT of size ``n``.  Returns a new array.
    """
    params = field_params(field)
    log2_size(n)
    p = params.modulus
    fid = small_id(field)
    if fid is not None:
        words = small_words(matrix, 2, "a (rows, cols) array")
        omega = small.to_multiplier(fid, params.root_of_unity(n))
        one = small.to_multiplier(fid, 1)
        small.twiddle_rows(words, words, omega, n, row_offset, one, fid)
        return small_elements(field, words)
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

"""Arithmetic and radix-2 NTTs over the 64-bit and 31-bit STARK fields, in numba.

Two fields whose elements fit one machine word (docs/architecture.md §4):

* **Goldilocks**, ``p = 2^64 − 2^32 + 1`` (generator 7, two-adicity 32).
  Products are reduced with the identities ``2^64 ≡ 2^32 − 1`` and
  ``2^96 ≡ −1 (mod p)``: a 128-bit product ``lo + 2^64·(h_lo + 2^32·h_hi)``
  is ``lo − h_hi + h_lo·(2^32 − 1)``, two word operations and one correction
  each — the ``reduce128`` of Polygon Zero's Plonky2
  (``field/src/goldilocks_field.rs``; see also the Plonky2 paper, §5 "Field
  arithmetic", and R. Bosman's note "An efficient reduction for the
  Goldilocks prime").  The 64×64→128-bit product is :func:`workers.fields.mont4.mul_wide`.
* **BabyBear**, ``p = 15·2^27 + 1`` (generator 31, two-adicity 27), the field of
  RISC Zero's zkVM.  Multiplication is Montgomery's with ``R = 2^32`` as in
  RISC Zero's ``risc0-core`` crate (``src/field/baby_bear.rs``: ``M =
  0x88000001 = p⁻¹ mod 2^32``, ``R² mod p = 1172168163``): a product below
  ``2^62`` plus ``m·p`` with ``m = −x·p⁻¹ mod 2^32`` is divisible by ``2^32``
  and below ``2p``.  Everything fits a ``uint64``; no division is executed.

Elements are single ``uint64`` words, canonical (``< p``).  Constants that
multiply (twiddles, scaling factors, coset powers) are kept in *multiplier
form* ``M(x)``: ``x·2^32 mod p`` for BabyBear (Montgomery form), ``x`` itself
for Goldilocks.  :func:`mul` then satisfies ``mul(a, M(x)) = a·x`` for a
canonical ``a`` and ``mul(M(a), M(x)) = M(a·x)``, the same trick as the
254-bit NTT (:mod:`workers.ntt.radix2`): the data never leave canonical form.

The kernels take the field as a small integer id (:data:`GOLDILOCKS_ID`,
:data:`BABYBEAR_ID`); the branch on it is loop-invariant and LLVM hoists it
out of the loops.  Arrays are 1-D (one transform) or 2-D (one per row),
``uint64``, C-contiguous, except the BabyBear ``*32`` kernels, which work on
the compact BabyBear format itself (``uint32`` words, :mod:`workers.codec.arrays`).
The NTT is the iterative radix-2 DIT transform of :mod:`workers.ntt.radix2`
with the same stage-ordered twiddle table (``twiddles[h + j] = M(ω_{2h}^j)``).
The Python entry points on element arrays live in :mod:`workers.ntt.radix2`
and :mod:`workers.ntt.twiddles`; this module holds only kernels and constants.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workers.fields.mont4 import mul_wide
from workers.params import BABYBEAR_P, FIELDS, GOLDILOCKS_P

GOLDILOCKS_ID = 0
BABYBEAR_ID = 1
SMALL_FIELDS: dict[str, int] = {"goldilocks": GOLDILOCKS_ID, "babybear": BABYBEAR_ID}
"""Field name → kernel id of every one-word field."""

BABYBEAR_R = 1 << 32
"""The Montgomery radix of BabyBear."""

_GL_P = np.uint64(GOLDILOCKS_P)
_GL_EPSILON = np.uint64((1 << 32) - 1)
"""``2^64 mod p`` for Goldilocks."""
_BB_P = np.uint64(BABYBEAR_P)
_BB_MINUS_PINV = np.uint64((-pow(BABYBEAR_P, -1, BABYBEAR_R)) % BABYBEAR_R)
"""``−p⁻¹ mod 2^32`` for BabyBear (``0x77ffffff``)."""
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)

assert FIELDS["goldilocks"].modulus == GOLDILOCKS_P
assert FIELDS["babybear"].modulus == BABYBEAR_P


def modulus_of(field_id: int) -> int:
    """The prime of a kernel id."""
    return GOLDILOCKS_P if field_id == GOLDILOCKS_ID else BABYBEAR_P


def to_multiplier(field_id: int, value: int) -> np.uint64:
    """``M(value)``: the multiplier form of an integer (reduced mod p first)."""
    p = modulus_of(field_id)
    if field_id == BABYBEAR_ID:
        return np.uint64(value * BABYBEAR_R % p)
    return np.uint64(value % p)


# --- Goldilocks -----------------------------------------------------------------------------


@njit(cache=True, inline="always")
def gl_add(a: np.uint64, b: np.uint64) -> np.uint64:
    """``a + b mod p``: a wrapped sum (``2^64`` lost) or one ``≥ p`` loses one ``p``."""
    s = a + b
    if s < a or s >= _GL_P:
        s -= _GL_P  # wrapping: s + 2^64 − p when the sum overflowed
    return s


@njit(cache=True, inline="always")
def gl_sub(a: np.uint64, b: np.uint64) -> np.uint64:
    """``a − b mod p``."""
    d = a - b
    if a < b:
        d += _GL_P
    return d


@njit(cache=True, inline="always")
def gl_reduce128(lo: np.uint64, hi: np.uint64) -> np.uint64:
    """``lo + 2^64·hi mod p``, canonical (Plonky2's ``reduce128`` plus one subtraction)."""
    hi_hi = hi >> _SHIFT32
    hi_lo = hi & _MASK32
    t0 = lo - hi_hi  # lo − 2^96-part (2^96 ≡ −1)
    if lo < hi_hi:  # borrowed 2^64 ≡ 2^32 − 1: take it back
        t0 -= _GL_EPSILON
    t1 = (hi_lo << _SHIFT32) - hi_lo  # h_lo·(2^32 − 1) < 2^64
    t2 = t0 + t1
    if t2 < t1:  # carried 2^64 ≡ 2^32 − 1: add it
        t2 += _GL_EPSILON
    if t2 >= _GL_P:
        t2 -= _GL_P
    return t2


@njit(cache=True, inline="always")
def gl_mul(a: np.uint64, b: np.uint64) -> np.uint64:
    """``a·b mod p`` for Goldilocks."""
    lo, hi = mul_wide(a, b)
    return gl_reduce128(lo, hi)


# --- BabyBear -------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def bb_add(a: np.uint64, b: np.uint64) -> np.uint64:
    s = a + b
    if s >= _BB_P:
        s -= _BB_P
    return s


@njit(cache=True, inline="always")
def bb_sub(a: np.uint64, b: np.uint64) -> np.uint64:
    d = a - b
    if a < b:
        d += _BB_P
    return d


@njit(cache=True, inline="always")
def bb_mul(a: np.uint64, b: np.uint64) -> np.uint64:
    """Montgomery product ``a·b·2^−32 mod p`` for BabyBear (RISC Zero's ``mul``)."""
    x = a * b  # < 2^62
    m = ((x & _MASK32) * _BB_MINUS_PINV) & _MASK32
    t = (x + m * _BB_P) >> _SHIFT32  # exact division, < 2p
    if t >= _BB_P:
        t -= _BB_P
    return t


# --- field-generic helpers ------------------------------------------------------------------


@njit(cache=True, inline="always")
def add(a: np.uint64, b: np.uint64, fid: int) -> np.uint64:
    if fid == GOLDILOCKS_ID:
        return gl_add(a, b)
    return bb_add(a, b)


@njit(cache=True, inline="always")
def sub(a: np.uint64, b: np.uint64, fid: int) -> np.uint64:
    if fid == GOLDILOCKS_ID:
        return gl_sub(a, b)
    return bb_sub(a, b)


@njit(cache=True, inline="always")
def mul(a: np.uint64, w: np.uint64, fid: int) -> np.uint64:
    """``a·x`` for a canonical ``a`` and ``w = M(x)`` (see the module docstring)."""
    if fid == GOLDILOCKS_ID:
        return gl_mul(a, w)
    return bb_mul(a, w)


@njit(cache=True)
def pow_multiplier(base: np.uint64, e: int, one: np.uint64, fid: int) -> np.uint64:
    """``M(x^e)`` from ``base = M(x)`` and ``one = M(1)``, ``e ≥ 0`` (square and multiply)."""
    r = one
    e = np.uint64(e)
    while e != _ZERO:
        if e & _ONE:
            r = mul(r, base, fid)
        base = mul(base, base, fid)
        e >>= _ONE
    return r


# --- array kernels --------------------------------------------------------------------------


@njit(cache=True)
def build_twiddles(omega: np.uint64, n: int, one: np.uint64, fid: int) -> np.ndarray:
    """The stage-ordered table ``twiddles[h + j] = M(ω_{2h}^j)`` for ``omega = M(ω_n)``."""
    twiddles = np.empty(n, dtype=np.uint64)
    twiddles[0] = one
    half = n // 2
    if half == 0:
        return twiddles
    w = one
    for j in range(half):
        twiddles[half + j] = w
        w = mul(w, omega, fid)
    h = half // 2
    while h >= 1:
        stride = half // h
        for j in range(h):
            twiddles[h + j] = twiddles[half + j * stride]
        h //= 2
    return twiddles


@njit(cache=True)
def _bit_reverse(a: np.ndarray) -> None:
    n = a.shape[0]
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            a[i], a[j] = a[j], a[i]


@njit(cache=True)
def ntt_inplace(a: np.ndarray, twiddles: np.ndarray, fid: int) -> None:
    """Radix-2 DIT NTT of the 1-D canonical array ``a``, natural order in and out."""
    n = a.shape[0]
    _bit_reverse(a)
    for i in range(0, n - 1, 2):  # first stage: ω_2^0 = 1
        u = a[i]
        v = a[i + 1]
        a[i] = add(u, v, fid)
        a[i + 1] = sub(u, v, fid)
    h = 2
    while h < n:
        for start in range(0, n, 2 * h):
            for j in range(h):
                u = a[start + j]
                v = mul(a[start + j + h], twiddles[h + j], fid)
                a[start + j] = add(u, v, fid)
                a[start + j + h] = sub(u, v, fid)
        h *= 2


# --- BabyBear on 32-bit words -------------------------------------------------------------
# Canonical BabyBear elements fit 31 bits: on ``uint32`` arrays, with branch-free ``min``
# reductions (``s − p`` wraps above ``s`` exactly when ``s < p``) and 32×32→64-bit
# products, LLVM vectorises the butterfly loop (``vpmuludq``); about 2.8× faster than the
# scalar 64-bit loop above at 2^20.

_BB_P32 = np.uint32(BABYBEAR_P)


@njit(cache=True, inline="always")
def _bb_add32(a: np.uint32, b: np.uint32) -> np.uint32:
    s = a + b
    return min(s, s - _BB_P32)


@njit(cache=True, inline="always")
def _bb_sub32(a: np.uint32, b: np.uint32) -> np.uint32:
    d = a - b
    return min(d, d + _BB_P32)


@njit(cache=True, inline="always")
def _bb_mul32(a: np.uint32, w: np.uint32) -> np.uint32:
    x = np.uint64(a) * np.uint64(w)
    m = ((x & _MASK32) * _BB_MINUS_PINV) & _MASK32
    t = np.uint32((x + m * _BB_P) >> _SHIFT32)
    return min(t, t - _BB_P32)


@njit(cache=True)
def _bb_ntt32(a: np.ndarray, twiddles: np.ndarray) -> None:
    """:func:`ntt_inplace` for BabyBear on a ``uint32`` row (twiddles ``uint32`` too)."""
    n = a.shape[0]
    _bit_reverse(a)
    h = 1
    while h < n:
        t = twiddles[h : 2 * h]
        for start in range(0, n, 2 * h):
            lo = a[start : start + h]
            hi = a[start + h : start + 2 * h]
            for j in range(h):
                u = lo[j]
                v = _bb_mul32(hi[j], t[j])
                lo[j] = _bb_add32(u, v)
                hi[j] = _bb_sub32(u, v)
        h *= 2


@njit(cache=True)
def ntt_rows_inplace(rows: np.ndarray, twiddles: np.ndarray, fid: int) -> None:
    """:func:`ntt_inplace` on every row of a 2-D array."""
    if fid == BABYBEAR_ID:
        twiddles32 = twiddles.astype(np.uint32)
        row32 = np.empty(rows.shape[1], dtype=np.uint32)
        for r in range(rows.shape[0]):
            for i in range(rows.shape[1]):
                row32[i] = rows[r, i]
            _bb_ntt32(row32, twiddles32)
            for i in range(rows.shape[1]):
                rows[r, i] = row32[i]
        return
    for r in range(rows.shape[0]):
        ntt_inplace(rows[r], twiddles, fid)


@njit(cache=True)
def twiddle_rows(
    out: np.ndarray,
    matrix: np.ndarray,
    omega: np.uint64,
    n: int,
    row_offset: int,
    one: np.uint64,
    fid: int,
) -> None:
    """``out[i][j] = matrix[i][j]·ω^((row_offset + i)·j)`` for ``omega = M(ω)`` of order ``n``."""
    for i in range(matrix.shape[0]):
        step = pow_multiplier(omega, (row_offset + i) % n, one, fid)
        w = one
        for j in range(matrix.shape[1]):
            out[i, j] = mul(matrix[i, j], w, fid)
            w = mul(w, step, fid)


@njit(cache=True)
def mul_powers_rows(rows: np.ndarray, base: np.uint64, one: np.uint64, fid: int) -> None:
    """``rows[i][j] ← rows[i][j]·x^j`` in place, ``base = M(x)`` (coset shifts)."""
    for i in range(rows.shape[0]):
        w = one
        for j in range(rows.shape[1]):
            rows[i, j] = mul(rows[i, j], w, fid)
            w = mul(w, base, fid)


@njit(cache=True)
def mul_const_inplace(values: np.ndarray, k: np.uint64, fid: int) -> None:
    """``values[i] ← values[i]·x`` for a 1-D array and ``k = M(x)``."""
    for i in range(values.shape[0]):
        values[i] = mul(values[i], k, fid)


@njit(cache=True)
def bb_ntt_rows32(rows: np.ndarray, twiddles: np.ndarray) -> None:
    """BabyBear :func:`ntt_inplace` on every row of a 2-D ``uint32`` array (the compact
    BabyBear format), in place; ``twiddles`` as :func:`build_twiddles` makes them."""
    twiddles32 = twiddles.astype(np.uint32)
    for r in range(rows.shape[0]):
        _bb_ntt32(rows[r], twiddles32)


@njit(cache=True)
def bb_mul_const32(values: np.ndarray, k: np.uint64) -> None:
    """``values[i] ← values[i]·x`` for a 1-D BabyBear ``uint32`` array and ``k = M(x)``."""
    k32 = np.uint32(k)
    for i in range(values.shape[0]):
        values[i] = _bb_mul32(values[i], k32)

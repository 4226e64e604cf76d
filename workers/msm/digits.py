"""Signed ``c``-bit digits of the MSM scalars, in numba.

Every scalar is cut into ``W`` (:func:`workers.msm.window.n_windows`) signed
digits ``kᵢ = Σ_w dᵢ,w · 2^(w·c)`` with ``dᵢ,w ∈ (−2^(c−1), 2^(c−1)]``: a raw
``c``-bit window value above ``2^(c−1)`` becomes ``raw − 2^c`` and carries one
into the next window.  A negative digit adds ``−P = (x, −y)``, which is free, so
each window needs ``2^(c−1)`` buckets instead of ``2^c − 1`` (G. Botrel and
Y. El Housni, "EdMSM", IACR ePrint 2022/1400; gnark-crypto's
``partitionScalars``).  Counting 256 bits (not 254) makes any 256-bit scalar
come out right, at no extra cost for the usual ``c``.

The digits are produced on the fly, one window at a time
(:func:`next_digit`), so no ``W × n`` digit array is ever stored; a thread that
starts at window ``w0`` recomputes the carries into it (:func:`carries_into`,
integer work only).  The GPU driver computes the same digits with array
operations (:func:`workers.gpu.driver.signed_digits`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def next_digit(scalars: np.ndarray, i: int, w: int, c: int, carry: int) -> tuple[int, int]:
    """Signed digit ``w`` of scalar ``i`` (``(n, 4)`` limbs) and the carry into digit ``w + 1``."""
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
def carries_into(scalars: np.ndarray, c: int, w0: int) -> np.ndarray:
    """The carry of every scalar into its digit ``w0`` (zeros for ``w0 = 0``)."""
    n = scalars.shape[0]
    carries = np.zeros(n, dtype=np.int64)
    if w0 > 0:
        for i in range(n):
            carry = 0
            for w in range(w0):
                _, carry = next_digit(scalars, i, w, c, carry)
            carries[i] = carry
    return carries


@njit(cache=True)
def signed_digits(scalars: np.ndarray, c: int, windows: int) -> np.ndarray:
    """All signed digits as a ``(windows, n)`` ``int64`` array (for tests and inspection)."""
    n = scalars.shape[0]
    digits = np.zeros((windows, n), dtype=np.int64)
    for i in range(n):
        carry = 0
        for w in range(windows):
            digits[w, i], carry = next_digit(scalars, i, w, c, carry)
    return digits

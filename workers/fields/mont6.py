"""Montgomery arithmetic modulo a prime below 2^383, on six 64-bit limbs, in numba.

The six-limb twin of :mod:`workers.fields.mont4` for the 381-bit BLS12-381 base
field: the same element convention (a tuple ``(a0, …, a5)`` of ``uint64``
limbs, least significant first, type :data:`Fe6`), the same CIOS Montgomery
multiplication (Koç, Acar and Kaliski, *IEEE Micro* 16(3), 1996) with the
"no-carry" shortcut of Botrel and El Housni (IACR ePrint 2022/1400, valid
while the top limb of ``p`` is below ``2^63 − 1``: BLS12-381's is
``0x1a0111ea…``), here with ``R = 2^384``, and the same 128-bit LLVM
intrinsics (:func:`workers.fields.mont4.mac`, :func:`~workers.fields.mont4.adc`,
:func:`~workers.fields.mont4.sbb`).  The four-limb module is left untouched so the
BN254 kernels keep their exact code; the unrolled bodies below were written
out by a generator from the four-limb ones.

Constants come from :func:`montgomery_constants6`: a ``(4, 6)`` array with
rows ``p``, ``R² mod p``, ``R mod p``, ``[p', 0, …]`` (the row numbers of
:mod:`workers.fields.mont4`).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit

from workers.fields.mont4 import LIMB_BITS, ONE_ROW, P_ROW, PINV_ROW, R2_ROW, adc, mac, sbb

N_LIMBS6 = 6
MAX_MODULUS6 = (2**63 - 1) << 320
"""Moduli must stay below this (top limb ``< 2^63 − 1``) for the no-carry CIOS."""
_MASK64 = (1 << 64) - 1
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_FE0 = (_ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO)

Fe6 = tuple[np.uint64, np.uint64, np.uint64, np.uint64, np.uint64, np.uint64]
"""One field element: six little-endian ``uint64`` limbs (numba ``UniTuple(uint64, 6)``)."""


@njit(cache=True, inline="always")
def load6(arr: np.ndarray, i: int, offset: int = 0) -> Fe6:
    """The element at ``arr[i, offset:offset + 6]`` of a 2-D ``uint64`` array."""
    return (
        arr[i, offset],
        arr[i, offset + 1],
        arr[i, offset + 2],
        arr[i, offset + 3],
        arr[i, offset + 4],
        arr[i, offset + 5],
    )


@njit(cache=True, inline="always")
def store6(arr: np.ndarray, i: int, a: Fe6, offset: int = 0) -> None:
    """Write ``a`` to ``arr[i, offset:offset + 6]``."""
    arr[i, offset] = a[0]
    arr[i, offset + 1] = a[1]
    arr[i, offset + 2] = a[2]
    arr[i, offset + 3] = a[3]
    arr[i, offset + 4] = a[4]
    arr[i, offset + 5] = a[5]


@njit(cache=True, inline="always")
def is_zero6(a: Fe6) -> bool:
    return (a[0] | a[1] | a[2] | a[3] | a[4] | a[5]) == _ZERO


@njit(cache=True, inline="always")
def equal6(a: Fe6, b: Fe6) -> bool:
    return (
        (a[0] ^ b[0])
        | (a[1] ^ b[1])
        | (a[2] ^ b[2])
        | (a[3] ^ b[3])
        | (a[4] ^ b[4])
        | (a[5] ^ b[5])
    ) == _ZERO


@njit(cache=True, inline="always")
def _select6(mask: np.uint64, x: Fe6, y: Fe6) -> Fe6:
    """Limb-wise ``x`` where ``mask`` is all ones, ``y`` where it is zero (branch-free)."""
    keep = ~mask
    return (
        (x[0] & mask) | (y[0] & keep),
        (x[1] & mask) | (y[1] & keep),
        (x[2] & mask) | (y[2] & keep),
        (x[3] & mask) | (y[3] & keep),
        (x[4] & mask) | (y[4] & keep),
        (x[5] & mask) | (y[5] & keep),
    )


@njit(cache=True, inline="always")
def _reduce_once6(t: Fe6, t6: np.uint64, p: Fe6) -> Fe6:
    """``t + t6·2^384`` minus ``p`` if it is ``≥ p``; requires the value to be ``< 2p``."""
    d0, br = sbb(t[0], p[0], _ZERO)
    d1, br = sbb(t[1], p[1], br)
    d2, br = sbb(t[2], p[2], br)
    d3, br = sbb(t[3], p[3], br)
    d4, br = sbb(t[4], p[4], br)
    d5, br = sbb(t[5], p[5], br)
    _, br = sbb(t6, _ZERO, br)
    return _select6(br - _ONE, (d0, d1, d2, d3, d4, d5), t)


@njit(cache=True, inline="always")
def add6(a: Fe6, b: Fe6, p: Fe6) -> Fe6:
    """``a + b mod p``."""
    s0, c = adc(a[0], b[0], _ZERO)
    s1, c = adc(a[1], b[1], c)
    s2, c = adc(a[2], b[2], c)
    s3, c = adc(a[3], b[3], c)
    s4, c = adc(a[4], b[4], c)
    s5, c = adc(a[5], b[5], c)
    return _reduce_once6((s0, s1, s2, s3, s4, s5), c, p)


@njit(cache=True, inline="always")
def sub6(a: Fe6, b: Fe6, p: Fe6) -> Fe6:
    """``a − b mod p``."""
    d0, br = sbb(a[0], b[0], _ZERO)
    d1, br = sbb(a[1], b[1], br)
    d2, br = sbb(a[2], b[2], br)
    d3, br = sbb(a[3], b[3], br)
    d4, br = sbb(a[4], b[4], br)
    d5, br = sbb(a[5], b[5], br)
    mask = _ZERO - br  # all ones when a < b: add p back
    s0, c = adc(d0, p[0] & mask, _ZERO)
    s1, c = adc(d1, p[1] & mask, c)
    s2, c = adc(d2, p[2] & mask, c)
    s3, c = adc(d3, p[3] & mask, c)
    s4, c = adc(d4, p[4] & mask, c)
    s5, c = adc(d5, p[5] & mask, c)
    return (s0, s1, s2, s3, s4, s5)


@njit(cache=True, inline="always")
def neg6(a: Fe6, p: Fe6) -> Fe6:
    """``−a mod p`` (zero stays zero)."""
    d = sub6(p, a, p)
    nonzero = _ZERO - np.uint64(not is_zero6(a))
    return (
        d[0] & nonzero,
        d[1] & nonzero,
        d[2] & nonzero,
        d[3] & nonzero,
        d[4] & nonzero,
        d[5] & nonzero,
    )


@njit(cache=True, inline="always")
def _cios_round6(t: Fe6, a: Fe6, bi: np.uint64, p: Fe6, pinv: np.uint64) -> Fe6:
    """One outer CIOS iteration ``t ← (t + a·bᵢ + m·p) / 2^64`` (no-carry variant, see arith)."""
    t0, carry_a = mac(a[0], bi, t[0], _ZERO)
    m = t0 * pinv
    _, carry_m = mac(m, p[0], t0, _ZERO)
    u1, carry_a = mac(a[1], bi, t[1], carry_a)
    r0, carry_m = mac(m, p[1], u1, carry_m)
    u2, carry_a = mac(a[2], bi, t[2], carry_a)
    r1, carry_m = mac(m, p[2], u2, carry_m)
    u3, carry_a = mac(a[3], bi, t[3], carry_a)
    r2, carry_m = mac(m, p[3], u3, carry_m)
    u4, carry_a = mac(a[4], bi, t[4], carry_a)
    r3, carry_m = mac(m, p[4], u4, carry_m)
    u5, carry_a = mac(a[5], bi, t[5], carry_a)
    r4, carry_m = mac(m, p[5], u5, carry_m)
    return (r0, r1, r2, r3, r4, carry_m + carry_a)


@njit(cache=True)
def mont_mul6(a: Fe6, b: Fe6, p: Fe6, pinv: np.uint64) -> Fe6:
    """``a·b·2^−384 mod p`` (Montgomery product), ``p'`` = ``pinv``."""
    t = _cios_round6(_FE0, a, b[0], p, pinv)
    t = _cios_round6(t, a, b[1], p, pinv)
    t = _cios_round6(t, a, b[2], p, pinv)
    t = _cios_round6(t, a, b[3], p, pinv)
    t = _cios_round6(t, a, b[4], p, pinv)
    t = _cios_round6(t, a, b[5], p, pinv)
    return _reduce_once6(t, _ZERO, p)  # the CIOS result is below 2p


@njit(cache=True)
def mont_pow6(a: Fe6, e: Fe6, p: Fe6, pinv: np.uint64, one: Fe6) -> Fe6:
    """``a^e`` for ``a`` and ``one`` in Montgomery form and a 384-bit exponent tuple ``e``."""
    r = one
    for k in range(N_LIMBS6 - 1, -1, -1):
        word = e[k]
        for bit in range(LIMB_BITS - 1, -1, -1):
            r = mont_mul6(r, r, p, pinv)
            if (word >> np.uint64(bit)) & _ONE:
                r = mont_mul6(r, a, p, pinv)
    return r


@njit(cache=True)
def mont_inv6(a: Fe6, p: Fe6, pinv: np.uint64, one: Fe6) -> Fe6:
    """``a⁻¹`` in Montgomery form by Fermat's little theorem (``a^(p−2)``); ``0⁻¹ = 0``."""
    e0, br = sbb(p[0], np.uint64(2), _ZERO)
    e1, br = sbb(p[1], _ZERO, br)
    e2, br = sbb(p[2], _ZERO, br)
    e3, br = sbb(p[3], _ZERO, br)
    e4, br = sbb(p[4], _ZERO, br)
    e5, _ = sbb(p[5], _ZERO, br)
    return mont_pow6(a, (e0, e1, e2, e3, e4, e5), p, pinv, one)


# --- array kernels (tests, conversions) ---------------------------------------------------


@njit(cache=True)
def mul6_into(out: np.ndarray, a: np.ndarray, b: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = mont_mul6(a[i], b[i])`` over ``(n, 6)`` arrays (``out`` may alias)."""
    p = load6(consts, P_ROW)
    pinv = consts[PINV_ROW, 0]
    for i in range(out.shape[0]):
        store6(out, i, mont_mul6(load6(a, i), load6(b, i), p, pinv))


@njit(cache=True)
def add6_into(out: np.ndarray, a: np.ndarray, b: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i] + b[i] mod p``."""
    p = load6(consts, P_ROW)
    for i in range(out.shape[0]):
        store6(out, i, add6(load6(a, i), load6(b, i), p))


@njit(cache=True)
def sub6_into(out: np.ndarray, a: np.ndarray, b: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i] − b[i] mod p``."""
    p = load6(consts, P_ROW)
    for i in range(out.shape[0]):
        store6(out, i, sub6(load6(a, i), load6(b, i), p))


@njit(cache=True)
def inv6_into(out: np.ndarray, a: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i]⁻¹`` with both in Montgomery form (zero maps to zero)."""
    p = load6(consts, P_ROW)
    pinv = consts[PINV_ROW, 0]
    one = load6(consts, ONE_ROW)
    for i in range(out.shape[0]):
        store6(out, i, mont_inv6(load6(a, i), p, pinv, one))


# --- constants (Python side) --------------------------------------------------------------


def int_to_limbs6(value: int) -> np.ndarray:
    """A non-negative integer below ``2^384`` as a ``(1, 6)`` ``uint64`` row."""
    return np.array([[(value >> (64 * k)) & _MASK64 for k in range(N_LIMBS6)]], dtype=np.uint64)


@cache
def montgomery_constants6(modulus: int) -> np.ndarray:
    """The read-only ``(4, 6)`` ``uint64`` constants of an odd modulus ``3 ≤ p < MAX_MODULUS6``.

    Rows (as in :func:`workers.fields.mont4.montgomery_constants`): ``p``, ``R² mod p``,
    ``R mod p``, ``[−p⁻¹ mod 2^64, 0, …]``, with ``R = 2^384``.
    """
    if modulus % 2 == 0 or not 3 <= modulus < MAX_MODULUS6:
        raise ValueError("six-limb Montgomery needs an odd modulus in [3, 2^383 − 2^320)")
    r = 1 << (LIMB_BITS * N_LIMBS6)
    pinv = (-pow(modulus, -1, 1 << LIMB_BITS)) % (1 << LIMB_BITS)
    rows = {P_ROW: modulus, R2_ROW: r * r % modulus, ONE_ROW: r % modulus, PINV_ROW: pinv}
    consts = np.concatenate([int_to_limbs6(rows[k]) for k in range(4)])
    consts.flags.writeable = False
    return consts


@njit(cache=True)
def to_mont6_into(out: np.ndarray, a: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i]·R mod p``: canonical → Montgomery form."""
    p = load6(consts, P_ROW)
    pinv = consts[PINV_ROW, 0]
    r2 = load6(consts, R2_ROW)
    for i in range(out.shape[0]):
        store6(out, i, mont_mul6(load6(a, i), r2, p, pinv))


@njit(cache=True)
def from_mont6_into(out: np.ndarray, a: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i]·R⁻¹ mod p``: Montgomery form → canonical."""
    p = load6(consts, P_ROW)
    pinv = consts[PINV_ROW, 0]
    one = (_ONE, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO)
    for i in range(out.shape[0]):
        store6(out, i, mont_mul6(load6(a, i), one, p, pinv))

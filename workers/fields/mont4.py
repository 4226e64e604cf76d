"""Montgomery arithmetic modulo a prime below 2^255, on four 64-bit limbs, in numba.

An element of ``F_p`` is held as a tuple ``(a0, a1, a2, a3)`` of ``uint64``
limbs, least significant first (the type :data:`Fe`); arrays of elements are
``uint64`` arrays of shape ``(n, 4)`` (or ``(n, 4·k)`` for ``k`` coordinates
per row), read and written with :func:`load` and :func:`store`.  Tuples live
in registers, so the kernels built on them allocate nothing per operation.

Multiplication is Montgomery's (P. L. Montgomery, "Modular multiplication
without trial division", *Math. Comp.* 44 (1985) 519–521): with
``R = 2^256``, :func:`mont_mul` returns ``a·b·R⁻¹ mod p``, so elements kept in
*Montgomery form* ``ā = a·R mod p`` multiply as ``mont_mul(ā, b̄) = (a·b)‾``.
It is the CIOS ("coarsely integrated operand scanning") variant of Koç, Acar
and Kaliski, "Analyzing and comparing Montgomery multiplication algorithms",
*IEEE Micro* 16(3), 1996, unrolled for four words, with the "no-carry"
shortcut of G. Botrel and Y. El Housni ("EdMSM", IACR ePrint 2022/1400; used
by gnark-crypto) that drops the extra carry words when the modulus' top limb is
below ``2^63 − 1`` — true of every 254/255-bit SNARK field (BN254 ``F_r`` and
``F_p``, BLS12-381 ``F_r``); :func:`montgomery_constants` refuses other
moduli.  About 25 ns per multiplication on one core.  The 64×64→128-bit
products and the carry chains are emitted as LLVM ``i128`` arithmetic
(``zext`` / ``mul`` / ``lshr`` / ``trunc``) through
:func:`numba.extending.intrinsic`, which LLVM lowers to one ``mul``/``mulx``
and ``add``/``adc`` instructions.

Small helpers carry ``inline="always"`` (inlined in numba's IR); ``mont_mul``
and its callers are left to LLVM's inliner, which inlines them as well: full
IR-level inlining of the point formulas was ~10 % faster but took a minute
to compile instead of a few seconds.

A useful corollary: ``mont_mul(a, b̄) = a·b`` for a *canonical* ``a``, so a
canonical vector times a constant held in Montgomery form stays canonical
without any conversion (the NTT uses this for twiddles and scaling).

Every kernel is parameterised by a constants array of the modulus (see
:func:`montgomery_constants`): rows ``p``, ``R² mod p``, ``R mod p`` (one in
Montgomery form) and ``[p', 0, 0, 0]`` with ``p' = −p⁻¹ mod 2^64``.  The same
compiled code therefore serves the BN254 scalar field ``F_r`` and base field
``F_p`` and any other such prime.  Inputs must be canonical
(``< p``); every function returns canonical results.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.typing import Signature
from numba.extending import intrinsic

P_ROW = 0
"""Row of :func:`montgomery_constants` holding the modulus ``p``."""
R2_ROW = 1
"""Row holding ``R² mod p`` (converts into Montgomery form)."""
ONE_ROW = 2
"""Row holding ``R mod p``: the element one in Montgomery form."""
PINV_ROW = 3
"""Row whose first limb is ``p' = −p⁻¹ mod 2^64``."""

N_LIMBS = 4
MAX_MODULUS = (2**63 - 1) << 192
"""Moduli must stay below this (top limb ``< 2^63 − 1``) for the no-carry CIOS."""
LIMB_BITS = 64
_MASK64 = (1 << 64) - 1
_ZERO = np.uint64(0)
_ONE = np.uint64(1)

Fe = tuple[np.uint64, np.uint64, np.uint64, np.uint64]
"""One field element: four little-endian ``uint64`` limbs (numba ``UniTuple(uint64, 4)``)."""

# --- 128-bit primitives (LLVM intrinsics) ---------------------------------------------------

_Typing = tuple[Signature, Callable[..., ir.Value]]
"""What an intrinsic's typing function returns: its signature and its code generator."""
_I64 = ir.IntType(64)
_I128 = ir.IntType(128)


def _to_i128(
    context: Any, builder: ir.IRBuilder, value: ir.Value, from_type: types.Type
) -> ir.Value:
    value = context.cast(builder, value, from_type, types.uint64)
    return builder.zext(value, _I128)


def _split(context: Any, builder: ir.IRBuilder, signature: Any, wide: ir.Value) -> ir.Value:
    lo = builder.trunc(wide, _I64)
    hi = builder.trunc(builder.lshr(wide, ir.Constant(_I128, 64)), _I64)
    return context.make_tuple(builder, signature.return_type, (lo, hi))


def _check_integers(*args: types.Type) -> None:
    for arg in args:
        if not isinstance(arg, types.Integer):
            raise TypeError(f"128-bit limb intrinsics take integers, not {arg}")


@intrinsic
def mul_wide(typingctx: Any, a: types.Integer, b: types.Integer) -> _Typing:
    """``a·b`` as a 128-bit ``(lo, hi)`` pair of ``uint64``."""
    _check_integers(a, b)
    sig = types.UniTuple(types.uint64, 2)(a, b)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> ir.Value:
        x = _to_i128(context, builder, args[0], signature.args[0])
        y = _to_i128(context, builder, args[1], signature.args[1])
        return _split(context, builder, signature, builder.mul(x, y))

    return sig, codegen


@intrinsic
def mac(
    typingctx: Any, a: types.Integer, b: types.Integer, c: types.Integer, d: types.Integer
) -> _Typing:
    """``a·b + c + d`` as ``(lo, hi)``; it never exceeds ``2^128 − 1``."""
    _check_integers(a, b, c, d)
    sig = types.UniTuple(types.uint64, 2)(a, b, c, d)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> ir.Value:
        x, y, u, v = (
            _to_i128(context, builder, arg, ty)
            for arg, ty in zip(args, signature.args, strict=True)
        )
        wide = builder.add(builder.add(builder.mul(x, y), u), v)
        return _split(context, builder, signature, wide)

    return sig, codegen


@intrinsic
def adc(typingctx: Any, a: types.Integer, b: types.Integer, carry: types.Integer) -> _Typing:
    """Add with carry: ``a + b + carry`` as ``(sum mod 2^64, carry out ∈ {0, 1})``."""
    _check_integers(a, b, carry)
    sig = types.UniTuple(types.uint64, 2)(a, b, carry)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> ir.Value:
        x, y, c = (
            _to_i128(context, builder, arg, ty)
            for arg, ty in zip(args, signature.args, strict=True)
        )
        return _split(context, builder, signature, builder.add(builder.add(x, y), c))

    return sig, codegen


@intrinsic
def sbb(typingctx: Any, a: types.Integer, b: types.Integer, borrow: types.Integer) -> _Typing:
    """Subtract with borrow: ``a − b − borrow`` as ``(difference mod 2^64, borrow out)``."""
    _check_integers(a, b, borrow)
    sig = types.UniTuple(types.uint64, 2)(a, b, borrow)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> ir.Value:
        x, y, c = (
            _to_i128(context, builder, arg, ty)
            for arg, ty in zip(args, signature.args, strict=True)
        )
        wide = builder.sub(builder.sub(x, y), c)
        lo = builder.trunc(wide, _I64)
        out = builder.trunc(builder.lshr(wide, ir.Constant(_I128, 127)), _I64)
        return context.make_tuple(builder, signature.return_type, (lo, out))

    return sig, codegen


# --- element access -----------------------------------------------------------------------


@njit(cache=True, inline="always")
def load(arr: np.ndarray, i: int, offset: int = 0) -> Fe:
    """The element at ``arr[i, offset:offset + 4]`` of a 2-D ``uint64`` array, as a tuple."""
    return (arr[i, offset], arr[i, offset + 1], arr[i, offset + 2], arr[i, offset + 3])


@njit(cache=True, inline="always")
def store(arr: np.ndarray, i: int, a: Fe, offset: int = 0) -> None:
    """Write the element ``a`` to ``arr[i, offset:offset + 4]``."""
    arr[i, offset] = a[0]
    arr[i, offset + 1] = a[1]
    arr[i, offset + 2] = a[2]
    arr[i, offset + 3] = a[3]


@njit(cache=True, inline="always")
def is_zero(a: Fe) -> bool:
    return (a[0] | a[1] | a[2] | a[3]) == _ZERO


@njit(cache=True, inline="always")
def equal(a: Fe, b: Fe) -> bool:
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == _ZERO


# --- addition and subtraction -------------------------------------------------------------


@njit(cache=True, inline="always")
def _select(mask: np.uint64, x: Fe, y: Fe) -> Fe:
    """Limb-wise ``x`` where ``mask`` is all ones, ``y`` where it is zero (branch-free)."""
    keep = ~mask
    return (
        (x[0] & mask) | (y[0] & keep),
        (x[1] & mask) | (y[1] & keep),
        (x[2] & mask) | (y[2] & keep),
        (x[3] & mask) | (y[3] & keep),
    )


@njit(cache=True, inline="always")
def _reduce_once(t: Fe, t4: np.uint64, p: Fe) -> Fe:
    """``t + t4·2^256`` minus ``p`` if it is ``≥ p``; requires the value to be ``< 2p``."""
    d0, br = sbb(t[0], p[0], _ZERO)
    d1, br = sbb(t[1], p[1], br)
    d2, br = sbb(t[2], p[2], br)
    d3, br = sbb(t[3], p[3], br)
    _, br = sbb(t4, _ZERO, br)
    # br = 1 exactly when the value is below p: keep it; otherwise take the difference.
    return _select(br - _ONE, (d0, d1, d2, d3), t)


@njit(cache=True, inline="always")
def add(a: Fe, b: Fe, p: Fe) -> Fe:
    """``a + b mod p``."""
    s0, c = adc(a[0], b[0], _ZERO)
    s1, c = adc(a[1], b[1], c)
    s2, c = adc(a[2], b[2], c)
    s3, c = adc(a[3], b[3], c)
    return _reduce_once((s0, s1, s2, s3), c, p)


@njit(cache=True, inline="always")
def sub(a: Fe, b: Fe, p: Fe) -> Fe:
    """``a − b mod p``."""
    d0, br = sbb(a[0], b[0], _ZERO)
    d1, br = sbb(a[1], b[1], br)
    d2, br = sbb(a[2], b[2], br)
    d3, br = sbb(a[3], b[3], br)
    mask = _ZERO - br  # all ones when a < b: add p back
    s0, c = adc(d0, p[0] & mask, _ZERO)
    s1, c = adc(d1, p[1] & mask, c)
    s2, c = adc(d2, p[2] & mask, c)
    s3, c = adc(d3, p[3] & mask, c)
    return (s0, s1, s2, s3)


@njit(cache=True, inline="always")
def double(a: Fe, p: Fe) -> Fe:
    """``2a mod p``."""
    return add(a, a, p)


@njit(cache=True, inline="always")
def neg(a: Fe, p: Fe) -> Fe:
    """``−a mod p`` (zero stays zero)."""
    d = sub(p, a, p)
    nonzero = _ZERO - np.uint64((a[0] | a[1] | a[2] | a[3]) != _ZERO)
    return (d[0] & nonzero, d[1] & nonzero, d[2] & nonzero, d[3] & nonzero)


# --- Montgomery multiplication (CIOS) -------------------------------------------------------


@njit(cache=True, inline="always")
def _cios_round(
    t0: np.uint64,
    t1: np.uint64,
    t2: np.uint64,
    t3: np.uint64,
    a: Fe,
    bi: np.uint64,
    p: Fe,
    pinv: np.uint64,
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    """One outer iteration of CIOS: ``t ← (t + a·bᵢ + m·p) / 2^64`` with ``m = t₀·p'``.

    The two inner loops are interleaved and the extra carry words dropped
    ("no-carry" CIOS, valid while ``p`` has a top limb below ``2^63 − 1``).
    """
    t0, carry_a = mac(a[0], bi, t0, _ZERO)
    m = t0 * pinv
    _, carry_m = mac(m, p[0], t0, _ZERO)  # the low word cancels by the choice of m
    t1, carry_a = mac(a[1], bi, t1, carry_a)
    t0, carry_m = mac(m, p[1], t1, carry_m)
    t2, carry_a = mac(a[2], bi, t2, carry_a)
    t1, carry_m = mac(m, p[2], t2, carry_m)
    t3, carry_a = mac(a[3], bi, t3, carry_a)
    t2, carry_m = mac(m, p[3], t3, carry_m)
    return t0, t1, t2, carry_m + carry_a


@njit(cache=True)
def mont_mul(a: Fe, b: Fe, p: Fe, pinv: np.uint64) -> Fe:
    """``a·b·2^−256 mod p`` (Montgomery product), ``p'`` = ``pinv``."""
    t0, t1, t2, t3 = _cios_round(_ZERO, _ZERO, _ZERO, _ZERO, a, b[0], p, pinv)
    t0, t1, t2, t3 = _cios_round(t0, t1, t2, t3, a, b[1], p, pinv)
    t0, t1, t2, t3 = _cios_round(t0, t1, t2, t3, a, b[2], p, pinv)
    t0, t1, t2, t3 = _cios_round(t0, t1, t2, t3, a, b[3], p, pinv)
    return _reduce_once((t0, t1, t2, t3), _ZERO, p)  # the CIOS result is below 2p


@njit(cache=True)
def mont_pow(a: Fe, e: Fe, p: Fe, pinv: np.uint64, one: Fe) -> Fe:
    """``a^e`` for ``a`` and ``one`` in Montgomery form and a 256-bit exponent tuple ``e``."""
    r = one
    for k in range(N_LIMBS - 1, -1, -1):
        word = e[k]
        for bit in range(LIMB_BITS - 1, -1, -1):
            r = mont_mul(r, r, p, pinv)
            if (word >> np.uint64(bit)) & _ONE:
                r = mont_mul(r, a, p, pinv)
    return r


@njit(cache=True)
def mont_pow_small(a: Fe, e: int, p: Fe, pinv: np.uint64, one: Fe) -> Fe:
    """``a^e`` for a non-negative 64-bit exponent (square-and-multiply, right to left)."""
    r = one
    base = a
    e = np.uint64(e)
    while e != _ZERO:
        if e & _ONE:
            r = mont_mul(r, base, p, pinv)
        base = mont_mul(base, base, p, pinv)
        e >>= _ONE
    return r


@njit(cache=True)
def mont_inv(a: Fe, p: Fe, pinv: np.uint64, one: Fe) -> Fe:
    """``a⁻¹`` in Montgomery form by Fermat's little theorem (``a^(p−2)``); ``0⁻¹ = 0``."""
    e0, br = sbb(p[0], np.uint64(2), _ZERO)
    e1, br = sbb(p[1], _ZERO, br)
    e2, br = sbb(p[2], _ZERO, br)
    e3, _ = sbb(p[3], _ZERO, br)
    return mont_pow(a, (e0, e1, e2, e3), p, pinv, one)


@njit(cache=True)
def to_mont(a: Fe, p: Fe, pinv: np.uint64, r2: Fe) -> Fe:
    """Canonical → Montgomery form: ``mont_mul(a, R²) = a·R``."""
    return mont_mul(a, r2, p, pinv)


@njit(cache=True)
def from_mont(a: Fe, p: Fe, pinv: np.uint64) -> Fe:
    """Montgomery form → canonical: ``mont_mul(ā, 1) = a``."""
    return mont_mul(a, (_ONE, _ZERO, _ZERO, _ZERO), p, pinv)


@njit(cache=True, inline="always")
def unpack(consts: np.ndarray) -> tuple[Fe, np.uint64, Fe, Fe]:
    """``(p, p', R² mod p, R mod p)`` from a :func:`montgomery_constants` array."""
    return (
        load(consts, P_ROW),
        consts[PINV_ROW, 0],
        load(consts, R2_ROW),
        load(consts, ONE_ROW),
    )


# --- array kernels (out-parameters, one row per element) ------------------------------------


@njit(cache=True)
def mul_into(out: np.ndarray, a: np.ndarray, b: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = mont_mul(a[i], b[i])`` over ``(n, 4)`` arrays (``out`` may alias)."""
    p, pinv, _, _ = unpack(consts)
    for i in range(out.shape[0]):
        store(out, i, mont_mul(load(a, i), load(b, i), p, pinv))


@njit(cache=True)
def add_into(out: np.ndarray, a: np.ndarray, b: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i] + b[i] mod p``."""
    p = load(consts, P_ROW)
    for i in range(out.shape[0]):
        store(out, i, add(load(a, i), load(b, i), p))


@njit(cache=True)
def sub_into(out: np.ndarray, a: np.ndarray, b: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i] − b[i] mod p``."""
    p = load(consts, P_ROW)
    for i in range(out.shape[0]):
        store(out, i, sub(load(a, i), load(b, i), p))


@njit(cache=True)
def inv_into(out: np.ndarray, a: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i]⁻¹`` with both in Montgomery form (zero maps to zero)."""
    p, pinv, _, one = unpack(consts)
    for i in range(out.shape[0]):
        store(out, i, mont_inv(load(a, i), p, pinv, one))


@njit(cache=True)
def mul_const_into(out: np.ndarray, a: np.ndarray, k: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = mont_mul(a[i], k[0])`` for a constant ``k`` of shape ``(1, 4)``.

    With ``k`` in Montgomery form this multiplies canonical ``a`` by ``k``
    and leaves the result canonical.
    """
    p, pinv, _, _ = unpack(consts)
    kk = load(k, 0)
    for i in range(out.shape[0]):
        store(out, i, mont_mul(load(a, i), kk, p, pinv))


@njit(cache=True)
def to_mont_into(out: np.ndarray, a: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i]·R mod p``: canonical → Montgomery form."""
    p, pinv, r2, _ = unpack(consts)
    for i in range(out.shape[0]):
        store(out, i, to_mont(load(a, i), p, pinv, r2))


@njit(cache=True)
def from_mont_into(out: np.ndarray, a: np.ndarray, consts: np.ndarray) -> None:
    """``out[i] = a[i]·R⁻¹ mod p``: Montgomery form → canonical."""
    p, pinv, _, _ = unpack(consts)
    for i in range(out.shape[0]):
        store(out, i, from_mont(load(a, i), p, pinv))


# --- constants (Python side) --------------------------------------------------------------


def int_to_limbs(value: int) -> np.ndarray:
    """A non-negative integer below ``2^256`` as a ``(1, 4)`` ``uint64`` row."""
    return np.array([[(value >> (64 * k)) & _MASK64 for k in range(N_LIMBS)]], dtype=np.uint64)


@cache
def montgomery_constants(modulus: int) -> np.ndarray:
    """The read-only ``(4, 4)`` ``uint64`` constants of an odd modulus ``3 ≤ p < MAX_MODULUS``.

    Rows: :data:`P_ROW` ``p``, :data:`R2_ROW` ``R² mod p``, :data:`ONE_ROW`
    ``R mod p``, :data:`PINV_ROW` ``[−p⁻¹ mod 2^64, 0, 0, 0]``, ``R = 2^256``.
    Cached per modulus.
    """
    if modulus % 2 == 0 or not 3 <= modulus < MAX_MODULUS:
        raise ValueError("Montgomery arithmetic here needs an odd modulus in [3, 2^255 − 2^192)")
    r = 1 << (LIMB_BITS * N_LIMBS)
    pinv = (-pow(modulus, -1, 1 << LIMB_BITS)) % (1 << LIMB_BITS)
    consts = np.concatenate(
        [
            int_to_limbs(modulus),
            int_to_limbs(r * r % modulus),
            int_to_limbs(r % modulus),
            int_to_limbs(pinv),
        ]
    )
    consts.flags.writeable = False
    return consts


def to_montgomery_int(value: int, modulus: int) -> np.ndarray:
    """``value·R mod p`` as a ``(1, 4)`` row: a constant ready for :func:`mul_const_into`."""
    return int_to_limbs(value * (1 << (LIMB_BITS * N_LIMBS)) % modulus)


# --- thread policy (Python side) ----------------------------------------------------------

KERNEL_THREADS_ENV = "PROVERPOOL_KERNEL_THREADS"
"""Environment variable capping the threads one CPU kernel call uses (default: no cap)."""


def kernel_threads() -> int:
    """How many threads the next CPU kernel call on this thread may use (at least 1).

    The policy: a call uses ``numba.get_num_threads()`` threads — all cores by
    default (numba's ``NUMBA_NUM_THREADS``), and that count is per calling
    thread, so ``numba.set_num_threads(1)`` (what the Ray tasks of
    :mod:`workers.cluster.tasks` do: one CPU each) keeps that thread's calls serial —
    capped by :data:`KERNEL_THREADS_ENV` when it is set to a positive integer.
    One thread runs the serial kernels, never a numba parallel region.
    """
    threads = numba.get_num_threads()
    cap = os.environ.get(KERNEL_THREADS_ENV, "").strip()
    if cap:
        try:
            limit = int(cap)
        except ValueError:
            raise ValueError(
                f"{KERNEL_THREADS_ENV} must be a positive integer, not {cap!r}"
            ) from None
        if limit < 1:
            raise ValueError(f"{KERNEL_THREADS_ENV} must be a positive integer, not {cap!r}")
        threads = min(threads, limit)
    return max(1, threads)

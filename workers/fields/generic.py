"""Field operations generic over the element type: ``F_p`` on 4 or 6 limbs and ``F_p²``.

One set of names (``fe_add``, ``fe_mul``, …) works on every element type the
curve kernels need, so :mod:`workers.msm.xyzz` and :mod:`workers.msm.buckets`
write the point formulas and the bucket method once and numba compiles one
specialisation per type:

* ``UniTuple(uint64, 4)``: ``F_p`` below ``2^255`` (:mod:`workers.fields.mont4`);
* ``UniTuple(uint64, 6)``: ``F_p`` below ``2^383`` (:mod:`workers.fields.mont6`);
* ``UniTuple(UniTuple(uint64, N), 2)``: ``F_p² = F_p[u]/(u² + 1)``, the element
  ``c0 + c1·u`` as ``(c0, c1)`` — the quadratic extension of both BN254 and
  BLS12-381 (``−1`` is a non-square because ``p ≡ 3 (mod 4)``).

The dispatch happens at compile time through :func:`numba.extending.overload`
on the argument types, so the generated code is the same as hand-written
calls.  Every operation takes the *field descriptor* ``F = (p, p', one)``:
the base modulus limbs, ``−p⁻¹ mod 2^64`` and the element one in Montgomery
form (``(one, 0)`` for ``F_p²``), built by :func:`descriptor`.

``F_p²`` formulas: Karatsuba multiplication
``(a0 + a1u)(b0 + b1u) = (a0b0 − a1b1) + ((a0 + a1)(b0 + b1) − a0b0 − a1b1)u``
(3 base multiplications), complex squaring ``(a0 + a1)(a0 − a1) + 2a0a1·u``
(2), and inversion ``(a0 − a1u) / (a0² + a1²)`` — see e.g. Beuchat et al.,
"High-speed software implementation of the optimal Ate pairing over
Barreto–Naehrig curves", Pairing 2010, §3 (ePrint 2010/354).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import types
from numba.extending import overload

from workers.fields import mont4, mont6
from workers.fields.mont4 import ONE_ROW, P_ROW, PINV_ROW


def _kind(ty: types.Type) -> str | None:
    """``"fp4"``, ``"fp6"``, ``"fp2"`` for the element types above, else ``None``."""
    if isinstance(ty, types.UniTuple):
        if isinstance(ty.dtype, types.Integer) and ty.count in (4, 6):
            return f"fp{ty.count}"
        if isinstance(ty.dtype, types.UniTuple) and ty.count == 2 and _kind(ty.dtype):
            return "fp2"
    return None


def _descriptor_element(descriptor: types.Type) -> types.Type:
    return descriptor.types[2] if isinstance(descriptor, types.BaseTuple) else descriptor


# --- stubs: the Python names; bodies come from the overloads below -----------------------


def fe_add(a: Any, b: Any, f: Any) -> Any:
    """``a + b``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_sub(a: Any, b: Any, f: Any) -> Any:
    """``a − b``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_dbl(a: Any, f: Any) -> Any:
    """``2a``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_neg(a: Any, f: Any) -> Any:
    """``−a``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_mul(a: Any, b: Any, f: Any) -> Any:
    """Montgomery product ``a·b·R⁻¹`` (componentwise-Montgomery for ``F_p²``)."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_sqr(a: Any, f: Any) -> Any:
    """``fe_mul(a, a)``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_inv(a: Any, f: Any) -> Any:
    """``a⁻¹`` in Montgomery form; ``0⁻¹ = 0``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_is_zero(a: Any) -> bool:
    """``a = 0``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_equal(a: Any, b: Any) -> bool:
    """``a = b`` (canonical representatives)."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_load(arr: np.ndarray, i: int, offset: int, f: Any) -> Any:
    """The element of ``F``'s type at ``arr[i, offset:…]``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_store(arr: np.ndarray, i: int, a: Any, offset: int) -> None:
    """Write ``a`` to ``arr[i, offset:…]``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_conj(a: Any, f: Any) -> Any:
    """The Frobenius ``a^p``: ``c0 − c1·u`` on ``F_p²``, ``a`` itself on ``F_p``."""
    raise NotImplementedError("only callable from numba-compiled code")


def fe_zero(f: Any) -> Any:
    """The zero element of ``F``'s type."""
    raise NotImplementedError("only callable from numba-compiled code")


# --- base fields ----------------------------------------------------------------------------

_BASE = {
    "fp4": {
        "add": mont4.add,
        "sub": mont4.sub,
        "neg": mont4.neg,
        "mul": mont4.mont_mul,
        "inv": mont4.mont_inv,
        "is_zero": mont4.is_zero,
        "equal": mont4.equal,
        "load": mont4.load,
        "store": mont4.store,
        "width": 4,
    },
    "fp6": {
        "add": mont6.add6,
        "sub": mont6.sub6,
        "neg": mont6.neg6,
        "mul": mont6.mont_mul6,
        "inv": mont6.mont_inv6,
        "is_zero": mont6.is_zero6,
        "equal": mont6.equal6,
        "load": mont6.load6,
        "store": mont6.store6,
        "width": 6,
    },
}


def _base_width(ty: types.Type) -> int:
    return ty.dtype.count if _kind(ty) == "fp2" else ty.count


@overload(fe_add)
def _ov_add(a, b, f):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        add = _BASE[kind]["add"]
        return lambda a, b, f: add(a, b, f[0])
    if kind == "fp2":
        return lambda a, b, f: (fe_add(a[0], b[0], f), fe_add(a[1], b[1], f))
    return None


@overload(fe_sub)
def _ov_sub(a, b, f):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        sub = _BASE[kind]["sub"]
        return lambda a, b, f: sub(a, b, f[0])
    if kind == "fp2":
        return lambda a, b, f: (fe_sub(a[0], b[0], f), fe_sub(a[1], b[1], f))
    return None


@overload(fe_dbl)
def _ov_dbl(a, f):  # noqa: ANN001
    if _kind(a):
        return lambda a, f: fe_add(a, a, f)
    return None


@overload(fe_neg)
def _ov_neg(a, f):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        neg = _BASE[kind]["neg"]
        return lambda a, f: neg(a, f[0])
    if kind == "fp2":
        return lambda a, f: (fe_neg(a[0], f), fe_neg(a[1], f))
    return None


@overload(fe_mul)
def _ov_mul(a, b, f):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        mul = _BASE[kind]["mul"]
        return lambda a, b, f: mul(a, b, f[0], f[1])
    if kind == "fp2":

        def karatsuba(a, b, f):  # noqa: ANN001
            v0 = fe_mul(a[0], b[0], f)
            v1 = fe_mul(a[1], b[1], f)
            s = fe_mul(fe_add(a[0], a[1], f), fe_add(b[0], b[1], f), f)
            return (fe_sub(v0, v1, f), fe_sub(fe_sub(s, v0, f), v1, f))

        return karatsuba
    return None


@overload(fe_sqr)
def _ov_sqr(a, f):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        mul = _BASE[kind]["mul"]
        return lambda a, f: mul(a, a, f[0], f[1])
    if kind == "fp2":

        def complex_square(a, f):  # noqa: ANN001
            c0 = fe_mul(fe_add(a[0], a[1], f), fe_sub(a[0], a[1], f), f)
            c1 = fe_mul(a[0], a[1], f)
            return (c0, fe_add(c1, c1, f))

        return complex_square
    return None


@overload(fe_inv)
def _ov_inv(a, f):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        inv = _BASE[kind]["inv"]
        if _kind(_descriptor_element(f)) == "fp2":
            return lambda a, f: inv(a, f[0], f[1], f[2][0])
        return lambda a, f: inv(a, f[0], f[1], f[2])
    if kind == "fp2":

        def conjugate_over_norm(a, f):  # noqa: ANN001
            norm = fe_add(fe_sqr(a[0], f), fe_sqr(a[1], f), f)
            t = fe_inv(norm, f)
            return (fe_mul(a[0], t, f), fe_neg(fe_mul(a[1], t, f), f))

        return conjugate_over_norm
    return None


@overload(fe_is_zero)
def _ov_is_zero(a):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        is_zero = _BASE[kind]["is_zero"]
        return lambda a: is_zero(a)
    if kind == "fp2":
        return lambda a: fe_is_zero(a[0]) & fe_is_zero(a[1])
    return None


@overload(fe_equal)
def _ov_equal(a, b):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        equal = _BASE[kind]["equal"]
        return lambda a, b: equal(a, b)
    if kind == "fp2":
        return lambda a, b: fe_equal(a[0], b[0]) & fe_equal(a[1], b[1])
    return None


@overload(fe_load)
def _ov_load(arr, i, offset, f):  # noqa: ANN001
    element = _descriptor_element(f)
    kind = _kind(element)
    if kind in _BASE:
        load = _BASE[kind]["load"]
        return lambda arr, i, offset, f: load(arr, i, offset)
    if kind == "fp2":
        base_kind = _kind(element.dtype)
        load = _BASE[base_kind]["load"]
        width = _BASE[base_kind]["width"]
        return lambda arr, i, offset, f: (load(arr, i, offset), load(arr, i, offset + width))
    return None


@overload(fe_store)
def _ov_store(arr, i, a, offset):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        store = _BASE[kind]["store"]
        return lambda arr, i, a, offset: store(arr, i, a, offset)
    if kind == "fp2":
        base_kind = _kind(a.dtype)
        store = _BASE[base_kind]["store"]
        width = _BASE[base_kind]["width"]

        def store_pair(arr, i, a, offset):  # noqa: ANN001
            store(arr, i, a[0], offset)
            store(arr, i, a[1], offset + width)

        return store_pair
    return None


@overload(fe_zero)
def _ov_zero(f):  # noqa: ANN001
    element = _descriptor_element(f)
    kind = _kind(element)
    if kind in _BASE:
        return lambda f: fe_sub(f[2], f[2], f)
    if kind == "fp2":
        return lambda f: (fe_sub(f[2][0], f[2][0], f), fe_sub(f[2][0], f[2][0], f))
    return None


@overload(fe_conj)
def _ov_conj(a, f):  # noqa: ANN001
    kind = _kind(a)
    if kind in _BASE:
        return lambda a, f: a
    if kind == "fp2":
        return lambda a, f: (a[0], fe_neg(a[1], f))
    return None


# --- descriptors (Python side) ------------------------------------------------------------


def montgomery_rows(modulus: int) -> np.ndarray:
    """The Montgomery constants of ``modulus`` on 4 limbs (``< 2^255``) or 6 (``< 2^383``)."""
    if modulus < mont4.MAX_MODULUS:
        return mont4.montgomery_constants(modulus)
    return mont6.montgomery_constants6(modulus)


def descriptor(modulus: int, degree: int) -> tuple:
    """The field descriptor ``F = (p, p', one)`` of ``F_p`` (``degree`` 1) or ``F_p²`` (2)."""
    consts = montgomery_rows(modulus)
    p = tuple(np.uint64(v) for v in consts[P_ROW])
    one = tuple(np.uint64(v) for v in consts[ONE_ROW])
    if degree == 2:
        zero = tuple(np.uint64(0) for _ in one)
        one = (one, zero)
    elif degree != 1:
        raise ValueError(f"extension degree must be 1 or 2, not {degree}")
    return (p, np.uint64(consts[PINV_ROW, 0]), one)


def element_words(modulus: int, degree: int) -> int:
    """``uint64`` words of one element: limbs of ``p`` times the extension degree."""
    return montgomery_rows(modulus).shape[1] * degree


def to_mont_rows(words: np.ndarray, modulus: int) -> np.ndarray:
    """Every base-field element of ``words`` (rows of whole elements) times ``R``: a new array.

    ``words`` is a ``uint64`` array whose rows are made of 4- or 6-limb groups
    (the limb count of ``modulus``); the result has its shape, in Montgomery form.
    """
    consts = montgomery_rows(modulus)
    limbs = consts.shape[1]
    convert = mont4.to_mont_into if limbs == 4 else mont6.to_mont6_into
    out = np.empty_like(words)
    convert(out.reshape(-1, limbs), np.ascontiguousarray(words).reshape(-1, limbs), consts)
    return out


def from_mont_rows(words: np.ndarray, modulus: int) -> np.ndarray:
    """The inverse of :func:`to_mont_rows`: Montgomery form back to canonical limbs."""
    consts = montgomery_rows(modulus)
    limbs = consts.shape[1]
    convert = mont4.from_mont_into if limbs == 4 else mont6.from_mont6_into
    out = np.empty_like(words)
    convert(out.reshape(-1, limbs), np.ascontiguousarray(words).reshape(-1, limbs), consts)
    return out


def element_mont(value: int | tuple[int, int], modulus: int) -> Any:
    """A constant of ``F_p`` (an int) or ``F_p²`` (``(c0, c1)``) as a Montgomery element tuple."""
    limbs = montgomery_rows(modulus).shape[1]
    parts = list(value) if isinstance(value, tuple) else [value]
    canonical = np.array(
        [
            [((v % modulus) >> (64 * k)) & 0xFFFF_FFFF_FFFF_FFFF for k in range(limbs)]
            for v in parts
        ],
        dtype=np.uint64,
    )
    rows = to_mont_rows(canonical, modulus)
    elements = [tuple(np.uint64(v) for v in row) for row in rows]
    return tuple(elements) if isinstance(value, tuple) else elements[0]

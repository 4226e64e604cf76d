"""Conversions between Python integers and ``uint64`` limb arrays.

The limb layout is the binary body layout of docs/architecture.md §4: each integer is a
fixed-width little-endian word, so an ``(n, 4)`` array is exactly ``n``
32-byte little-endian integers and a ``(n, 2, 4)`` array ``n`` G1 points
``x‖y`` (infinity = all zeros).  On other curves a coordinate takes
``degree × limbs`` words (:func:`coordinate_words`): 6 limbs for the 381-bit
BLS12-381 field, and a G2 coordinate ``(c0, c1)`` is ``c0‖c1``, so a
``bn254_g2`` point is ``(2, 8)`` words ``x0‖x1‖y0‖y1`` and a ``bls12_381_g2``
point ``(2, 12)``.  The conversions go through
:meth:`int.to_bytes` / :meth:`int.from_bytes` and :func:`numpy.frombuffer`, one
C call per integer instead of a Python loop per limb.  Nothing here checks
ranges: an integer that does not fit (or is negative) raises
:class:`OverflowError` from :meth:`int.to_bytes`.  The format itself — which
fields take one word, BabyBear's ``uint32``, the validators and the bytes — is
:mod:`workers.codec.arrays`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workers.params import CURVES

LIMB_BYTES = 8
_LIMB_DTYPE = np.dtype("<u8")


def ints_to_limbs(values: Sequence[int], n_limbs: int = 4) -> np.ndarray:
    """``values`` as a writable ``(len(values), n_limbs)`` ``uint64`` array, low limb first."""
    width = LIMB_BYTES * n_limbs
    to_bytes = int.to_bytes
    buffer = bytearray(b"".join([to_bytes(v, width, "little") for v in values]))
    limbs = np.frombuffer(buffer, dtype=_LIMB_DTYPE).reshape(len(values), n_limbs)
    return limbs.astype(np.uint64, copy=False)


def limbs_to_ints(arr: np.ndarray) -> list[int]:
    """The integers of a ``(n, n_limbs)`` limb array (inverse of :func:`ints_to_limbs`)."""
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D limb array, got shape {arr.shape}")
    width = LIMB_BYTES * arr.shape[1]
    data = np.ascontiguousarray(arr, dtype=_LIMB_DTYPE).tobytes()
    from_bytes = int.from_bytes
    return [from_bytes(data[i : i + width], "little") for i in range(0, len(data), width)]


def curve_limbs(curve: str) -> int:
    """64-bit limbs of one base-field integer of ``curve``: 4 (BN254) or 6 (BLS12-381)."""
    return -(-CURVES[curve].base_modulus.bit_length() // 64)


def coordinate_words(curve: str) -> int:
    """``uint64`` words of one coordinate: limbs × extension degree (4, 6, 8 or 12)."""
    return curve_limbs(curve) * CURVES[curve].degree


def points_to_limbs(points: Sequence[tuple], curve: str = "bn254_g1") -> np.ndarray:
    """Affine points as a ``(n, 2, coordinate_words)`` array; infinity is all zeros.

    On a G2 curve each coordinate is a pair ``(c0, c1)``, written ``c0‖c1``.
    """
    words = coordinate_words(curve)
    if CURVES[curve].degree == 2:
        coordinates = [c for point in points for pair in point for c in pair]
    else:
        coordinates = [c for point in points for c in point]
    return ints_to_limbs(coordinates, curve_limbs(curve)).reshape(len(points), 2, words)


def limbs_to_points(arr: np.ndarray, curve: str = "bn254_g1") -> list[tuple]:
    """The affine points of a ``(n, 2, words)`` array (inverse of :func:`points_to_limbs`)."""
    coordinates = limbs_to_ints(np.asarray(arr).reshape(-1, curve_limbs(curve)))
    if CURVES[curve].degree == 2:
        pairs = list(zip(coordinates[0::2], coordinates[1::2], strict=True))
        return list(zip(pairs[0::2], pairs[1::2], strict=True))
    return list(zip(coordinates[0::2], coordinates[1::2], strict=True))


def limbs_to_point(arr: np.ndarray, curve: str = "bn254_g1") -> tuple:
    """One affine point from a ``(2, words)`` array."""
    (point,) = limbs_to_points(np.asarray(arr).reshape(1, 2, -1), curve)
    return point

"""Conversions between Python integers and ``uint64`` limb arrays.

The limb layout is the binary body layout of DESIGN §4: each integer is a
fixed-width little-endian word, so an ``(n, 4)`` array is exactly ``n``
32-byte little-endian integers and a ``(n, 2, 4)`` array ``n`` G1 points
``x‖y`` (infinity = all zeros).  The conversions go through
:meth:`int.to_bytes` / :meth:`int.from_bytes` and :func:`numpy.frombuffer`, one
C call per integer instead of a Python loop per limb.  Nothing here checks
ranges: an integer that does not fit (or is negative) raises
:class:`OverflowError` from :meth:`int.to_bytes`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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


def points_to_limbs(points: Sequence[tuple[int, int]]) -> np.ndarray:
    """Affine points ``(x, y)`` as a ``(n, 2, 4)`` array; ``(0, 0)`` (infinity) is all zeros."""
    coordinates = [c for point in points for c in point]
    return ints_to_limbs(coordinates).reshape(len(points), 2, 4)


def limbs_to_points(arr: np.ndarray) -> list[tuple[int, int]]:
    """The affine points of a ``(n, 2, 4)`` array (inverse of :func:`points_to_limbs`)."""
    coordinates = limbs_to_ints(np.asarray(arr).reshape(-1, 4))
    return list(zip(coordinates[0::2], coordinates[1::2], strict=True))


def limbs_to_point(arr: np.ndarray) -> tuple[int, int]:
    """One affine point from a ``(2, 4)`` array."""
    x, y = limbs_to_ints(np.asarray(arr).reshape(2, 4))
    return (x, y)

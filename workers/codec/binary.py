"""Binary bodies of docs/architecture.md §4: little-endian, fixed-width, canonical integers.

* A field element is its canonical integer in ``[0, p)`` written little-endian
  on :func:`element_width` bytes: 32 for the 254/255-bit fields (``bn254_fr``,
  ``bls12_381_fr``), 8 for Goldilocks, 4 for BabyBear.
* A G1 point is ``x‖y``, each coordinate a canonical base-field integer on
  32 bytes (BN254) or 48 (BLS12-381, 381 bits), so 64 or 96 bytes a point;
  a G2 point is ``x0‖x1‖y0‖y1`` (coordinates ``c0 + c1·u``), 128 or 192 bytes;
  the point at infinity is all zeros.

Decoding checks everything (length, canonical range, curve membership) and
raises a :class:`~workers.errors.MalformedEncodingError` subclass naming the
problem and the index of the first bad element; encoding validates the whole
input before writing anything and raises
:class:`~workers.errors.ValueOutOfRangeError` /
:class:`~workers.errors.PointNotOnCurveError`.

The ``*_limbs`` decoders are the fast paths: :func:`numpy.frombuffer` plus a
vectorised lexicographic comparison against the modulus limbs, returning the
``uint64`` arrays the kernels take (``(n, 4)`` scalars/elements, ``(n, 1)`` for
one-word fields, ``(n, 2, 4)`` bases).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workers.codec.limb_arrays import LIMB_BYTES, limbs_to_point, limbs_to_points, points_to_limbs
from workers.errors import (
    EncodedPointNotInSubgroupError,
    EncodedPointNotOnCurveError,
    KernelInputError,
    MalformedEncodingError,
    NonCanonicalEncodingError,
    PointNotInSubgroupError,
    PointNotOnCurveError,
    UnknownCurveError,
    UnknownFieldError,
    ValueOutOfRangeError,
)
from workers.msm.checks import first_point_not_in_subgroup, first_point_off_curve
from workers.params import CURVES, FIELDS, CurveParams, FieldParams

_U64 = np.dtype("<u8")
_U32 = np.dtype("<u4")


# ---------------------------------------------------------------------------
# widths and lookups


def _width_for_modulus(modulus: int) -> int:
    """Bytes per canonical integer below ``modulus``: 4, 8, or a whole number of 64-bit limbs."""
    if modulus <= 1 << 32:
        return 4
    return LIMB_BYTES * -(-(modulus - 1).bit_length() // (8 * LIMB_BYTES))


def _field(field: object) -> FieldParams:
    if not isinstance(field, str) or field not in FIELDS:
        raise UnknownFieldError(f"unknown field {field!r}; expected one of {sorted(FIELDS)}")
    return FIELDS[field]


def _curve(curve: object) -> CurveParams:
    if not isinstance(curve, str) or curve not in CURVES:
        raise UnknownCurveError(f"unknown curve {curve!r}; expected one of {sorted(CURVES)}")
    return CURVES[curve]


def element_width(field: str) -> int:
    """Bytes per encoded element of ``field``: 32, 8 (Goldilocks) or 4 (BabyBear)."""
    return _width_for_modulus(_field(field).modulus)


def coordinate_width(curve: str) -> int:
    """Bytes per encoded coordinate of ``curve``: 32 (``bn254_g1``), 48 (``bls12_381_g1``),
    64 (``bn254_g2``: ``c0‖c1``) or 96 (``bls12_381_g2``)."""
    params = _curve(curve)
    return params.degree * _width_for_modulus(params.base_modulus)


def point_width(curve: str) -> int:
    """Bytes per encoded point ``x‖y``: 64, 96, 128 or 192."""
    return 2 * coordinate_width(curve)


def kernel_limbs(field: str) -> int:
    """Words per element in the arrays the kernels take: 1 for one-word fields, else 4+."""
    params = _field(field)
    return 1 if params.modulus <= 1 << 64 else element_width(field) // LIMB_BYTES


# ---------------------------------------------------------------------------
# vectorised decoding core


def _as_bytes(data: object) -> memoryview:
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise MalformedEncodingError(
            f"a binary body must be bytes, not {type(data).__name__}"
        ) from None
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _words(view: memoryview, width: int, what: str, unit: str) -> np.ndarray:
    """``view`` as ``(n, words)`` little-endian words (``uint32`` for width 4, else ``uint64``)."""
    if len(view) % width:
        raise MalformedEncodingError(
            f"{what}: body of {len(view)} bytes is not a multiple of the {width}-byte {unit} "
            f"(a trailing {len(view) % width} bytes after {len(view) // width} {unit}s)"
        )
    if width == 4:
        return np.frombuffer(view, dtype=_U32).reshape(-1, 1)
    return np.frombuffer(view, dtype=_U64).reshape(-1, width // LIMB_BYTES)


def _modulus_words(modulus: int, n_words: int, word_bytes: int) -> list[int]:
    mask = (1 << (8 * word_bytes)) - 1
    return [(modulus >> (8 * word_bytes * i)) & mask for i in range(n_words)]


def first_not_below(words: np.ndarray, modulus: int) -> int:
    """Index of the first row of ``words`` (low word first) that is ``>= modulus``, or −1."""
    n, n_words = words.shape
    if n == 0:
        return -1
    moduli = _modulus_words(modulus, n_words, words.dtype.itemsize)
    below = np.zeros(n, dtype=bool)
    equal = np.ones(n, dtype=bool)
    for i in range(n_words - 1, -1, -1):
        column = words[:, i]
        m = words.dtype.type(moduli[i])
        below |= equal & (column < m)
        equal &= column == m
    bad = np.flatnonzero(~below)
    return int(bad[0]) if bad.size else -1


def _decode_words(field: str, data: object) -> tuple[FieldParams, np.ndarray]:
    params = _field(field)
    width = element_width(field)
    words = _words(_as_bytes(data), width, field, "element")
    bad = first_not_below(words, params.modulus)
    if bad >= 0:
        value = int.from_bytes(words[bad].tobytes(), "little")
        raise NonCanonicalEncodingError(
            f"{field} element {bad} is not canonical: {value} >= modulus {params.modulus}"
        )
    return params, words


# ---------------------------------------------------------------------------
# field elements


def decode_field_elements_limbs(field: str, data: object, n_limbs: int | None = None) -> np.ndarray:
    """Decode a body of ``field`` elements into a writable ``(n, n_limbs)`` ``uint64`` array.

    ``n_limbs`` defaults to the kernels' layout (:func:`kernel_limbs`): 4 for the
    254/255-bit fields, 1 for Goldilocks and BabyBear; a larger ``n_limbs``
    zero-pads (``4`` gives exactly :func:`workers.codec.limb_arrays.ints_to_limbs`).
    """
    _, words = _decode_words(field, data)
    width = words.shape[1] if words.dtype == _U64 else 1
    if n_limbs is None:
        n_limbs = kernel_limbs(field)
    if n_limbs < width:
        raise ValueError(f"{field} elements need at least {width} limbs, not {n_limbs}")
    out = np.zeros((words.shape[0], n_limbs), dtype=np.uint64)
    out[:, :width] = words
    return out


def decode_field_elements(field: str, data: object) -> list[int]:
    """Decode a body of little-endian canonical ``field`` elements into integers."""
    _, words = _decode_words(field, data)
    if words.shape[1] == 1:
        return [int(v) for v in words[:, 0].tolist()]
    raw = words.tobytes()
    width = words.shape[1] * LIMB_BYTES
    from_bytes = int.from_bytes
    return [from_bytes(raw[i : i + width], "little") for i in range(0, len(raw), width)]


def _check_values(values: object, modulus: int, what: str, name: str) -> Sequence[int]:
    if isinstance(values, str | bytes | bytearray) or not isinstance(values, Sequence):
        raise KernelInputError(f"{name} must be a sequence of integers", field=name)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueOutOfRangeError(f"{name}[{i}] is not an integer: {v!r:.40}", field=name)
        if not 0 <= v < modulus:
            raise ValueOutOfRangeError(
                f"{name}[{i}] = {v} is outside the {what} range [0, {modulus})", field=name
            )
    return values


def encode_field_elements(field: str, values: Sequence[int]) -> bytes:
    """The body of ``values``: each canonical element little-endian on :func:`element_width` bytes.

    Raises :class:`~workers.errors.ValueOutOfRangeError` (nothing written) if any
    value is not an integer in ``[0, p)``.
    """
    params = _field(field)
    _check_values(values, params.modulus, field, "values")
    width = element_width(field)
    to_bytes = int.to_bytes
    return b"".join([to_bytes(v, width, "little") for v in values])


def encode_field_elements_limbs(field: str, limbs: np.ndarray) -> bytes:
    """The body of a ``(n, k)`` ``uint64`` limb array of ``field`` elements (kernel output).

    The range is checked vectorised; high limbs beyond the element width must be zero.
    """
    params = _field(field)
    arr = np.asarray(limbs)
    if arr.ndim != 2 or arr.dtype.kind not in "ui":
        raise KernelInputError(f"expected an (n, k) integer limb array, got {arr.shape}")
    arr = arr.astype(_U64, copy=False)
    width = element_width(field)
    n_words = max(1, width // LIMB_BYTES)
    if arr.shape[1] < n_words:
        arr = np.concatenate(
            [arr, np.zeros((arr.shape[0], n_words - arr.shape[1]), dtype=_U64)], axis=1
        )
    bad = first_not_below(arr, params.modulus)
    if bad >= 0:
        raise ValueOutOfRangeError(f"values[{bad}] is outside the {field} range [0, modulus)")
    arr = np.ascontiguousarray(arr[:, :n_words])
    if width == 4:
        return arr.astype(_U32).tobytes()
    return arr.tobytes()


# ---------------------------------------------------------------------------
# points


def _components(params: CurveParams, point: object, i: int) -> list[int]:
    """The canonical integers of ``points[i]`` (``x, y`` or ``x0, x1, y0, y1``), checked."""
    degree = params.degree
    shape = "a pair (x, y)" if degree == 1 else "a pair of pairs ((x0, x1), (y0, y1))"
    if not isinstance(point, Sequence) or isinstance(point, str | bytes) or len(point) != 2:
        raise KernelInputError(f"points[{i}] must be {shape}", field="points")
    out: list[int] = []
    for j, coordinate in enumerate(point):
        if degree == 1:
            parts, names = [coordinate], [f"[{j}]"]
        else:
            if (
                not isinstance(coordinate, Sequence)
                or isinstance(coordinate, str | bytes)
                or len(coordinate) != 2
            ):
                raise KernelInputError(f"points[{i}] must be {shape}", field="points")
            parts, names = list(coordinate), [f"[{j}][0]", f"[{j}][1]"]
        for c, name in zip(parts, names, strict=True):
            if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < params.base_modulus:
                raise ValueOutOfRangeError(
                    f"points[{i}]{name} = {c!r:.80} is not a canonical {params.name} "
                    f"coordinate in [0, {params.base_modulus})",
                    field="points",
                )
            out.append(c)
    return out


def _first_invalid(params: CurveParams, coords: np.ndarray) -> tuple[int, str]:
    """First point of ``(n, 2, words)`` canonical coordinates off the curve or its subgroup."""
    off = first_point_off_curve(params.name, coords)
    if off >= 0:
        return off, "curve"
    if params.cofactor != 1:
        outside = first_point_not_in_subgroup(params.name, coords)
        if outside >= 0:
            return outside, "subgroup"
    return -1, ""


def decode_points_limbs(curve: str, data: object) -> np.ndarray:
    """Decode a body of ``x‖y`` points into a writable ``(n, 2, words)`` ``uint64`` array.

    ``words`` is 4 (``bn254_g1``), 6 (``bls12_381_g1``), 8 (``bn254_g2``) or 12
    (``bls12_381_g2``); a G2 coordinate is ``c0‖c1``.  Every integer must be
    canonical (below the base field modulus), every point on the curve and,
    where the cofactor is not 1, in the prime-order subgroup; all zeros is the
    point at infinity.
    """
    params = _curve(curve)
    cw = coordinate_width(curve)
    view = _as_bytes(data)
    if len(view) % (2 * cw):
        raise MalformedEncodingError(
            f"{curve}: body of {len(view)} bytes is not a multiple of the {2 * cw}-byte point "
            f"(a trailing {len(view) % (2 * cw)} bytes after {len(view) // (2 * cw)} points)"
        )
    degree = params.degree
    words = _words(view, cw // degree, curve, "coordinate")
    bad = first_not_below(words, params.base_modulus)
    if bad >= 0:
        value = int.from_bytes(words[bad].tobytes(), "little")
        part = "xy"[(bad // degree) % 2] + (str(bad % degree) if degree == 2 else "")
        raise NonCanonicalEncodingError(
            f"{curve} point {bad // (2 * degree)} coordinate {part} is not canonical: "
            f"{value} >= base field modulus {params.base_modulus}"
        )
    coords = np.array(words, dtype=np.uint64).reshape(-1, 2, degree * words.shape[1])
    index, what = _first_invalid(params, coords)
    if index >= 0:
        point = limbs_to_point(coords[index], curve)
        if what == "curve":
            raise EncodedPointNotOnCurveError(
                f"{curve} point {index} = {point} is not on the curve"
            )
        raise EncodedPointNotInSubgroupError(
            f"{curve} point {index} = {point} is not in the prime-order subgroup"
        )
    return coords


def decode_points(curve: str, data: object) -> list[tuple]:
    """Decode a body of points into affine tuples (infinity: ``(0, 0)``, ``((0, 0), (0, 0))``)."""
    return limbs_to_points(decode_points_limbs(curve, data), curve)


def encode_points(curve: str, points: Sequence[tuple]) -> bytes:
    """The body of affine ``points``: ``x‖y`` per point (G2: ``x0‖x1‖y0‖y1``), infinity all zeros.

    Raises :class:`~workers.errors.ValueOutOfRangeError` for a coordinate that
    is not a canonical integer, :class:`~workers.errors.PointNotOnCurveError`
    for a point off the curve and :class:`~workers.errors.PointNotInSubgroupError`
    for one outside the prime-order subgroup; nothing is written unless every
    point is valid.
    """
    params = _curve(curve)
    if isinstance(points, str | bytes | bytearray) or not isinstance(points, Sequence):
        raise KernelInputError("points must be a sequence of (x, y) pairs", field="points")
    for i, point in enumerate(points):
        _components(params, point, i)
    coords = points_to_limbs(points, curve)
    index, what = _first_invalid(params, coords)
    if index >= 0:
        if what == "curve":
            raise PointNotOnCurveError(
                f"points[{index}] = {tuple(points[index])} is not on {curve}"
            )
        raise PointNotInSubgroupError(
            f"points[{index}] = {tuple(points[index])} is not in the prime-order subgroup "
            f"of {curve}"
        )
    return coords.astype(_U64, copy=False).tobytes()

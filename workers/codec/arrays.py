"""Element and point arrays in the one format of ``docs/architecture.md`` §4, and their bytes.

Every field element, at rest (job and result blobs, chunk values), on the wire
(binary bodies) and in Ray's object store, is its canonical integer in
``[0, p)`` as compact little-endian words:

==================================  ==========  ===================  ==============
field                               bytes       numpy array          element shape
==================================  ==========  ===================  ==============
``bn254_fr``, ``bls12_381_fr``      32          ``uint64``           ``(n, 4)``
``goldilocks``                      8           ``uint64``           ``(n,)``
``babybear``                        4           ``uint32``           ``(n,)``
==================================  ==========  ===================  ==============

An array's bytes (``arr.tobytes()`` on a little-endian machine) are the
encoding, so decoding is :func:`numpy.frombuffer` plus a vectorised range
check.  A point is its coordinates' words ``x‖y`` — a coordinate of 32 bytes
(BN254, 4 words) or 48 (BLS12-381's 381-bit base field, 6 words); on a G2
curve a coordinate ``c0 + c1·u`` is ``c0‖c1``, so a point is ``x0‖x1‖y0‖y1`` —
as a ``(n, 2, words)`` ``uint64`` array; the point at infinity is all zeros.
MSM scalars are elements of the curve's scalar field (32 bytes).  The
kernels' own layouts (Montgomery limbs, 64-bit words for BabyBear) exist only
inside :mod:`workers.ntt` and the MSM entry points.

Each format has one validator: :func:`first_non_canonical` for elements
(canonical words) and :func:`first_invalid_point` for points (canonical
coordinates, on the curve and, where the cofactor is not 1, in the prime-order
subgroup).  Decoders raise a :class:`~workers.errors.MalformedEncodingError`
subclass naming the problem and the index of the first bad element;
:func:`check_elements`, :func:`elements_from_ints`, :func:`points_from_ints`
and the encoders raise :class:`~workers.errors.ValueOutOfRangeError`,
:class:`~workers.errors.PointNotOnCurveError` and
:class:`~workers.errors.PointNotInSubgroupError` and write nothing unless the
whole input is valid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workers.codec.limb_arrays import (
    LIMB_BYTES,
    coordinate_words,
    ints_to_limbs,
    limbs_to_ints,
    limbs_to_point,
    points_to_limbs,
)
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

# --- names, widths, shapes ------------------------------------------------------------------


def field_params(field: object) -> FieldParams:
    """The parameters of the field named ``field``, or :class:`UnknownFieldError`."""
    if not isinstance(field, str) or field not in FIELDS:
        raise UnknownFieldError(f"unknown field {field!r}; known: {', '.join(sorted(FIELDS))}")
    return FIELDS[field]


def curve_params(curve: object) -> CurveParams:
    """The parameters of the curve named ``curve``, or :class:`UnknownCurveError`."""
    if not isinstance(curve, str) or curve not in CURVES:
        raise UnknownCurveError(f"unknown curve {curve!r}; known: {', '.join(sorted(CURVES))}")
    return CURVES[curve]


def element_width(field: str) -> int:
    """Bytes per element of ``field``: 32, 8 (Goldilocks) or 4 (BabyBear)."""
    bits = field_params(field).modulus.bit_length()
    return 4 if bits <= 32 else LIMB_BYTES * -(-bits // (8 * LIMB_BYTES))


def element_dtype(field: str) -> np.dtype:
    """The numpy dtype of ``field``'s words: ``uint32`` for BabyBear, else ``uint64``."""
    return np.dtype(np.uint32) if element_width(field) == 4 else np.dtype(np.uint64)


def element_words(field: str) -> int:
    """Words per element: 4 for the 254/255-bit fields, 1 for Goldilocks and BabyBear."""
    return element_width(field) // element_dtype(field).itemsize


def element_shape(field: str, *lead: int) -> tuple[int, ...]:
    """The shape of an array of ``lead`` elements: ``(*lead, 4)`` or ``lead`` (one word)."""
    words = element_words(field)
    return (*lead, words) if words > 1 else tuple(lead)


def coordinate_width(curve: str) -> int:
    """Bytes per coordinate of ``curve``: 32 (``bn254_g1``), 48 (``bls12_381_g1``),
    64 (``bn254_g2``: ``c0‖c1``) or 96 (``bls12_381_g2``)."""
    curve_params(curve)
    return LIMB_BYTES * coordinate_words(curve)


def point_width(curve: str) -> int:
    """Bytes per point ``x‖y``: 64, 96, 128 or 192."""
    return 2 * coordinate_width(curve)


def scalar_width(curve: str) -> int:
    """Bytes per MSM scalar (an element of the curve's scalar field): 32."""
    return element_width(curve_params(curve).scalar_field)


# --- the validators ----------------------------------------------------------------------------


def first_not_below(words: np.ndarray, modulus: int) -> int:
    """Index of the first row of ``(n, k)`` little-endian ``words`` that is ``>= modulus``, or −1.

    Vectorised: a lexicographic comparison against the modulus' words, high word first.
    """
    n, n_words = words.shape
    bits = 8 * words.dtype.itemsize
    if n == 0 or modulus >> (bits * n_words):  # every row is below a modulus that wide
        return -1
    mask = (1 << bits) - 1
    below = np.zeros(n, dtype=bool)
    equal = np.ones(n, dtype=bool)
    for i in range(n_words - 1, -1, -1):
        column = words[:, i]
        m = words.dtype.type((modulus >> (bits * i)) & mask)
        below |= equal & (column < m)
        equal &= column == m
    bad = np.flatnonzero(~below)
    return int(bad[0]) if bad.size else -1


def first_non_canonical(field: str, values: np.ndarray) -> int:
    """The elements' validator: the flat index of the first element ``>= p``, or −1.

    ``values`` has ``field``'s element shape (any leading dimensions).
    """
    words = np.asarray(values).reshape(-1, element_words(field))
    return first_not_below(words, field_params(field).modulus)


def _element_value(field: str, values: np.ndarray, index: int) -> int:
    row = np.asarray(values).reshape(-1, element_words(field))[index]
    return int.from_bytes(row.astype(row.dtype.newbyteorder("<")).tobytes(), "little")


def check_elements(field: str, values: object, name: str = "values") -> np.ndarray:
    """``values`` if it is a valid array of ``field`` elements: dtype, element shape, canonical.

    Raises :class:`KernelInputError` for something that is not such an array
    and :class:`ValueOutOfRangeError` (naming ``name[i]``) for a value ``>= p``.
    """
    params = field_params(field)
    dtype, words = element_dtype(field), element_words(field)
    arr = values
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
        got = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
        raise KernelInputError(f"{name} must be a {dtype} array of {field} elements, not {got}")
    if arr.ndim < (2 if words > 1 else 1) or (words > 1 and arr.shape[-1] != words):
        raise KernelInputError(
            f"{name} must have the {field} element shape {element_shape(field, 'n')}, "
            f"not {arr.shape}"
        )
    bad = first_non_canonical(field, arr)
    if bad >= 0:
        raise ValueOutOfRangeError(
            f"{name}[{bad}] = {_element_value(field, arr, bad)} is outside the {field} range "
            f"[0, {params.modulus})",
            field=name,
        )
    return arr


def first_invalid_point(curve: str, coords: np.ndarray) -> tuple[int, str]:
    """The points' validator: ``(index, problem)`` of the first bad point of ``(n, 2, words)``
    coordinates, or ``(−1, "")``.

    ``problem`` is ``"canonical"`` (a coordinate word ``>= p``; the index is then
    that of the coordinate, ``point·2·degree + slot``), ``"curve"`` (off the
    curve) or ``"subgroup"`` (outside the prime-order subgroup, checked only
    where the cofactor is not 1).  All zeros is the point at infinity.
    """
    params = curve_params(curve)
    per_coordinate = coordinate_words(curve) // params.degree
    bad = first_not_below(coords.reshape(-1, per_coordinate), params.base_modulus)
    if bad >= 0:
        return bad, "canonical"
    off = first_point_off_curve(curve, coords)
    if off >= 0:
        return off, "curve"
    if params.cofactor != 1:
        outside = first_point_not_in_subgroup(curve, coords)
        if outside >= 0:
            return outside, "subgroup"
    return -1, ""


# --- elements ------------------------------------------------------------------------------


def _as_bytes(data: object) -> memoryview:
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise MalformedEncodingError(
            f"a binary body must be bytes, not {type(data).__name__}"
        ) from None
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _whole(view: memoryview, width: int, what: str, unit: str) -> int:
    """How many ``width``-byte ``unit``s ``view`` holds, or :class:`MalformedEncodingError`."""
    if len(view) % width:
        raise MalformedEncodingError(
            f"{what}: body of {len(view)} bytes is not a multiple of the {width}-byte {unit} "
            f"(a trailing {len(view) % width} bytes after {len(view) // width} {unit}s)"
        )
    return len(view) // width


def _frombuffer(view: memoryview, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """A writable native-order array of the little-endian words in ``view``."""
    arr = np.frombuffer(view, dtype=dtype.newbyteorder("<")).reshape(shape)
    arr = arr.astype(dtype, copy=False)
    return arr if arr.flags.writeable else arr.copy()


def _decode_elements(field: str, view: memoryview, what: str, unit: str) -> np.ndarray:
    n = _whole(view, element_width(field), what, unit)
    values = _frombuffer(view, element_dtype(field), element_shape(field, n))
    bad = first_non_canonical(field, values)
    if bad >= 0:
        raise NonCanonicalEncodingError(
            f"{what} {unit} {bad} is not canonical: {_element_value(field, values, bad)} >= "
            f"modulus {field_params(field).modulus}"
        )
    return values


def decode_elements(field: str, data: bytes) -> np.ndarray:
    """The ``field`` elements of a body, as a writable compact array (length and range checked).

    :class:`MalformedEncodingError` for a body that is not whole elements,
    :class:`NonCanonicalEncodingError` naming the first element ``>= p``.
    """
    field_params(field)
    return _decode_elements(field, _as_bytes(data), field, "element")


def encode_elements(field: str, values: np.ndarray) -> bytes:
    """The body of a compact array of ``field`` elements (checked by :func:`check_elements`)."""
    arr = check_elements(field, values)
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()


def _check_int_sequence(values: object, bound: int, what: str, name: str) -> Sequence[int]:
    if isinstance(values, str | bytes | bytearray) or not isinstance(values, Sequence):
        raise KernelInputError(f"{name} must be a sequence of integers", field=name)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueOutOfRangeError(f"{name}[{i}] is not an integer: {v!r:.40}", field=name)
        if not 0 <= v < bound:
            raise ValueOutOfRangeError(
                f"{name}[{i}] = {v} is outside the {what} range [0, {bound})", field=name
            )
    return values


def elements_from_ints(
    field: str, values: Sequence[int], name: str = "values", *, checked: bool = True
) -> np.ndarray:
    """Canonical integers as a writable compact array of ``field`` elements.

    Raises :class:`ValueOutOfRangeError` naming ``name[i]`` for anything that is
    not an integer in ``[0, p)``; ``checked=False`` skips that loop for values a
    caller has checked already (:mod:`workers.api`).
    """
    params = field_params(field)
    if checked:
        _check_int_sequence(values, params.modulus, field, name)
    words = element_words(field)
    if words > 1:
        return ints_to_limbs(values, words)
    return np.array(values, dtype=np.uint64).reshape(len(values)).astype(element_dtype(field))


def elements_to_ints(field: str, values: np.ndarray) -> list[int]:
    """The integers of a compact array of ``field`` elements, flattened in C order."""
    words = element_words(field)
    arr = np.asarray(values)
    if words == 1:
        return arr.reshape(-1).tolist()
    return limbs_to_ints(arr.reshape(-1, words))


# --- points ----------------------------------------------------------------------------------


def _raise_point(curve: str, coords: np.ndarray, index: int, problem: str, encoded: bool) -> None:
    """The error for :func:`first_invalid_point`'s finding, worded for bytes or for integers."""
    params = CURVES[curve]
    degree = params.degree
    if problem == "canonical":
        point, slot = divmod(index, 2 * degree)
        part = "xy"[slot // degree] + (str(slot % degree) if degree == 2 else "")
        per_coordinate = coordinate_words(curve) // degree
        value = limbs_to_ints(coords.reshape(-1, per_coordinate)[index : index + 1])[0]
        if encoded:
            raise NonCanonicalEncodingError(
                f"{curve} point {point} coordinate {part} is not canonical: "
                f"{value} >= base field modulus {params.base_modulus}"
            )
        raise ValueOutOfRangeError(
            f"points[{point}] coordinate {part} = {value} is not a canonical {curve} "
            f"coordinate in [0, {params.base_modulus})",
            field="points",
        )
    shown = limbs_to_point(coords[index], curve)
    if problem == "curve":
        if encoded:
            raise EncodedPointNotOnCurveError(
                f"{curve} point {index} = {shown} is not on the curve"
            )
        raise PointNotOnCurveError(f"points[{index}] = {shown} is not on {curve}")
    if encoded:
        raise EncodedPointNotInSubgroupError(
            f"{curve} point {index} = {shown} is not in the prime-order subgroup"
        )
    raise PointNotInSubgroupError(
        f"points[{index}] = {shown} is not in the prime-order subgroup of {curve}"
    )


def _check_points_array(curve: str, coords: np.ndarray, encoded: bool, on_curve: bool) -> None:
    if on_curve:
        index, problem = first_invalid_point(curve, coords)
    else:  # the canonical range only
        params = CURVES[curve]
        per_coordinate = coordinate_words(curve) // params.degree
        index = first_not_below(coords.reshape(-1, per_coordinate), params.base_modulus)
        problem = "canonical"
    if index >= 0:
        _raise_point(curve, coords, index, problem, encoded)


def _decode_points(curve: str, view: memoryview, n: int, check_points: bool) -> np.ndarray:
    coords = _frombuffer(view, np.dtype(np.uint64), (n, 2, coordinate_words(curve)))
    _check_points_array(curve, coords, encoded=True, on_curve=check_points)
    return coords


def decode_points(curve: str, data: bytes) -> np.ndarray:
    """The points of a body ``x‖y …`` as a writable ``(n, 2, words)`` ``uint64`` array.

    ``words`` is 4 (``bn254_g1``), 6 (``bls12_381_g1``), 8 (``bn254_g2``) or 12
    (``bls12_381_g2``).  Every coordinate must be canonical, every point on the
    curve and (cofactor ≠ 1) in the prime-order subgroup; all zeros is infinity.
    """
    view = _as_bytes(data)
    n = _whole(view, point_width(curve), curve, "point")
    return _decode_points(curve, view, n, True)


def _point_ints(params: CurveParams, point: object, i: int) -> None:
    """``points[i]`` is ``(x, y)`` (G2: ``((x0, x1), (y0, y1))``) of canonical integers."""
    degree = params.degree
    shape = "a pair (x, y)" if degree == 1 else "a pair of pairs ((x0, x1), (y0, y1))"
    if not isinstance(point, Sequence) or isinstance(point, str | bytes) or len(point) != 2:
        raise KernelInputError(f"points[{i}] must be {shape}", field="points")
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


def points_from_ints(curve: str, points: Sequence[tuple]) -> np.ndarray:
    """Affine points (infinity ``(0, 0)``) as a checked ``(n, 2, words)`` array.

    :class:`ValueOutOfRangeError` for a coordinate that is not a canonical
    integer, :class:`PointNotOnCurveError` / :class:`PointNotInSubgroupError`
    for a point off the curve or outside the prime-order subgroup.
    """
    params = curve_params(curve)
    if isinstance(points, str | bytes | bytearray) or not isinstance(points, Sequence):
        raise KernelInputError("points must be a sequence of (x, y) pairs", field="points")
    for i, point in enumerate(points):
        _point_ints(params, point, i)
    coords = points_to_limbs(points, curve)
    _check_points_array(curve, coords, encoded=False, on_curve=True)
    return coords


def encode_points(curve: str, points: Sequence[tuple]) -> bytes:
    """The body of affine ``points``: ``x‖y`` per point (G2 ``x0‖x1‖y0‖y1``), infinity all zeros.

    Checked as :func:`points_from_ints`: nothing is written unless every point is valid.
    """
    return points_from_ints(curve, points).astype("<u8", copy=False).tobytes()


# --- MSM input: n points, then n scalars ---------------------------------------------------------


def msm_input_size(curve: str, data: bytes) -> int:
    """How many terms (point, scalar) an MSM body on ``curve`` holds: its length / term width."""
    point_bytes, scalar_bytes = point_width(curve), scalar_width(curve)
    per_term = point_bytes + scalar_bytes
    size = len(_as_bytes(data))
    if not size or size % per_term:
        raise MalformedEncodingError(
            f"{curve} MSM body of {size} bytes is not n·{per_term} bytes "
            f"(n points of {point_bytes} bytes, then n scalars of {scalar_bytes})"
        )
    return size // per_term


def decode_msm_input(
    curve: str, data: bytes, n: int, *, check_points: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(bases (n, 2, words), scalars (n, 4))`` of an MSM body: ``n`` points, then ``n`` scalars.

    The length and every word's range (coordinates below ``p``, scalars below
    ``r``) are always checked; curve and subgroup membership too unless
    ``check_points`` is false (for a blob this pool validated when it stored it:
    the subgroup check costs about 0.1–0.2 ms a point on the curves with a cofactor).
    """
    params = curve_params(curve)
    view = _as_bytes(data)
    point_bytes, scalar_bytes = point_width(curve), scalar_width(curve)
    if len(view) != n * (point_bytes + scalar_bytes):
        raise MalformedEncodingError(
            f"{curve} MSM body of {len(view)} bytes is not {n}·{point_bytes + scalar_bytes} "
            f"bytes ({n} points of {point_bytes} bytes, then {n} scalars of {scalar_bytes})"
        )
    bases = _decode_points(curve, view[: n * point_bytes], n, check_points)
    scalars = _decode_elements(params.scalar_field, view[n * point_bytes :], curve, "scalar")
    return bases, scalars


def encode_msm_input(
    curve: str, bases: np.ndarray, scalars: np.ndarray, *, check_points: bool = True
) -> bytes:
    """The MSM body of ``bases (n, 2, words)`` and ``scalars (n, 4)``: points, then scalars.

    Shapes, dtypes and ranges are checked; curve and subgroup membership too
    unless ``check_points`` is false (for points already checked, e.g. by
    :func:`workers.api.validate_msm_input`).
    """
    params = curve_params(curve)
    shape = (len(bases), 2, coordinate_words(curve))
    if not isinstance(bases, np.ndarray) or bases.dtype != np.uint64 or bases.shape != shape:
        got = bases.shape if isinstance(bases, np.ndarray) else type(bases).__name__
        raise KernelInputError(
            f"bases must be a uint64 array of shape {shape} for {curve}, not {got}",
            field="points",
        )
    scalars = check_elements(params.scalar_field, scalars, "scalars")
    if scalars.shape[:-1] != (len(bases),):
        raise KernelInputError(
            f"{len(bases)} bases but scalars of shape {scalars.shape}", field="scalars"
        )
    _check_points_array(curve, bases, encoded=False, on_curve=check_points)
    return bases.astype("<u8", copy=False).tobytes() + scalars.astype("<u8", copy=False).tobytes()

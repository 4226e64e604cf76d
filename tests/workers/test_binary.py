"""Binary bodies of docs/architecture.md §4: round trips and rejection of malformed input."""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.codec.binary import (
    coordinate_width,
    decode_field_elements,
    decode_field_elements_limbs,
    decode_points,
    decode_points_limbs,
    element_width,
    encode_field_elements,
    encode_field_elements_limbs,
    encode_points,
    kernel_limbs,
    point_width,
)
from workers.codec.limb_arrays import ints_to_limbs, limbs_to_points, points_to_limbs
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
from workers.params import CURVES, FIELDS, INFINITY
from workers.reference import (
    in_subgroup,
    point_neg,
    random_curve_point,
    random_points,
    scalar_mul,
)

FIELD_NAMES = sorted(FIELDS)
BN254 = CURVES["bn254_g1"]
P = BN254.base_modulus


def _elements(field: str) -> st.SearchStrategy[list[int]]:
    p = FIELDS[field].modulus
    edge = st.sampled_from([0, 1, p - 1, p - 2, p // 2])
    return st.lists(st.one_of(edge, st.integers(0, p - 1)), max_size=30)


@st.composite
def _field_and_values(draw: st.DrawFn) -> tuple[str, list[int]]:
    field = draw(st.sampled_from(FIELD_NAMES))
    return field, draw(_elements(field))


@st.composite
def _points(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Random points, small multiples of G (and their negations) and infinity, shuffled."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    points = random_points("bn254_g1", draw(st.integers(0, 6)), rng)
    for k in draw(st.lists(st.integers(1, 2**64), max_size=3)):
        points.append(scalar_mul(BN254, BN254.generator, k))
    points.append(scalar_mul(BN254, BN254.generator, BN254.order - 1))  # −G
    points += [INFINITY] * draw(st.integers(0, 3))
    rng.shuffle(points)
    return points


# -- widths -------------------------------------------------------------------


def test_widths() -> None:
    assert element_width("bn254_fr") == 32
    assert element_width("bls12_381_fr") == 32
    assert element_width("goldilocks") == 8
    assert element_width("babybear") == 4
    assert coordinate_width("bn254_g1") == 32
    assert point_width("bn254_g1") == 64
    assert kernel_limbs("bn254_fr") == 4
    assert kernel_limbs("goldilocks") == 1
    assert kernel_limbs("babybear") == 1


def test_unknown_names() -> None:
    with pytest.raises(UnknownFieldError):
        element_width("nope")
    with pytest.raises(UnknownFieldError):
        decode_field_elements("nope", b"")
    with pytest.raises(UnknownCurveError):
        decode_points("nope", b"")
    with pytest.raises(UnknownCurveError):
        encode_points("nope", [])


# -- field elements -------------------------------------------------------------


@given(_field_and_values())
def test_field_round_trip(case: tuple[str, list[int]]) -> None:
    field, values = case
    body = encode_field_elements(field, values)
    assert len(body) == element_width(field) * len(values)
    assert decode_field_elements(field, body) == values
    assert decode_field_elements(field, bytearray(body)) == values
    assert decode_field_elements(field, memoryview(body)) == values
    limbs = decode_field_elements_limbs(field, body)
    assert limbs.dtype == np.uint64 and limbs.flags.c_contiguous and limbs.flags.writeable
    assert limbs.shape == (len(values), kernel_limbs(field))
    np.testing.assert_array_equal(limbs, ints_to_limbs(values, kernel_limbs(field)))
    np.testing.assert_array_equal(
        decode_field_elements_limbs(field, body, 4), ints_to_limbs(values)
    )
    assert encode_field_elements_limbs(field, limbs) == body
    assert encode_field_elements_limbs(field, ints_to_limbs(values)) == body


@given(_elements("bn254_fr"))
def test_bn254_encoding_is_int_to_bytes(values: list[int]) -> None:
    body = encode_field_elements("bn254_fr", values)
    assert body == b"".join(v.to_bytes(32, "little") for v in values)
    # The app's stored limb layout (pool_api.codec) is the same bytes.
    assert ints_to_limbs(values).astype("<u8").tobytes() == body


@pytest.mark.parametrize("field", FIELD_NAMES)
def test_empty_decodes_to_empty(field: str) -> None:
    assert decode_field_elements(field, b"") == []
    assert decode_field_elements_limbs(field, b"").shape == (0, kernel_limbs(field))
    assert encode_field_elements(field, []) == b""


@given(_field_and_values(), st.data())
def test_field_rejects_truncated(case: tuple[str, list[int]], data: st.DataObject) -> None:
    field, values = case
    width = element_width(field)
    body = encode_field_elements(field, values) + bytes(width)
    cut = data.draw(st.integers(1, width - 1))
    for decode in (decode_field_elements, decode_field_elements_limbs):
        with pytest.raises(MalformedEncodingError, match="not a multiple") as info:
            decode(field, body[:-cut])
        assert info.value.field == "body"


@pytest.mark.parametrize("field", FIELD_NAMES)
@given(data=st.data())
@settings(max_examples=25)
def test_field_rejects_non_canonical(field: str, data: st.DataObject) -> None:
    p = FIELDS[field].modulus
    width = element_width(field)
    top = (1 << (8 * width)) - 1
    bad = data.draw(st.sampled_from([p, p + 1, top]) | st.integers(p, top))
    good = data.draw(_elements(field))
    index = data.draw(st.integers(0, len(good)))
    body = bytearray(encode_field_elements(field, good))
    body[index * width : index * width] = bad.to_bytes(width, "little")
    for decode in (decode_field_elements, decode_field_elements_limbs):
        with pytest.raises(NonCanonicalEncodingError, match=f"element {index} ") as info:
            decode(field, bytes(body))
        assert info.value.field == "body"
        assert isinstance(info.value, ValueOutOfRangeError)
    with pytest.raises(ValueOutOfRangeError, match=rf"values\[{index}\]"):
        encode_field_elements(field, [*good[:index], bad, *good[index:]])


def test_bn254_non_canonical_edges() -> None:
    r = FIELDS["bn254_fr"].modulus
    for bad in (r, r + 1, 2**256 - 1):
        body = (r - 1).to_bytes(32, "little") + bad.to_bytes(32, "little")
        with pytest.raises(NonCanonicalEncodingError, match="element 1 "):
            decode_field_elements("bn254_fr", body)
        with pytest.raises(NonCanonicalEncodingError, match="element 1 "):
            decode_field_elements_limbs("bn254_fr", body)
    # A value that differs from p only in a low limb, both ways.
    assert decode_field_elements("bn254_fr", (r - 1).to_bytes(32, "little")) == [r - 1]
    hi_eq = (r & ~((1 << 64) - 1)) + ((1 << 64) - 1)
    assert hi_eq > r
    with pytest.raises(NonCanonicalEncodingError):
        decode_field_elements("bn254_fr", hi_eq.to_bytes(32, "little"))


def test_encode_rejects_bad_values_before_writing() -> None:
    with pytest.raises(ValueOutOfRangeError, match=r"values\[1\]"):
        encode_field_elements("babybear", [1, -1])
    with pytest.raises(ValueOutOfRangeError, match=r"values\[0\]"):
        encode_field_elements("goldilocks", [True])
    with pytest.raises(ValueOutOfRangeError, match=r"values\[2\]"):
        encode_field_elements("bn254_fr", [0, 1, "2"])  # type: ignore[list-item]
    with pytest.raises(KernelInputError):
        encode_field_elements("bn254_fr", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueOutOfRangeError, match=r"values\[1\]"):
        encode_field_elements_limbs("goldilocks", np.array([[0], [2**64 - 1]], dtype=np.uint64))


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(MalformedEncodingError):
        decode_field_elements("bn254_fr", "00" * 32)  # type: ignore[arg-type]
    with pytest.raises(MalformedEncodingError):
        decode_points("bn254_g1", [0] * 64)  # type: ignore[arg-type]


# -- points -------------------------------------------------------------------------


@given(_points())
@settings(max_examples=40)
def test_points_round_trip(points: list[tuple[int, int]]) -> None:
    body = encode_points("bn254_g1", points)
    assert len(body) == 64 * len(points)
    assert body == b"".join(x.to_bytes(32, "little") + y.to_bytes(32, "little") for x, y in points)
    assert decode_points("bn254_g1", body) == points
    limbs = decode_points_limbs("bn254_g1", body)
    assert limbs.shape == (len(points), 2, 4) and limbs.dtype == np.uint64
    assert limbs.flags.writeable
    np.testing.assert_array_equal(limbs, points_to_limbs(points))


def test_infinity_is_all_zeros() -> None:
    assert encode_points("bn254_g1", [INFINITY]) == bytes(64)
    assert decode_points("bn254_g1", bytes(128)) == [INFINITY, INFINITY]
    assert decode_points("bn254_g1", b"") == []
    assert decode_points_limbs("bn254_g1", b"").shape == (0, 2, 4)


@given(_points(), st.integers(1, 63))
@settings(max_examples=20)
def test_points_reject_truncated(points: list[tuple[int, int]], cut: int) -> None:
    body = encode_points("bn254_g1", points) + bytes(64)
    with pytest.raises(MalformedEncodingError, match="not a multiple") as info:
        decode_points("bn254_g1", body[:-cut])
    assert info.value.field == "body"


@given(_points(), st.data())
@settings(max_examples=30)
def test_points_reject_off_curve(points: list[tuple[int, int]], data: st.DataObject) -> None:
    x = data.draw(st.integers(0, P - 1))
    y = data.draw(st.integers(0, P - 1))
    if (y * y - x**3 - 3) % P == 0 or (x, y) == INFINITY:
        return
    index = data.draw(st.integers(0, len(points)))
    bad = [*points[:index], (x, y), *points[index:]]
    body = b"".join(a.to_bytes(32, "little") + b.to_bytes(32, "little") for a, b in bad)
    with pytest.raises(EncodedPointNotOnCurveError, match=f"point {index} ") as info:
        decode_points("bn254_g1", body)
    assert info.value.field == "body"
    assert isinstance(info.value, PointNotOnCurveError)
    with pytest.raises(EncodedPointNotOnCurveError):
        decode_points_limbs("bn254_g1", body)
    with pytest.raises(PointNotOnCurveError, match=rf"points\[{index}\]"):
        encode_points("bn254_g1", bad)


@pytest.mark.parametrize("bad", [P, P + 1, 2**256 - 1])
@pytest.mark.parametrize("coordinate", [0, 1])
def test_points_reject_non_canonical(bad: int, coordinate: int) -> None:
    g = BN254.generator
    # (x + p, y) would be on the curve modulo p: it must still be rejected.
    coords = [g[0], g[1]]
    coords[coordinate] = bad if bad != P else g[coordinate] + P
    body = encode_points("bn254_g1", [g]) + b"".join(c.to_bytes(32, "little") for c in coords)
    with pytest.raises(NonCanonicalEncodingError, match=f"point 1 coordinate {'xy'[coordinate]}"):
        decode_points("bn254_g1", body)
    with pytest.raises(ValueOutOfRangeError, match=r"points\[1\]"):
        encode_points("bn254_g1", [g, tuple(coords)])  # type: ignore[list-item]


def test_encode_points_rejects_malformed() -> None:
    with pytest.raises(KernelInputError, match=r"points\[0\]"):
        encode_points("bn254_g1", [(1, 2, 3)])  # type: ignore[list-item]
    with pytest.raises(ValueOutOfRangeError, match=r"points\[1\]\[1\]"):
        encode_points("bn254_g1", [(1, 2), (1, -2)])
    with pytest.raises(PointNotOnCurveError, match=r"points\[0\]"):
        encode_points("bn254_g1", [(0, 1)])


# -- the other curves: BLS12-381 (48-byte coordinates) and the G2 curves ----------------------

OTHER_CURVES = ["bls12_381_g1", "bn254_g2", "bls12_381_g2"]


@functools.cache
def _pool(curve: str) -> tuple[tuple, ...]:
    """A few subgroup points, their negations and infinity."""
    params = CURVES[curve]
    points = random_points(curve, 3, random.Random(curve))
    return (*points, *(point_neg(params, p) for p in points), params.generator, params.infinity)


def _flat(curve: str, point: tuple) -> list[int]:
    if CURVES[curve].degree == 2:
        return [*point[0], *point[1]]
    return list(point)


def _body(curve: str, points: list[tuple]) -> bytes:
    width = coordinate_width(curve) // CURVES[curve].degree
    return b"".join(c.to_bytes(width, "little") for p in points for c in _flat(curve, p))


@st.composite
def _curve_points(draw: st.DrawFn) -> tuple[str, list[tuple]]:
    curve = draw(st.sampled_from(OTHER_CURVES))
    return curve, draw(st.lists(st.sampled_from(_pool(curve)), max_size=8))


def test_other_curve_widths() -> None:
    assert [coordinate_width(c) for c in OTHER_CURVES] == [48, 64, 96]
    assert [point_width(c) for c in OTHER_CURVES] == [96, 128, 192]


@given(_curve_points())
@settings(max_examples=30)
def test_other_curve_points_round_trip(case: tuple[str, list[tuple]]) -> None:
    curve, points = case
    body = encode_points(curve, points)
    assert body == _body(curve, points)
    assert len(body) == point_width(curve) * len(points)
    assert decode_points(curve, body) == points
    limbs = decode_points_limbs(curve, body)
    assert limbs.flags.writeable and limbs.dtype == np.uint64
    np.testing.assert_array_equal(limbs, points_to_limbs(points, curve))
    assert limbs_to_points(limbs, curve) == points


@pytest.mark.parametrize("curve", OTHER_CURVES)
def test_other_curve_infinity_is_all_zeros(curve: str) -> None:
    infinity = CURVES[curve].infinity
    assert encode_points(curve, [infinity]) == bytes(point_width(curve))
    assert decode_points(curve, bytes(2 * point_width(curve))) == [infinity, infinity]
    assert decode_points_limbs(curve, b"").shape == (0, 2, point_width(curve) // 16)


@given(_curve_points(), st.data())
@settings(max_examples=20)
def test_other_curve_points_reject_truncated(
    case: tuple[str, list[tuple]], data: st.DataObject
) -> None:
    curve, points = case
    cut = data.draw(st.integers(1, point_width(curve) - 1))
    body = encode_points(curve, points) + bytes(point_width(curve))
    with pytest.raises(MalformedEncodingError, match="not a multiple"):
        decode_points(curve, body[:-cut])


@given(_curve_points(), st.data())
@settings(max_examples=20)
def test_other_curve_points_reject_non_canonical(
    case: tuple[str, list[tuple]], data: st.DataObject
) -> None:
    curve, points = case
    params = CURVES[curve]
    p = params.base_modulus
    width = coordinate_width(curve) // params.degree
    top = (1 << (8 * width)) - 1
    bad = data.draw(st.sampled_from([p, p + 1, top]) | st.integers(p, top))
    index = data.draw(st.integers(0, len(points)))
    slot = data.draw(st.integers(0, 2 * params.degree - 1))
    g = _flat(curve, params.generator)
    g[slot] = bad
    body = _body(curve, points[:index]) + b"".join(c.to_bytes(width, "little") for c in g)
    body += _body(curve, points[index:])
    name = "xy"[slot // params.degree] + (str(slot % 2) if params.degree == 2 else "")
    with pytest.raises(NonCanonicalEncodingError, match=f"point {index} coordinate {name} "):
        decode_points(curve, body)


@pytest.mark.parametrize("curve", OTHER_CURVES)
def test_other_curve_points_reject_off_curve_and_outside_subgroup(curve: str) -> None:
    params = CURVES[curve]
    good = list(_pool(curve))
    x, y = params.generator
    off = (x, (y[0], (y[1] + 1) % params.base_modulus)) if params.degree == 2 else (x, y + 1)
    rng = random.Random(3)
    outside = random_curve_point(curve, rng)
    while in_subgroup(params, outside):
        outside = random_curve_point(curve, rng)
    for bad, error, plain in (
        (off, EncodedPointNotOnCurveError, PointNotOnCurveError),
        (outside, EncodedPointNotInSubgroupError, PointNotInSubgroupError),
    ):
        body = _body(curve, [*good, bad])
        with pytest.raises(error, match=f"point {len(good)} ") as info:
            decode_points(curve, body)
        assert info.value.field == "body" and isinstance(info.value, plain)
        with pytest.raises(plain, match=rf"points\[{len(good)}\]"):
            encode_points(curve, [*good, bad])


@pytest.mark.parametrize("curve", OTHER_CURVES)
def test_other_curve_encode_rejects_malformed(curve: str) -> None:
    params = CURVES[curve]
    g = params.generator
    if params.degree == 2:
        shapes = [(1, 2), ((1, 2, 3), (4, 5)), (g[0],)]
        out_of_range = (g[0], (g[1][0], params.base_modulus))
        where = r"points\[1\]\[1\]\[1\]"
    else:
        shapes = [((1, 2), (3, 4)), (1, 2, 3)]
        out_of_range = (g[0], params.base_modulus)
        where = r"points\[1\]\[1\]"
    for bad in shapes:
        with pytest.raises(KernelInputError, match=r"points\[1\]"):
            encode_points(curve, [g, bad])
    with pytest.raises(ValueOutOfRangeError, match=where):
        encode_points(curve, [g, out_of_range])

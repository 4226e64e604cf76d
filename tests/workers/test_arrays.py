"""The compact element/point format of ``docs/architecture.md`` §4 (:mod:`workers.codec.arrays`):
round trips for every field and curve, dtypes and shapes, and rejection of malformed input."""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.codec.arrays import (
    check_elements,
    coordinate_width,
    decode_elements,
    decode_msm_input,
    decode_points,
    element_dtype,
    element_shape,
    element_width,
    element_words,
    elements_from_ints,
    elements_to_ints,
    encode_elements,
    encode_msm_input,
    encode_points,
    first_non_canonical,
    first_not_below,
    msm_input_size,
    point_width,
    points_from_ints,
    scalar_width,
)
from workers.codec.limb_arrays import limbs_to_points, points_to_limbs
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
from workers.reference import in_subgroup, point_neg, random_curve_point, random_points

FIELD_NAMES = sorted(FIELDS)
CURVE_NAMES = sorted(CURVES)
WIDTHS = {"bn254_fr": 32, "bls12_381_fr": 32, "goldilocks": 8, "babybear": 4}


def _element(field: str) -> st.SearchStrategy[int]:
    p = FIELDS[field].modulus
    return st.one_of(st.sampled_from([0, 1, p - 1, p - 2, p // 2]), st.integers(0, p - 1))


def _elements(field: str) -> st.SearchStrategy[list[int]]:
    return st.lists(_element(field), max_size=30)


@st.composite
def _field_and_values(draw: st.DrawFn) -> tuple[str, list[int]]:
    field = draw(st.sampled_from(FIELD_NAMES))
    return field, draw(_elements(field))


def _body(field: str, values: list[int]) -> bytes:
    """The reference encoding: each integer little-endian on the field's width."""
    return b"".join(v.to_bytes(WIDTHS[field], "little") for v in values)


# -- formats ---------------------------------------------------------------------------------


def test_formats() -> None:
    assert {f: element_width(f) for f in FIELD_NAMES} == WIDTHS
    assert element_dtype("babybear") == np.uint32
    assert element_dtype("goldilocks") == np.uint64
    assert element_dtype("bn254_fr") == np.uint64 == element_dtype("bls12_381_fr")
    assert [element_words(f) for f in ("bn254_fr", "bls12_381_fr", "goldilocks", "babybear")] == [
        4,
        4,
        1,
        1,
    ]
    assert element_shape("bn254_fr", 5) == (5, 4)
    assert element_shape("goldilocks", 2, 3) == (2, 3)
    assert [coordinate_width(c) for c in CURVE_NAMES] == [48, 96, 32, 64]
    assert [point_width(c) for c in CURVE_NAMES] == [96, 192, 64, 128]
    assert all(scalar_width(c) == 32 for c in CURVE_NAMES)


def test_unknown_names() -> None:
    with pytest.raises(UnknownFieldError, match=r"unknown field 'nope'; known: .*babybear"):
        element_width("nope")
    with pytest.raises(UnknownFieldError):
        decode_elements("nope", b"")
    with pytest.raises(UnknownCurveError, match=r"unknown curve 'nope'; known: .*bn254_g1"):
        decode_points("nope", b"")
    with pytest.raises(UnknownCurveError):
        encode_points("nope", [])
    with pytest.raises(UnknownCurveError):
        msm_input_size("nope", bytes(96))


# -- field elements --------------------------------------------------------------------------


@given(_field_and_values())
def test_elements_round_trip(case: tuple[str, list[int]]) -> None:
    field, values = case
    arr = elements_from_ints(field, values)
    assert arr.dtype == element_dtype(field) and arr.shape == element_shape(field, len(values))
    assert arr.flags.c_contiguous and arr.flags.writeable
    body = encode_elements(field, arr)
    assert body == _body(field, values)
    for data in (body, bytearray(body), memoryview(body)):
        decoded = decode_elements(field, data)
        assert decoded.dtype == arr.dtype and decoded.shape == arr.shape
        assert decoded.flags.writeable
        np.testing.assert_array_equal(decoded, arr)
    assert elements_to_ints(field, decode_elements(field, body)) == values
    assert elements_from_ints(field, values, checked=False).tobytes() == arr.tobytes()


@given(_field_and_values(), st.integers(1, 4))
def test_elements_to_ints_flattens_batches(case: tuple[str, list[int]], rows: int) -> None:
    field, values = case
    values = values * rows
    arr = elements_from_ints(field, values).reshape(element_shape(field, rows, -1))
    assert elements_to_ints(field, arr) == values
    assert encode_elements(field, arr) == _body(field, values)


@pytest.mark.parametrize("field", FIELD_NAMES)
def test_empty(field: str) -> None:
    empty = decode_elements(field, b"")
    assert empty.shape == element_shape(field, 0) and empty.dtype == element_dtype(field)
    assert encode_elements(field, elements_from_ints(field, [])) == b""
    assert elements_to_ints(field, empty) == []


@given(_field_and_values(), st.data())
def test_elements_reject_truncated(case: tuple[str, list[int]], data: st.DataObject) -> None:
    field, values = case
    width = element_width(field)
    body = _body(field, values) + bytes(width)
    cut = data.draw(st.integers(1, width - 1))
    with pytest.raises(MalformedEncodingError, match="not a multiple") as info:
        decode_elements(field, body[:-cut])
    assert info.value.field == "body"


@pytest.mark.parametrize("field", FIELD_NAMES)
@given(data=st.data())
@settings(max_examples=25)
def test_elements_reject_non_canonical(field: str, data: st.DataObject) -> None:
    p = FIELDS[field].modulus
    width = element_width(field)
    top = (1 << (8 * width)) - 1
    bad = data.draw(st.sampled_from([p, p + 1, top]) | st.integers(p, top))
    good = data.draw(_elements(field))
    index = data.draw(st.integers(0, len(good)))
    body = bytearray(_body(field, good))
    body[index * width : index * width] = bad.to_bytes(width, "little")
    with pytest.raises(NonCanonicalEncodingError, match=f"element {index} .*{bad} >=") as info:
        decode_elements(field, bytes(body))
    assert info.value.field == "body" and isinstance(info.value, ValueOutOfRangeError)
    # The array itself (as a bug or a worker might hand it over) fails the same validator.
    arr = np.frombuffer(bytes(body), dtype=np.dtype(element_dtype(field)).newbyteorder("<"))
    arr = arr.astype(element_dtype(field)).reshape(element_shape(field, len(good) + 1))
    assert first_non_canonical(field, arr) == index
    with pytest.raises(ValueOutOfRangeError, match=rf"values\[{index}\] = {bad} is outside"):
        encode_elements(field, arr)
    with pytest.raises(ValueOutOfRangeError, match=rf"values\[{index}\]"):
        elements_from_ints(field, [*good[:index], bad, *good[index:]])


def test_bn254_non_canonical_edges() -> None:
    r = FIELDS["bn254_fr"].modulus
    for bad in (r, r + 1, 2**256 - 1):
        body = (r - 1).to_bytes(32, "little") + bad.to_bytes(32, "little")
        with pytest.raises(NonCanonicalEncodingError, match="element 1 "):
            decode_elements("bn254_fr", body)
    # A value that differs from r only in a low limb, both ways.
    assert elements_to_ints("bn254_fr", decode_elements("bn254_fr", _body("bn254_fr", [r - 1])))
    hi_eq = (r & ~((1 << 64) - 1)) + ((1 << 64) - 1)
    assert hi_eq > r
    with pytest.raises(NonCanonicalEncodingError):
        decode_elements("bn254_fr", hi_eq.to_bytes(32, "little"))


@given(
    st.sampled_from([np.uint32, np.uint64]).flatmap(
        lambda dtype: st.tuples(
            st.just(dtype),
            st.integers(1, 4),
            st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=40),
            st.integers(1, 2**96),
        )
    )
)
def test_first_not_below_matches_integers(case: tuple) -> None:
    dtype, k, words, modulus = case
    bits = 8 * np.dtype(dtype).itemsize
    words = words[: len(words) // k * k]
    rows = np.array(words, dtype=dtype).reshape(-1, k)
    values = [sum(int(w) << (bits * i) for i, w in enumerate(row)) for row in rows]
    expected = next((i for i, v in enumerate(values) if v >= modulus), -1)
    assert first_not_below(rows, modulus) == expected


@pytest.mark.parametrize("field", FIELD_NAMES)
def test_check_elements_wants_the_compact_array(field: str) -> None:
    good = elements_from_ints(field, [1, 2, 3])
    assert check_elements(field, good) is good
    other = np.uint64 if element_dtype(field) == np.uint32 else np.uint32
    for bad in (
        [1, 2, 3],
        good.astype(other),
        good.astype(np.int64),
        np.zeros((), dtype=element_dtype(field)) if element_words(field) == 1 else good[:, :2],
        np.zeros(3, dtype=element_dtype(field)) if element_words(field) > 1 else good[0],
    ):
        with pytest.raises(KernelInputError, match=f"{field}") as info:
            check_elements(field, bad)
        assert not isinstance(info.value, ValueOutOfRangeError)


def test_elements_from_ints_rejects_bad_values() -> None:
    with pytest.raises(ValueOutOfRangeError, match=r"values\[1\]"):
        elements_from_ints("babybear", [1, -1])
    with pytest.raises(ValueOutOfRangeError, match=r"values\[0\]"):
        elements_from_ints("goldilocks", [True])
    with pytest.raises(ValueOutOfRangeError, match=r"values\[2\]"):
        elements_from_ints("bn254_fr", [0, 1, "2"])  # type: ignore[list-item]
    with pytest.raises(KernelInputError):
        elements_from_ints("bn254_fr", 5)  # type: ignore[arg-type]


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(MalformedEncodingError):
        decode_elements("bn254_fr", "00" * 32)  # type: ignore[arg-type]
    with pytest.raises(MalformedEncodingError):
        decode_points("bn254_g1", [0] * 64)  # type: ignore[arg-type]


# -- points, every curve ---------------------------------------------------------------------


@functools.cache
def _pool(curve: str) -> tuple[tuple, ...]:
    """A few subgroup points, their negations, the generator and infinity."""
    params = CURVES[curve]
    points = random_points(curve, 3, random.Random(curve))
    return (*points, *(point_neg(params, p) for p in points), params.generator, params.infinity)


def _flat(curve: str, point: tuple) -> list[int]:
    return [*point[0], *point[1]] if CURVES[curve].degree == 2 else list(point)


def _points_body(curve: str, points: list[tuple]) -> bytes:
    width = coordinate_width(curve) // CURVES[curve].degree
    return b"".join(c.to_bytes(width, "little") for p in points for c in _flat(curve, p))


@st.composite
def _curve_points(draw: st.DrawFn) -> tuple[str, list[tuple]]:
    curve = draw(st.sampled_from(CURVE_NAMES))
    return curve, draw(st.lists(st.sampled_from(_pool(curve)), max_size=8))


@given(_curve_points())
@settings(max_examples=40)
def test_points_round_trip(case: tuple[str, list[tuple]]) -> None:
    curve, points = case
    body = encode_points(curve, points)
    assert body == _points_body(curve, points)
    assert len(body) == point_width(curve) * len(points)
    coords = decode_points(curve, body)
    words = coordinate_width(curve) // 8
    assert coords.shape == (len(points), 2, words) and coords.dtype == np.uint64
    assert coords.flags.writeable
    np.testing.assert_array_equal(coords, points_to_limbs(points, curve))
    np.testing.assert_array_equal(points_from_ints(curve, points), coords)
    assert limbs_to_points(coords, curve) == points


@pytest.mark.parametrize("curve", CURVE_NAMES)
def test_infinity_is_all_zeros(curve: str) -> None:
    infinity = CURVES[curve].infinity
    assert encode_points(curve, [infinity]) == bytes(point_width(curve))
    assert limbs_to_points(decode_points(curve, bytes(2 * point_width(curve))), curve) == [
        infinity,
        infinity,
    ]
    assert decode_points(curve, b"").shape == (0, 2, point_width(curve) // 16)


@given(_curve_points(), st.data())
@settings(max_examples=20)
def test_points_reject_truncated(case: tuple[str, list[tuple]], data: st.DataObject) -> None:
    curve, points = case
    cut = data.draw(st.integers(1, point_width(curve) - 1))
    body = encode_points(curve, points) + bytes(point_width(curve))
    with pytest.raises(MalformedEncodingError, match="not a multiple") as info:
        decode_points(curve, body[:-cut])
    assert info.value.field == "body"


@given(_curve_points(), st.data())
@settings(max_examples=30)
def test_points_reject_non_canonical(case: tuple[str, list[tuple]], data: st.DataObject) -> None:
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
    body = _points_body(curve, points[:index]) + b"".join(c.to_bytes(width, "little") for c in g)
    body += _points_body(curve, points[index:])
    name = "xy"[slot // params.degree] + (str(slot % 2) if params.degree == 2 else "")
    with pytest.raises(NonCanonicalEncodingError, match=f"point {index} coordinate {name} "):
        decode_points(curve, body)


def test_bn254_point_plus_p_is_rejected() -> None:
    """``(x + p, y)`` is on the curve modulo p: it must still be refused."""
    g = CURVES["bn254_g1"].generator
    p = CURVES["bn254_g1"].base_modulus
    body = _points_body("bn254_g1", [g]) + (g[0] + p).to_bytes(32, "little")
    body += g[1].to_bytes(32, "little")
    with pytest.raises(NonCanonicalEncodingError, match="point 1 coordinate x"):
        decode_points("bn254_g1", body)
    with pytest.raises(ValueOutOfRangeError, match=r"points\[1\]\[0\]"):
        encode_points("bn254_g1", [g, (g[0] + p, g[1])])


@pytest.mark.parametrize("curve", CURVE_NAMES)
def test_points_reject_off_curve_and_outside_subgroup(curve: str) -> None:
    params = CURVES[curve]
    good = list(_pool(curve))
    x, y = params.generator
    off = (x, (y[0], (y[1] + 1) % params.base_modulus)) if params.degree == 2 else (x, y + 1)
    cases = [(off, EncodedPointNotOnCurveError, PointNotOnCurveError)]
    if params.cofactor != 1:
        rng = random.Random(3)
        outside = random_curve_point(curve, rng)
        while in_subgroup(params, outside):
            outside = random_curve_point(curve, rng)
        cases.append((outside, EncodedPointNotInSubgroupError, PointNotInSubgroupError))
    for bad, error, plain in cases:
        body = _points_body(curve, [*good, bad])
        with pytest.raises(error, match=f"point {len(good)} ") as info:
            decode_points(curve, body)
        assert info.value.field == "body" and isinstance(info.value, plain)
        with pytest.raises(plain, match=rf"points\[{len(good)}\]"):
            encode_points(curve, [*good, bad])


@pytest.mark.parametrize("curve", CURVE_NAMES)
def test_encode_points_rejects_malformed(curve: str) -> None:
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


# -- MSM input: points, then scalars ----------------------------------------------------------


@given(_curve_points(), st.data())
@settings(max_examples=40)
def test_msm_input_round_trip(case: tuple[str, list[tuple]], data: st.DataObject) -> None:
    curve, points = case
    field = CURVES[curve].scalar_field
    scalars = data.draw(st.lists(_element(field), min_size=len(points), max_size=len(points)))
    bases = points_to_limbs(points, curve)
    ks = elements_from_ints(field, scalars)
    body = encode_msm_input(curve, bases, ks)
    assert body == _points_body(curve, points) + _body(field, scalars)
    if points:
        assert msm_input_size(curve, body) == len(points)
    for check in (True, False):
        got_bases, got_scalars = decode_msm_input(curve, body, len(points), check_points=check)
        assert got_bases.dtype == np.uint64 and got_bases.shape == bases.shape
        assert got_scalars.dtype == np.uint64 and got_scalars.shape == (len(points), 4)
        np.testing.assert_array_equal(got_bases, bases)
        np.testing.assert_array_equal(got_scalars, ks)


@pytest.mark.parametrize("curve", CURVE_NAMES)
def test_msm_input_rejects(curve: str) -> None:
    params = CURVES[curve]
    field = params.scalar_field
    points = list(_pool(curve))[:3]
    good = _points_body(curve, points) + _body(field, [1, 2, 3])
    with pytest.raises(MalformedEncodingError, match="not n·"):
        msm_input_size(curve, good[:-1])
    with pytest.raises(MalformedEncodingError, match="not n·"):
        msm_input_size(curve, b"")
    with pytest.raises(MalformedEncodingError, match="is not 2·"):
        decode_msm_input(curve, good, 2)
    r = FIELDS[field].modulus
    bad_scalar = _points_body(curve, points) + _body(field, [1, r, 3])
    with pytest.raises(NonCanonicalEncodingError, match=f"{curve} scalar 1 is not canonical"):
        decode_msm_input(curve, bad_scalar, 3)
    x, y = params.generator
    off = (x, (y[0], (y[1] + 1) % params.base_modulus)) if params.degree == 2 else (x, y + 1)
    off_body = _points_body(curve, [points[0], off, points[2]]) + _body(field, [1, 2, 3])
    with pytest.raises(EncodedPointNotOnCurveError, match="point 1 "):
        decode_msm_input(curve, off_body, 3)
    decode_msm_input(curve, off_body, 3, check_points=False)  # ranges only
    bases = points_to_limbs([points[0], off, points[2]], curve)
    scalars = elements_from_ints(field, [1, 2, 3])
    with pytest.raises(PointNotOnCurveError, match=r"points\[1\]"):
        encode_msm_input(curve, bases, scalars)
    assert encode_msm_input(curve, bases, scalars, check_points=False) == off_body
    with pytest.raises(KernelInputError, match="bases"):
        encode_msm_input(curve, bases[:, :, :-1], scalars)
    with pytest.raises(KernelInputError, match="scalars"):
        encode_msm_input(curve, bases, scalars[:2])
    big = scalars.copy()
    big[1] = elements_from_ints(field, [r - 1])[0]
    big[1, 0] += np.uint64(1)
    with pytest.raises(ValueOutOfRangeError, match=r"scalars\[1\]"):
        encode_msm_input(curve, bases, big)


def test_bn254_g1_generator_bytes() -> None:
    assert encode_points("bn254_g1", [CURVES["bn254_g1"].generator]) == (1).to_bytes(
        32, "little"
    ) + (2).to_bytes(32, "little")
    assert encode_points("bn254_g1", [INFINITY]) == bytes(64)

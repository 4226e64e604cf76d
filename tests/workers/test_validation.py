"""Every invalid input to ``msm``/``ntt`` raises the right :class:`KernelInputError`."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from workers import msm, ntt
from workers.api import validate_msm_input, validate_ntt_input
from workers.errors import (
    KernelInputError,
    LengthMismatchError,
    PointNotOnCurveError,
    ScalarOutOfRangeError,
    SizeNotPowerOfTwoError,
    SizeTooLargeError,
    UnknownCurveError,
    UnknownFieldError,
    ValueOutOfRangeError,
)
from workers.params import BN254_P, BN254_R, CURVES
from workers.reference import point_add

CURVE = "bn254_g1"
FIELD = "bn254_fr"
G = CURVES[CURVE].generator
G2 = point_add(CURVES[CURVE], G, G)
G3 = point_add(CURVES[CURVE], G2, G)
GOOD_POINTS = [G, G2, (0, 0), G3]
GOOD_SCALARS = [1, 0, 5, BN254_R - 1]


class HugeSequence(Sequence):
    """A sequence that claims a length without holding the elements."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> int:  # type: ignore[override]
        if not 0 <= index < self.length:
            raise IndexError(index)
        return 0


def raises(error: type[KernelInputError], match: str) -> pytest.RaisesContext:
    return pytest.raises(error, match=match)


def check_msm(curve: object, points: object, scalars: object) -> None:
    """Both entry points must reject the input the same way."""
    validate_msm_input(curve, points, scalars)  # type: ignore[arg-type]
    msm(curve, points, scalars)  # type: ignore[arg-type]


def check_ntt(field: object, values: object) -> None:
    validate_ntt_input(field, values)  # type: ignore[arg-type]
    ntt(field, values)  # type: ignore[arg-type]


# --- valid inputs pass ---------------------------------------------------------------------


def test_valid_inputs_validate() -> None:
    assert validate_msm_input(CURVE, GOOD_POINTS, GOOD_SCALARS) is None
    assert validate_msm_input(CURVE, [], []) is None
    assert validate_msm_input(CURVE, [list(G)], (3,)) is None  # JSON gives lists
    assert validate_ntt_input(FIELD, [0, 1, BN254_R - 1, 7]) is None
    assert msm(CURVE, [], []) == (0, 0)
    assert msm(CURVE, [list(G)], [1]) == G


# --- msm -----------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", ["foo", "BN254_G1", "", None, 3])
def test_unknown_curve(curve: object) -> None:
    with raises(UnknownCurveError, r"unknown curve .*; known: .*bn254_g1"):
        check_msm(curve, GOOD_POINTS, GOOD_SCALARS)


def test_length_mismatch() -> None:
    with raises(LengthMismatchError, "points and scalars differ in length: 4 vs 3"):
        check_msm(CURVE, GOOD_POINTS, GOOD_SCALARS[:3])


def test_point_not_on_curve_names_its_index() -> None:
    points = [*GOOD_POINTS[:3], (1, 3)]
    with raises(PointNotOnCurveError, r"^points\[3\] is not on bn254_g1$"):
        check_msm(CURVE, points, GOOD_SCALARS)


def test_far_off_curve_point_is_found() -> None:
    points = [G] * 200
    points[137] = (G[0], G[1] + 1)
    with raises(PointNotOnCurveError, r"points\[137\] is not on bn254_g1"):
        check_msm(CURVE, points, [1] * 200)


@pytest.mark.parametrize("point", [(BN254_P, 2), (1, BN254_P + 2), (-1, 2), (1, -BN254_P + 2)])
def test_coordinates_out_of_range(point: tuple[int, int]) -> None:
    with raises(PointNotOnCurveError, r"points\[1\] is not on bn254_g1"):
        check_msm(CURVE, [G, point], [1, 1])


@pytest.mark.parametrize("point", [(1,), (1, 2, 3), 5, "ab", {1: 2}, None, (1.0, 2.0)])
def test_malformed_points(point: object) -> None:
    with raises(KernelInputError, r"points\[1\]"):
        check_msm(CURVE, [G, point], [1, 1])


@pytest.mark.parametrize("coordinate", [1.0, "1", True, None, 2**0.5])
def test_non_integer_coordinates(coordinate: object) -> None:
    with raises(KernelInputError, r"points\[0\] has a non-integer coordinate"):
        check_msm(CURVE, [(coordinate, 2)], [1])


@pytest.mark.parametrize("scalar", [BN254_R, BN254_R + 5, -1, 1 << 256])
def test_scalar_out_of_range(scalar: int) -> None:
    with raises(ScalarOutOfRangeError, r"^scalars\[2\] is out of range \[0, r\)$"):
        check_msm(CURVE, GOOD_POINTS, [1, 2, scalar, 4])


@pytest.mark.parametrize("scalar", [1.0, "1", True, False, None])
def test_non_integer_scalars(scalar: object) -> None:
    with raises(KernelInputError, r"scalars\[1\] is not an integer"):
        check_msm(CURVE, GOOD_POINTS, [1, scalar, 2, 3])


@pytest.mark.parametrize("container", ["abc", b"ab", 5, None, iter([G]), {G: 1}])
def test_points_and_scalars_must_be_sequences(container: object) -> None:
    with raises(KernelInputError, "points must be a sequence"):
        check_msm(CURVE, container, [1])
    with raises(KernelInputError, "scalars must be a sequence"):
        check_msm(CURVE, [G], container)


# --- ntt -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["foo", "bn254_fp", None, 1])
def test_unknown_field(field: object) -> None:
    with raises(UnknownFieldError, r"unknown field .*; known: .*bn254_fr"):
        check_ntt(field, [1, 2])


@pytest.mark.parametrize("n", [0, 3, 5, 6, 12, 1000])
def test_size_not_power_of_two(n: int) -> None:
    with raises(SizeNotPowerOfTwoError, f"^values has length {n}, not a power of two$"):
        check_ntt(FIELD, [1] * n)


def test_size_above_two_adicity() -> None:
    with raises(SizeTooLargeError, r"values has length 536870912, above .* 2\^28"):
        check_ntt(FIELD, HugeSequence(1 << 29))


@pytest.mark.parametrize("value", [BN254_R, -1, 1 << 256])
def test_value_out_of_range(value: int) -> None:
    with raises(ValueOutOfRangeError, r"^values\[3\] is out of range \[0, p\)$"):
        check_ntt(FIELD, [0, 1, 2, value])


@pytest.mark.parametrize("value", [1.5, "7", True, None])
def test_non_integer_values(value: object) -> None:
    with raises(KernelInputError, r"values\[0\] is not an integer"):
        check_ntt(FIELD, [value, 1])


@pytest.mark.parametrize("values", ["abcd", 4, None, iter([1, 2])])
def test_values_must_be_a_sequence(values: object) -> None:
    with raises(KernelInputError, "values must be a sequence"):
        check_ntt(FIELD, values)


@pytest.mark.parametrize("inverse", [1, "yes", None])
def test_inverse_must_be_a_bool(inverse: object) -> None:
    with raises(KernelInputError, "inverse must be a bool"):
        ntt(FIELD, [1, 2], inverse=inverse)  # type: ignore[arg-type]


# --- the error classes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda: msm("foo", [], []), UnknownCurveError, "curve"),
        (lambda: msm(CURVE, [(1, 3)], [1]), PointNotOnCurveError, "points"),
        (lambda: msm(CURVE, [G], []), LengthMismatchError, "scalars"),
        (lambda: msm(CURVE, [G], [BN254_R]), ScalarOutOfRangeError, "scalars"),
        (lambda: msm(CURVE, [(G, 1)], [1]), KernelInputError, "points"),
        (lambda: ntt("foo", [1]), UnknownFieldError, "field"),
        (lambda: ntt(FIELD, [1, 2, 3]), SizeNotPowerOfTwoError, "values"),
        (lambda: ntt(FIELD, [BN254_R]), ValueOutOfRangeError, "values"),
        (lambda: ntt(FIELD, [1], inverse=0), KernelInputError, "inverse"),
    ],
)
def test_errors_are_value_errors_naming_the_input(call, error, field) -> None:
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert info.value.field == field

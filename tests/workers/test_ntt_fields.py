"""Forward, inverse, coset, batched NTTs on every field of architecture §4 against Python ints."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest

from workers import ntt, ntt_batch
from workers.api import validate_ntt_batch_input, validate_ntt_input
from workers.codec.arrays import element_dtype, element_shape, elements_from_ints, elements_to_ints
from workers.errors import (
    KernelInputError,
    LengthMismatchError,
    SizeNotPowerOfTwoError,
    SizeTooLargeError,
    UnknownFieldError,
    ValueOutOfRangeError,
)
from workers.fields.mont4 import MAX_MODULUS, montgomery_constants
from workers.ntt.radix2 import ntt_limbs, ntt_rows_limbs, scale_limbs
from workers.ntt.twiddles import twiddle_limbs
from workers.params import FIELDS

ALL_FIELDS = ["bn254_fr", "bls12_381_fr", "goldilocks", "babybear"]
SMALL_FIELDS = ["goldilocks", "babybear"]


def modulus(field: str) -> int:
    return FIELDS[field].modulus


def naive_dft(field: str, values: list[int], inverse: bool = False) -> list[int]:
    """``out[k] = Σ_j a[j]·ω^(j·k)`` (inverse: ``ω⁻¹`` and a factor ``n⁻¹``), O(n²)."""
    p = modulus(field)
    n = len(values)
    omega = FIELDS[field].root_of_unity(n)
    if inverse:
        omega = pow(omega, -1, p)
    powers = [1] * n
    for i in range(1, n):
        powers[i] = powers[i - 1] * omega % p
    out = []
    for k in range(n):
        row = [powers[j * k % n] for j in range(n)]
        out.append(sum(map(int.__mul__, values, row)) % p)
    if inverse:
        n_inv = pow(n, -1, p)
        out = [x * n_inv % p for x in out]
    return out


def shifted(field: str, values: Sequence[int], s: int) -> list[int]:
    """``values[j]·s^j``: the polynomial whose plain NTT is the coset NTT with shift ``s``."""
    p = modulus(field)
    out, w = [], 1
    for v in values:
        out.append(v * w % p)
        w = w * s % p
    return out


def random_values(field: str, n: int, seed: int) -> list[int]:
    rng = random.Random(f"{field}-{n}-{seed}")
    p = modulus(field)
    values = [rng.randrange(p) for _ in range(n)]
    if n >= 2:  # the extremes exercise every carry and borrow path
        values[0], values[-1] = p - 1, 0
    return values


def test_field_constants() -> None:
    assert FIELDS["goldilocks"].modulus == 2**64 - 2**32 + 1
    assert FIELDS["babybear"].modulus == 15 * 2**27 + 1
    bls = FIELDS["bls12_381_fr"].modulus
    assert bls.bit_length() == 255 and bls < MAX_MODULUS  # the no-carry CIOS precondition
    assert (bls >> 192) < 2**63 - 1
    montgomery_constants(bls)  # accepted
    for field, (g, k) in {
        "bls12_381_fr": (7, 32),
        "goldilocks": (7, 32),
        "babybear": (31, 27),
    }.items():
        params = FIELDS[field]
        assert (params.generator, params.two_adicity) == (g, k)
        omega = params.root_of_unity(1 << k)
        assert pow(omega, 1 << (k - 1), params.modulus) == params.modulus - 1


@pytest.mark.parametrize("field", ALL_FIELDS)
def test_ntt_matches_naive_dft_up_to_2_10(field: str) -> None:
    for log_n in range(11):
        values = random_values(field, 1 << log_n, seed=log_n)
        assert ntt(field, values) == naive_dft(field, values), log_n
        assert ntt(field, values, inverse=True) == naive_dft(field, values, inverse=True), log_n


@pytest.mark.parametrize("field", ALL_FIELDS)
def test_ntt_round_trip_at_2_16(field: str) -> None:
    values = elements_from_ints(field, random_values(field, 1 << 16, seed=16))
    forward = ntt_limbs(field, values)
    assert forward.shape == values.shape and forward.dtype == element_dtype(field)
    assert not np.array_equal(forward, values)
    assert np.array_equal(ntt_limbs(field, forward, inverse=True), values)
    coset = ntt_limbs(field, values, coset=FIELDS[field].generator)
    assert np.array_equal(
        ntt_limbs(field, coset, inverse=True, coset=FIELDS[field].generator), values
    )


@pytest.mark.parametrize("field", SMALL_FIELDS)
@pytest.mark.parametrize(("inverse", "coset"), [(False, None), (True, None), (False, 5), (True, 5)])
def test_small_fields_work_on_their_compact_words(
    field: str, inverse: bool, coset: int | None
) -> None:
    """``(n,)`` ``uint64`` (Goldilocks) or ``uint32`` (BabyBear) in and out; the old
    ``(n, 4)`` and ``(n, 1)`` limb layouts are refused."""
    values = random_values(field, 256, seed=3)
    compact = elements_from_ints(field, values)
    assert compact.shape == (256,)
    out = ntt_limbs(field, compact, inverse=inverse, coset=coset)
    assert out.shape == (256,) and out.dtype == element_dtype(field)
    expected = ntt(field, values, inverse=inverse, coset=coset)
    assert elements_to_ints(field, out) == expected
    rows = ntt_rows_limbs(field, np.stack([compact, compact]), inverse=inverse, coset=coset)
    assert rows.shape == (2, 256) and rows.dtype == element_dtype(field)
    assert elements_to_ints(field, rows) == expected * 2
    wide = np.array(values, dtype=np.uint64)  # BabyBear words as uint64: the same numbers
    assert elements_to_ints(field, ntt_limbs(field, wide, inverse, coset)) == expected
    for old in (np.zeros((256, 4), dtype=np.uint64), np.zeros((256, 1), dtype=np.uint64)):
        with pytest.raises(ValueError, match=f"{field} elements"):
            ntt_limbs(field, old)
    with pytest.raises(ValueError, match="rows, size"):
        ntt_rows_limbs(field, np.zeros((2, 8, 1), dtype=np.uint64))


@pytest.mark.parametrize("field", ALL_FIELDS)
def test_coset_ntt_is_the_dft_of_the_shifted_polynomial(field: str) -> None:
    p = modulus(field)
    for log_n, s in [(0, 3), (1, p - 1), (3, FIELDS[field].generator), (6, 12345), (9, p - 2)]:
        values = random_values(field, 1 << log_n, seed=log_n + 100)
        expected = naive_dft(field, shifted(field, values, s))
        assert ntt(field, values, coset=s) == expected
        assert ntt(field, expected, inverse=True, coset=s) == values
    values = random_values(field, 16, seed=7)
    assert ntt(field, values, coset=1) == ntt(field, values)
    # Evaluations of the polynomial on s·⟨ω⟩, straight from the definition.
    s, n = 11, 8
    omega = FIELDS[field].root_of_unity(n)
    points = [s * pow(omega, k, p) % p for k in range(n)]
    evaluations = [sum(a * pow(x, j, p) for j, a in enumerate(values[:n])) % p for x in points]
    assert ntt(field, values[:n], coset=s) == evaluations


@pytest.mark.parametrize("field", ALL_FIELDS)
@pytest.mark.parametrize(("inverse", "coset"), [(False, None), (True, None), (False, 9), (True, 9)])
def test_batch_equals_per_row(field: str, inverse: bool, coset: int | None) -> None:
    batch = [random_values(field, 32, seed=s) for s in range(5)]
    out = ntt_batch(field, batch, inverse=inverse, coset=coset)
    assert out == [ntt(field, row, inverse=inverse, coset=coset) for row in batch]
    assert ntt_batch(field, [], inverse=inverse, coset=coset) == []
    assert ntt_batch(field, (batch[0],)) == [ntt(field, batch[0])]


@pytest.mark.parametrize("field", ALL_FIELDS)
def test_limb_entry_points_and_four_step(field: str) -> None:
    p = modulus(field)
    n1, n2 = 8, 16
    n = n1 * n2
    values = random_values(field, n, seed=42)
    compact = elements_from_ints(field, values)
    compact.flags.writeable = False  # as Ray's object store hands them out
    columns = np.ascontiguousarray(np.swapaxes(compact.reshape(element_shape(field, n1, n2)), 0, 1))
    block = twiddle_limbs(field, ntt_rows_limbs(field, columns), n, 0)
    assert block.dtype == element_dtype(field) and block.shape == element_shape(field, n2, n1)
    result = ntt_rows_limbs(field, np.ascontiguousarray(np.swapaxes(block, 0, 1)))
    out = np.ascontiguousarray(np.swapaxes(result, 0, 1)).reshape(compact.shape)
    assert elements_to_ints(field, out) == ntt(field, values)
    rows, cols, offset = 3, 5, 7
    entries = values[: rows * cols]
    matrix = elements_from_ints(field, entries).reshape(element_shape(field, rows, cols))
    twiddled = twiddle_limbs(field, matrix, 64, offset)
    omega = FIELDS[field].root_of_unity(64)
    assert elements_to_ints(field, twiddled) == [
        entries[i * cols + j] * pow(omega, (offset + i) * j, p) % p
        for i in range(rows)
        for j in range(cols)
    ]
    for factor in [0, 1, p - 1, 2**32 - 1, 2**32 + 1, 2**63 + 5, p + 3]:
        scaled = scale_limbs(field, compact.reshape(element_shape(field, 2, n // 2)), factor)
        assert scaled.shape == element_shape(field, 2, n // 2)
        assert scaled.dtype == element_dtype(field)
        assert elements_to_ints(field, scaled) == [v * factor % p for v in values]


@pytest.mark.parametrize("field", SMALL_FIELDS)
def test_small_field_multiplication_extremes(field: str) -> None:
    """Products near ``p²`` and near the reduction's carry/borrow boundaries."""
    p = modulus(field)
    edges = [0, 1, 2, p - 1, p - 2, (p - 1) // 2, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1]
    edges = sorted({e % p for e in edges} | {random.Random(i).randrange(p) for i in range(50)})
    compact = elements_from_ints(field, edges)
    for factor in edges:
        scaled = scale_limbs(field, compact, factor)
        assert elements_to_ints(field, scaled) == [e * factor % p for e in edges]
    # Additions and subtractions at the extremes: an NTT of size 2 is (a + b, a − b).
    for a in edges[:12]:
        for b in edges[-12:]:
            assert ntt(field, [a, b]) == [(a + b) % p, (a - b) % p]


# --- bad inputs ----------------------------------------------------------------------------


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


@pytest.mark.parametrize("field", ALL_FIELDS)
def test_bad_ntt_inputs(field: str) -> None:
    p = modulus(field)
    with pytest.raises(ValueOutOfRangeError, match=r"values\[1\] is out of range"):
        ntt(field, [0, p])
    with pytest.raises(ValueOutOfRangeError):
        validate_ntt_input(field, [0, -1])
    with pytest.raises(SizeNotPowerOfTwoError):
        ntt(field, [1, 2, 3])
    with pytest.raises(SizeTooLargeError):
        validate_ntt_input(field, HugeSequence(2 << FIELDS[field].two_adicity))
    for coset in [0, p, -1, p + 1]:
        with pytest.raises(ValueOutOfRangeError, match="coset") as info:
            ntt(field, [1, 2], coset=coset)
        assert info.value.field == "coset"
        with pytest.raises(ValueOutOfRangeError, match="coset"):
            validate_ntt_input(field, [1, 2], coset)
        with pytest.raises(ValueOutOfRangeError, match="coset"):
            ntt_batch(field, [[1, 2]], coset=coset)
    for coset in [True, 2.0, "3", [3]]:
        with pytest.raises(KernelInputError, match="coset must be an integer") as info:
            ntt(field, [1, 2], coset=coset)  # type: ignore[arg-type]
        assert info.value.field == "coset"
    with pytest.raises(KernelInputError, match="inverse must be a bool"):
        ntt(field, [1, 2], inverse=1)  # type: ignore[arg-type]
    assert validate_ntt_input(field, [1, 2], p - 1) is None
    assert validate_ntt_input(field, [1, 2]) is None


@pytest.mark.parametrize("field", ["goldilocks", "BabyBear", "bls12_381", "", None, 7])
def test_unknown_fields(field: object) -> None:
    if field == "goldilocks":
        assert ntt(field, [5]) == [5]
        return
    with pytest.raises(UnknownFieldError):
        ntt(field, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(UnknownFieldError):
        ntt_batch(field, [[1, 2]])  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ALL_FIELDS)
def test_bad_batches(field: str) -> None:
    p = modulus(field)
    with pytest.raises(LengthMismatchError, match=r"batch\[2\] has length 2") as info:
        ntt_batch(field, [[1, 2, 3, 4], [5, 6, 7, 8], [1, 2]])
    assert info.value.field == "batch"
    with pytest.raises(SizeNotPowerOfTwoError, match=r"batch\[0\]"):
        ntt_batch(field, [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueOutOfRangeError, match=r"batch\[1\]\[0\] is out of range"):
        ntt_batch(field, [[1, 2], [p, 0]])
    with pytest.raises(SizeTooLargeError):
        validate_ntt_batch_input(field, [HugeSequence(2 << FIELDS[field].two_adicity)])
    for batch in ["ab", 5, None, [5, 6], [[1, 2], "ab"]]:
        with pytest.raises(KernelInputError, match="must be a sequence"):
            ntt_batch(field, batch)  # type: ignore[arg-type]
    with pytest.raises(KernelInputError, match=r"batch\[0\]\[1\] is not an integer"):
        ntt_batch(field, [[1, 2.0]])
    with pytest.raises(KernelInputError, match="inverse must be a bool"):
        ntt_batch(field, [[1, 2]], inverse=None)  # type: ignore[arg-type]
    assert validate_ntt_batch_input(field, [[1, 2], [3, 4]], 5) is None

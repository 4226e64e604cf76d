"""The CPU NTT against the docs/architecture.md §4 formulas, evaluated with Python integers."""

from __future__ import annotations

import random

import numpy as np
import pytest

from workers import ntt
from workers.codec.limb_arrays import ints_to_limbs, limbs_to_ints
from workers.errors import SizeNotPowerOfTwoError, UnknownFieldError
from workers.ntt import twiddles
from workers.ntt.radix2 import ntt_limbs, ntt_rows_limbs, scale_limbs
from workers.ntt.twiddles import twiddle_limbs
from workers.params import FIELDS

FIELD = "bn254_fr"
PARAMS = FIELDS[FIELD]
P = PARAMS.modulus


def naive_dft(values: list[int], inverse: bool = False) -> list[int]:
    """``out[k] = Σ_j a[j]·ω^(j·k)`` (inverse: ``ω⁻¹`` and a factor ``n⁻¹``), O(n²)."""
    n = len(values)
    omega = PARAMS.root_of_unity(n)
    if inverse:
        omega = pow(omega, -1, P)
    powers = [1] * n
    for i in range(1, n):
        powers[i] = powers[i - 1] * omega % P
    out = [sum(a * powers[j * k % n] for j, a in enumerate(values)) % P for k in range(n)]
    if inverse:
        n_inv = pow(n, -1, P)
        out = [x * n_inv % P for x in out]
    return out


def random_values(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(P) for _ in range(n)]


@pytest.mark.parametrize("log_n", range(11))
def test_ntt_matches_naive_dft(log_n: int) -> None:
    values = random_values(1 << log_n, seed=log_n)
    values[0] = P - 1
    assert ntt(FIELD, values) == naive_dft(values)
    assert ntt(FIELD, values, inverse=True) == naive_dft(values, inverse=True)


def test_ntt_round_trip_at_2_16() -> None:
    values = ints_to_limbs(random_values(1 << 16, seed=16))
    forward = ntt_limbs(FIELD, values)
    assert not np.array_equal(forward, values)
    assert np.array_equal(ntt_limbs(FIELD, forward, inverse=True), values)


def test_ntt_small_cases() -> None:
    omega = PARAMS.root_of_unity(4)
    assert ntt(FIELD, [7]) == [7]
    assert ntt(FIELD, [7], inverse=True) == [7]
    assert ntt(FIELD, [1, 0, 0, 0]) == [1, 1, 1, 1]
    assert ntt(FIELD, [0, 1, 0, 0]) == [pow(omega, k, P) for k in range(4)]
    assert ntt(FIELD, [1, 1, 1, 1], inverse=True) == [1, 0, 0, 0]


def test_ntt_limbs_leaves_its_input_alone_and_caches_twiddles() -> None:
    values = ints_to_limbs(random_values(32, seed=5))
    before = values.copy()
    ntt_limbs(FIELD, values)
    assert np.array_equal(values, before)
    table = twiddles.twiddles_for(FIELD, 32)
    assert twiddles.TWIDDLES[(FIELD, 32, False)] is table
    assert twiddles.twiddles_for(FIELD, 32) is table
    omega = PARAMS.root_of_unity(32)
    # Stage layout: twiddles[h + j] = ω_{2h}^j, in Montgomery form (·2^256).
    stage_4 = limbs_to_ints(table[4:8])
    assert stage_4 == [pow(omega, 4 * j, P) * (1 << 256) % P for j in range(4)]


@pytest.mark.parametrize("inverse", [False, True])
def test_ntt_rows_limbs_transforms_each_row(inverse: bool) -> None:
    rows = [random_values(8, seed=s) for s in range(3)]
    matrix = ints_to_limbs([v for row in rows for v in row]).reshape(3, 8, 4)
    out = ntt_rows_limbs(FIELD, matrix, inverse=inverse)
    assert out.shape == (3, 8, 4)
    for i, row in enumerate(rows):
        assert limbs_to_ints(out[i]) == naive_dft(row, inverse=inverse)


def test_twiddle_limbs_matches_the_formula() -> None:
    rows, cols, n, row_offset = 4, 8, 64, 5
    entries = random_values(rows * cols, seed=9)
    out = twiddle_limbs(FIELD, ints_to_limbs(entries).reshape(rows, cols, 4), n, row_offset)
    omega = PARAMS.root_of_unity(n)
    expected = [
        entries[i * cols + j] * pow(omega, (row_offset + i) * j, P) % P
        for i in range(rows)
        for j in range(cols)
    ]
    assert limbs_to_ints(out.reshape(-1, 4)) == expected


@pytest.mark.parametrize("factor", [0, 1, 12345, P - 1, P + 3, 1 << 300])
def test_scale_limbs_matches_the_formula(factor: int) -> None:
    entries = random_values(24, seed=factor % 97)
    out = scale_limbs(FIELD, ints_to_limbs(entries).reshape(2, 3, 4, 4), factor)
    assert out.shape == (2, 3, 4, 4)
    assert limbs_to_ints(out.reshape(-1, 4)) == [v * factor % P for v in entries]


def four_step(values: np.ndarray, n1: int, n2: int) -> np.ndarray:
    """The forward NTT split as across machines (workers.cluster.plan): columns, twiddle, rows."""
    n = n1 * n2
    columns = np.ascontiguousarray(values.reshape(n1, n2, 4).transpose(1, 0, 2))
    block = twiddle_limbs(FIELD, ntt_rows_limbs(FIELD, columns), n, 0)
    matrix = np.ascontiguousarray(block.transpose(1, 0, 2))
    result = ntt_rows_limbs(FIELD, matrix)
    return np.ascontiguousarray(result.transpose(1, 0, 2)).reshape(n, 4)


@pytest.mark.parametrize("inverse", [False, True])
def test_four_step_composition_equals_the_direct_ntt(inverse: bool) -> None:
    n1, n2 = 16, 64
    n = n1 * n2
    values = ints_to_limbs(random_values(n, seed=42))
    out = four_step(values, n1, n2)
    if inverse:  # a[j] = n⁻¹ · NTT(out)[−j mod n]
        out = scale_limbs(FIELD, out[(-np.arange(n)) % n], pow(n, -1, P))
    assert np.array_equal(out, ntt_limbs(FIELD, values, inverse=inverse))


def test_limb_entry_points_accept_read_only_arrays() -> None:
    """Ray's object store hands out read-only arrays."""
    values = random_values(64, seed=64)
    matrix = ints_to_limbs(values).reshape(4, 16, 4)
    matrix.flags.writeable = False
    assert limbs_to_ints(ntt_rows_limbs(FIELD, matrix)[2]) == naive_dft(values[32:48])
    assert np.array_equal(
        twiddle_limbs(FIELD, matrix, 64, 3), twiddle_limbs(FIELD, matrix.copy(), 64, 3)
    )
    assert limbs_to_ints(scale_limbs(FIELD, matrix, 3).reshape(-1, 4)) == [
        3 * v % P for v in values
    ]
    assert limbs_to_ints(ntt_limbs(FIELD, matrix[1])) == naive_dft(values[16:32])


def test_unchecked_entry_points_still_refuse_nonsense() -> None:
    with pytest.raises(SizeNotPowerOfTwoError):
        ntt_limbs(FIELD, ints_to_limbs([1, 2, 3]))
    with pytest.raises(UnknownFieldError):
        ntt_limbs("nope", ints_to_limbs([1, 2]))
    with pytest.raises(SizeNotPowerOfTwoError):
        twiddle_limbs(FIELD, ints_to_limbs([1, 2]).reshape(1, 2, 4), 6, 0)
    with pytest.raises(ValueError, match="rows, size, 4"):
        ntt_rows_limbs(FIELD, ints_to_limbs([1, 2]))  # (n, 4) is one row, not a batch
    with pytest.raises(ValueError, match="bn254_fr elements"):
        ntt_limbs(FIELD, np.array([1, 2], dtype=np.uint64))  # one word is not a bn254_fr element

"""Head-side verification: the O(n) NTT slice check and the MSM audit sampler."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from workers.cluster import verify
from workers.cluster.plan import four_step_shape
from workers.codec.arrays import element_dtype, element_shape, elements_from_ints, elements_to_ints
from workers.ntt import radix2
from workers.ntt.twiddles import twiddle_limbs
from workers.params import FIELDS


def _slices(field: str, log_n: int, seed: int):
    """A column slice and a row slice (scaled, of an inverse) of a four-step NTT, with inputs."""
    p = FIELDS[field].modulus
    n = 1 << log_n
    n1, n2 = four_step_shape(n)
    rng = random.Random(seed)
    values = elements_from_ints(field, [rng.randrange(p) for _ in range(n)])
    columns = np.ascontiguousarray(np.swapaxes(values.reshape(element_shape(field, n1, n2)), 0, 1))
    start, stop = 1, max(2, n2 // 2)
    col_out = radix2.ntt_rows_limbs(field, columns[start:stop].copy())
    scale = pow(n, -1, p)
    rows_in = columns[:3].copy()
    row_out = radix2.scale_limbs(field, radix2.ntt_rows_limbs(field, rows_in), scale)
    return columns[start:stop], col_out, rows_in, row_out, scale


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_correct_slices_pass_every_corruption_fails(field):
    col_in, col_out, rows_in, row_out, scale = _slices(field, 8, seed=len(field))
    p = FIELDS[field].modulus
    assert verify.check_ntt_slice(field, col_in, col_out)
    assert verify.check_ntt_slice(field, rows_in, row_out, scale=scale)
    rng = random.Random(7)
    for _ in range(20):  # one element changed anywhere, to any other canonical value
        i, k = rng.randrange(col_out.shape[0]), rng.randrange(col_out.shape[1])
        bad = col_out.copy()
        old = elements_to_ints(field, bad[i, k])[0]
        bad[i, k] = elements_from_ints(field, [(old + rng.randrange(1, p)) % p])[0]
        assert not verify.check_ntt_slice(field, col_in, bad)
    # The usual cheats: twiddles applied (the worker's job no more), skipped or wrong
    # scaling, swapped rows, zeros, a row missing, an inverse instead of a forward NTT.
    twiddled = twiddle_limbs(field, col_out, 1 << 8, 1)
    assert not verify.check_ntt_slice(field, col_in, twiddled)
    assert not verify.check_ntt_slice(field, rows_in, row_out)
    assert not verify.check_ntt_slice(field, rows_in, row_out, scale=scale + 1)
    assert not verify.check_ntt_slice(field, rows_in, row_out[::-1].copy(), scale=scale)
    assert not verify.check_ntt_slice(field, rows_in, np.zeros_like(row_out), scale=scale)
    assert not verify.check_ntt_slice(field, rows_in, row_out[:2], scale=scale)
    inverse = radix2.ntt_rows_limbs(field, col_in.copy(), inverse=True)
    assert not verify.check_ntt_slice(field, col_in, inverse)


def test_non_canonical_output_fails():
    field = "babybear"
    p = FIELDS[field].modulus
    _, _, rows_in, row_out, scale = _slices(field, 6, seed=3)
    bad = row_out.copy()
    bad[0, 0] += np.uint32(p)  # the same residue, not canonical
    assert not verify.check_ntt_slice(field, rows_in, bad, scale=scale)


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_column_sums_match_python(field):
    """The unreduced accumulation (384 bits, 192 for one-word fields), against Python
    integers (weights up to 2^64 − 1)."""
    p = FIELDS[field].modulus
    rng = random.Random(5)
    r, m = 7, 8
    rows = [[rng.randrange(p) for _ in range(m)] for _ in range(r)]
    rows[0] = [p - 1] * m  # the largest values and weights: the carries all the way up
    weights = [2**64 - 1] + [rng.randrange(2**64) for _ in range(r - 1)]
    want = [sum(w * row[k] for w, row in zip(weights, rows, strict=True)) % p for k in range(m)]
    matrix = np.stack([elements_from_ints(field, row) for row in rows])
    assert verify.column_sums(field, matrix, np.array(weights, dtype=np.uint64)) == want


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_weights_are_secret_and_in_range(field):
    bound = min(FIELDS[field].modulus, 2**64)
    weights = verify.random_weights(field, 64)
    assert weights.dtype == np.uint64 and all(0 <= int(w) < bound for w in weights)
    assert len(set(weights.tolist())) > 60  # drawn afresh, not a fixed vector


@pytest.mark.parametrize("reply", ["a string", None, [[1, 2]], np.zeros((2, 3), dtype=np.uint64)])
def test_malformed_reply_fails(reply):
    """An untrusted worker's reply that is not an element array is a failed check, not an error."""
    _, _, rows_in, _, scale = _slices("bn254_fr", 6, seed=4)
    assert not verify.check_ntt_slice("bn254_fr", rows_in, reply, scale=scale)


@pytest.mark.parametrize("field", ["goldilocks", "babybear"])
def test_reply_in_another_format_fails(field):
    """The right numbers in the wrong format (the old four-limb layout, another dtype) fail."""
    _, _, rows_in, row_out, scale = _slices(field, 6, seed=5)
    assert row_out.dtype == element_dtype(field) and row_out.ndim == 2
    assert verify.check_ntt_slice(field, rows_in, row_out, scale=scale)
    four = np.zeros((*row_out.shape, 4), dtype=np.uint64)
    four[..., 0] = row_out
    assert not verify.check_ntt_slice(field, rows_in, four, scale=scale)
    other = np.uint64 if element_dtype(field) == np.uint32 else np.uint32
    assert not verify.check_ntt_slice(field, rows_in, row_out.astype(other), scale=scale)


@pytest.mark.parametrize(("audit_rate", "corrupted"), [(verify.DEFAULT_AUDIT_RATE, 10), (0.2, 3)])
def test_undetected_probability_matches_the_sampler(audit_rate, corrupted):
    """Over many simulated jobs the runner's sampler misses a cheater at (1 − a)^c."""
    rng = random.Random(11)
    jobs, chunks = 20_000, 40
    cheated = set(range(corrupted))
    missed = sum(
        1
        for _ in range(jobs)
        if not verify.audit_sample(list(range(chunks)), audit_rate, rng) & cheated
    )
    expected = verify.undetected_probability(audit_rate, corrupted)
    sigma = math.sqrt(expected * (1 - expected) / jobs)
    assert abs(missed / jobs - expected) < 5 * sigma
    assert verify.undetected_probability(0.05, 10) == pytest.approx(0.5987, abs=1e-4)


def test_audit_rate_validated():
    with pytest.raises(ValueError, match="audit rate"):
        verify.audit_sample([1], 1.5, random.Random(0))


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_the_test_mode_cheat_changes_one_element_and_fails(field):
    """:func:`workers.cluster.tasks._corrupt_block` on each field's compact slice."""
    from workers.cluster.tasks import _corrupt_block

    col_in, col_out, _, _, _ = _slices(field, 8, seed=9)
    for block in (col_out, np.zeros_like(col_out)):
        bad = _corrupt_block(block)
        assert bad.dtype == block.dtype and bad.shape == block.shape
        changed = [
            a != b
            for a, b in zip(
                elements_to_ints(field, bad), elements_to_ints(field, block), strict=True
            )
        ]
        assert sum(changed) == 1 and changed[0]
        assert set(elements_to_ints(field, bad[0, 0])) <= {0, 1}
    assert not verify.check_ntt_slice(field, col_in, _corrupt_block(col_out))

"""Head-side verification: the O(n) NTT slice check and the MSM audit sampler."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from workers.cluster import verify
from workers.cluster.plan import four_step_shape
from workers.codec.limb_arrays import ints_to_limbs, limbs_to_ints
from workers.ntt import radix2
from workers.params import FIELDS


def _slices(field: str, log_n: int, seed: int):
    """A column slice and a row slice (scaled, of an inverse) of a four-step NTT, with inputs."""
    p = FIELDS[field].modulus
    n = 1 << log_n
    n1, n2 = four_step_shape(n)
    rng = random.Random(seed)
    values = ints_to_limbs([rng.randrange(p) for _ in range(n)])
    columns = np.ascontiguousarray(values.reshape(n1, n2, 4).transpose(1, 0, 2))
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
        old = limbs_to_ints(bad[i, k][np.newaxis])[0]
        bad[i, k] = ints_to_limbs([(old + rng.randrange(1, p)) % p])[0]
        assert not verify.check_ntt_slice(field, col_in, bad)
    # The usual cheats: twiddles applied (the worker's job no more), skipped or wrong
    # scaling, swapped rows, zeros, a row missing, an inverse instead of a forward NTT.
    twiddled = radix2.twiddle_limbs(field, col_out, 1 << 8, 1)
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
    bad[0, 0, 0] += np.uint64(p)  # the same residue, not canonical
    assert not verify.check_ntt_slice(field, rows_in, bad, scale=scale)


@pytest.mark.parametrize("field", ["bn254_fr", "goldilocks"])
def test_column_sums_match_python(field):
    """The unreduced 384-bit accumulation, against Python integers (weights up to 2^64 − 1)."""
    p = FIELDS[field].modulus
    rng = random.Random(5)
    r, m = 7, 8
    rows = [[rng.randrange(p) for _ in range(m)] for _ in range(r)]
    rows[0] = [p - 1] * m  # the largest values and weights: the carries all the way up
    weights = [2**64 - 1] + [rng.randrange(2**64) for _ in range(r - 1)]
    want = [sum(w * row[k] for w, row in zip(weights, rows, strict=True)) % p for k in range(m)]
    matrix = np.stack([ints_to_limbs(row) for row in rows])
    assert verify.column_sums(field, matrix, np.array(weights, dtype=np.uint64)) == want


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_weights_are_secret_and_in_range(field):
    bound = min(FIELDS[field].modulus, 2**64)
    weights = verify.random_weights(field, 64)
    assert weights.dtype == np.uint64 and all(0 <= int(w) < bound for w in weights)
    assert len(set(weights.tolist())) > 60  # drawn afresh, not a fixed vector


@pytest.mark.parametrize("reply", ["a string", None, [[1, 2]], np.zeros((2, 3), dtype=np.uint64)])
def test_malformed_reply_fails(reply):
    """An untrusted worker's reply that is not a limb array is a failed check, not an error."""
    _, _, rows_in, _, scale = _slices("bn254_fr", 6, seed=4)
    assert not verify.check_ntt_slice("bn254_fr", rows_in, reply, scale=scale)


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

"""Head-side verification: the O(n) NTT slice check and the MSM audit sampler."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from workers import cpu_ntt, verify
from workers.encoding import ints_to_limbs, limbs_to_ints
from workers.params import FIELDS
from workers.plan import four_step_shape


def _slices(field: str, log_n: int, seed: int):
    """A column slice (twiddled) and a row slice (scaled) of a four-step NTT, with inputs."""
    p = FIELDS[field].modulus
    n = 1 << log_n
    n1, n2 = four_step_shape(n)
    rng = random.Random(seed)
    values = ints_to_limbs([rng.randrange(p) for _ in range(n)])
    columns = np.ascontiguousarray(values.reshape(n1, n2, 4).transpose(1, 0, 2))
    start, stop = 1, max(2, n2 // 2)
    col_out = cpu_ntt.twiddle_limbs(
        field, cpu_ntt.ntt_rows_limbs(field, columns[start:stop].copy()), n, start
    )
    scale = pow(n, -1, p)
    rows_in = columns[:3].copy()
    row_out = cpu_ntt.scale_limbs(field, cpu_ntt.ntt_rows_limbs(field, rows_in), scale)
    return n, start, columns[start:stop], col_out, rows_in, row_out, scale


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_correct_slices_pass_every_corruption_fails(field):
    n, start, col_in, col_out, rows_in, row_out, scale = _slices(field, 8, seed=len(field))
    p = FIELDS[field].modulus
    assert verify.check_ntt_slice(field, col_in, col_out, twiddle_n=n, row_offset=start)
    assert verify.check_ntt_slice(field, rows_in, row_out, scale=scale)
    rng = random.Random(7)
    for _ in range(20):  # one element changed anywhere, to any other canonical value
        i, k = rng.randrange(col_out.shape[0]), rng.randrange(col_out.shape[1])
        bad = col_out.copy()
        old = limbs_to_ints(bad[i, k][np.newaxis])[0]
        bad[i, k] = ints_to_limbs([(old + rng.randrange(1, p)) % p])[0]
        assert not verify.check_ntt_slice(field, col_in, bad, twiddle_n=n, row_offset=start)
    # The usual cheats: wrong twiddles, skipped scaling, swapped rows, zeros.
    assert not verify.check_ntt_slice(field, col_in, col_out, twiddle_n=n, row_offset=start + 1)
    assert not verify.check_ntt_slice(field, rows_in, row_out)
    assert not verify.check_ntt_slice(field, rows_in, row_out[::-1].copy(), scale=scale)
    assert not verify.check_ntt_slice(field, rows_in, np.zeros_like(row_out), scale=scale)
    assert not verify.check_ntt_slice(field, rows_in, row_out[:2], scale=scale)


def test_non_canonical_output_fails():
    field = "babybear"
    p = FIELDS[field].modulus
    _, _, _, _, rows_in, row_out, scale = _slices(field, 6, seed=3)
    bad = row_out.copy()
    bad[0, 0, 0] += np.uint64(p)  # the same residue, not canonical
    assert not verify.check_ntt_slice(field, rows_in, bad, scale=scale)


def test_row_evaluations_match_python():
    """Both sides of the check, against the formulas written out with Python integers."""
    field = "goldilocks"
    p = FIELDS[field].modulus
    rng = random.Random(5)
    m, r, n, offset = 8, 3, 64, 5
    inputs = [[rng.randrange(p) for _ in range(m)] for _ in range(r)]
    outputs = [[rng.randrange(p) for _ in range(m)] for _ in range(r)]
    sigma, scale = rng.randrange(p), rng.randrange(1, p)
    w_inv = pow(FIELDS[field].root_of_unity(n), -1, p)
    w_m = FIELDS[field].root_of_unity(m)
    u = [scale * sum(pow(sigma, k, p) * pow(w_m, j * k, p) for k in range(m)) % p for j in range(m)]
    want_left = [
        sum(pow(sigma, k, p) * pow(w_inv, (offset + i) * k, p) * outputs[i][k] for k in range(m))
        % p
        for i in range(r)
    ]
    want_right = [sum(u[j] * inputs[i][j] for j in range(m)) % p for i in range(r)]
    left, right = verify.row_evaluations(
        field,
        np.stack([ints_to_limbs(row) for row in inputs]),
        np.stack([ints_to_limbs(row) for row in outputs]),
        sigma,
        twiddle_n=n,
        row_offset=offset,
        scale=scale,
    )
    assert limbs_to_ints(left) == want_left
    assert limbs_to_ints(right) == want_right


@pytest.mark.parametrize("reply", ["a string", None, [[1, 2]], np.zeros((2, 3), dtype=np.uint64)])
def test_malformed_reply_fails(reply):
    """An untrusted worker's reply that is not a limb array is a failed check, not an error."""
    _, _, _, _, rows_in, _, scale = _slices("bn254_fr", 6, seed=4)
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

"""The multi-threaded CPU kernels give exactly the one-thread results (issue 3 §2).

The size thresholds below which a call stays serial are lowered to 1 here so
that small, fast inputs go through the parallel kernels; the partition logic
is also driven directly with more parts than numba has threads (3, 4, 5).
"""

from __future__ import annotations

import random

import numba
import numpy as np
import pytest

from tests.workers.test_msm import INF, R, negate, py_ecc_msm, random_point
from workers.codec.arrays import element_shape, elements_from_ints
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.fields import mont4
from workers.msm import curve, pippenger, window
from workers.ntt import radix2
from workers.params import FIELDS

CURVE = "bn254_g1"
TWO_THREADS = numba.config.NUMBA_NUM_THREADS >= 2
needs_two = pytest.mark.skipif(not TWO_THREADS, reason="numba has fewer than 2 threads here")


@pytest.fixture(autouse=True)
def _parallel_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pippenger, "PARALLEL_MIN_TERMS", 1)
    monkeypatch.setattr(radix2, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.delenv(mont4.KERNEL_THREADS_ENV, raising=False)
    yield
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def _with_threads(threads: int, call):
    numba.set_num_threads(threads)
    try:
        return call()
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def _msm_case(n: int, seed: int) -> tuple[list[tuple[int, int]], list[int]]:
    rng = random.Random(seed)
    pool = [random_point(rng) for _ in range(min(n, 8))]
    points = [rng.choice(pool) for _ in range(n)]  # repeated points
    scalars = [rng.randrange(R) for _ in range(n)]
    edge = [0, R - 1, 1, (R - 1) // 2, 2**253]
    for i in range(min(n, len(edge))):
        scalars[i] = edge[i]
    if n >= 4:
        points[1] = INF
        points[3] = negate(points[2])  # P + (−P) in a bucket
        scalars[3] = scalars[2]
    return points, scalars


@needs_two
@pytest.mark.parametrize("n", [1, 2, 5, 64, 300, 2048])
def test_msm_one_and_two_threads_agree(n: int) -> None:
    points, scalars = _msm_case(n, seed=n)
    bases = points_to_limbs(points)
    limbs = ints_to_limbs(scalars)
    one = _with_threads(1, lambda: pippenger.msm_limbs(CURVE, bases, limbs))
    two = _with_threads(2, lambda: pippenger.msm_limbs(CURVE, bases, limbs))
    assert one == two
    if n <= 64:
        assert two == py_ecc_msm(points, scalars)


@pytest.mark.parametrize("threads", [2, 3, 5, 40])
def test_msm_window_split_any_thread_count(threads: int) -> None:
    """The window ranges of :func:`pippenger.bucket_msm` cover every window once."""
    points, scalars = _msm_case(200, seed=threads)
    bases = points_to_limbs(points).reshape(-1, 8)
    keep = bases.any(axis=1)
    limbs = ints_to_limbs(scalars)[keep]
    kc = curve.kernel_curve(CURVE)
    mont = curve.mont_rows(kc, bases[keep])
    for batch_affine in (False, True):
        serial = pippenger.bucket_msm(mont, limbs, 5, kc.f, 1, batch_affine)
        split = pippenger.bucket_msm(mont, limbs, 5, kc.f, threads, batch_affine)
        assert np.array_equal(serial, split)


def test_window_rule_counts_the_busiest_thread() -> None:
    assert window.window_size(1 << 16, threads=1) == window.window_size(1 << 16)
    for n in (1 << 12, 1 << 16, 1 << 18):
        c = window.window_size(n, threads=2)
        assert 1 <= c <= window.C_MAX


def _random_values(field: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = random.Random(seed)
    p = FIELDS[field].modulus
    flat = [rng.randrange(p) for _ in range(int(np.prod(shape)))]
    return elements_from_ints(field, flat).reshape(element_shape(field, *shape))


@needs_two
@pytest.mark.parametrize("field", ["bn254_fr", "bls12_381_fr", "goldilocks"])
@pytest.mark.parametrize("log_n", [0, 1, 2, 5, 12])
def test_ntt_one_and_two_threads_agree(field: str, log_n: int) -> None:
    values = _random_values(field, (1 << log_n,), seed=log_n)
    for inverse, coset in ((False, None), (True, None), (False, 7)):
        one = _with_threads(1, lambda: radix2.ntt_limbs(field, values, inverse, coset))  # noqa: B023
        two = _with_threads(2, lambda: radix2.ntt_limbs(field, values, inverse, coset))  # noqa: B023
        assert np.array_equal(one, two)
    back = _with_threads(2, lambda: radix2.ntt_limbs(field, radix2.ntt_limbs(field, values), True))
    assert np.array_equal(back, values)


@needs_two
@pytest.mark.parametrize("rows", [1, 2, 3, 8])
def test_ntt_rows_one_and_two_threads_agree(rows: int) -> None:
    matrix = _random_values("bn254_fr", (rows, 256), seed=rows)
    one = _with_threads(1, lambda: radix2.ntt_rows_limbs("bn254_fr", matrix))
    two = _with_threads(2, lambda: radix2.ntt_rows_limbs("bn254_fr", matrix))
    assert np.array_equal(one, two)


@pytest.mark.parametrize("parts", [2, 4, 8])
@pytest.mark.parametrize("log_n", [4, 10])
def test_ntt_block_split_any_part_count(parts: int, log_n: int) -> None:
    """:func:`radix2._ntt_inplace_parallel` with more parts than threads equals the serial one."""
    field = "bn254_fr"
    n = 1 << log_n
    values = _random_values(field, (n,), seed=parts)
    twiddles = radix2.twiddles_for(field, n)
    consts = mont4.montgomery_constants(FIELDS[field].modulus)
    serial = values.copy()
    radix2._ntt_inplace(serial, twiddles, consts)
    split = values.copy()
    radix2._ntt_inplace_parallel(split, twiddles, parts, consts)
    assert np.array_equal(serial, split)


def test_kernel_threads_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert mont4.kernel_threads() == numba.get_num_threads()
    monkeypatch.setenv(mont4.KERNEL_THREADS_ENV, "1")
    assert mont4.kernel_threads() == 1
    monkeypatch.setenv(mont4.KERNEL_THREADS_ENV, "64")
    assert mont4.kernel_threads() == numba.get_num_threads()
    monkeypatch.setenv(mont4.KERNEL_THREADS_ENV, "0")
    with pytest.raises(ValueError):
        mont4.kernel_threads()
    monkeypatch.delenv(mont4.KERNEL_THREADS_ENV)
    assert _with_threads(1, mont4.kernel_threads) == 1

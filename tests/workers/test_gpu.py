"""The GPU backend on a real CUDA device (CuPy), against the CPU backend.

Skipped where :func:`workers.gpu.cupy_backend.gpu_available` is false.  Run on a GPU with
``pytest -m gpu tests/workers/test_gpu.py``.
"""

from __future__ import annotations

import random

import pytest
from gpu_cases import GPU_FIELDS, MSM_SIZES, NTT_LOG_SIZES, msm_case, ntt_values

from workers import api
from workers.gpu import cupy_backend
from workers.params import BN254_R

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cupy_backend.gpu_available(), reason="no CUDA device visible to CuPy"),
]


@pytest.mark.parametrize("n", [*MSM_SIZES, 1000, 1 << 14])
def test_msm_gpu_matches_cpu(n):
    points, scalars = msm_case(n, seed=n)
    expected = api.msm("bn254_g1", points, scalars, backend="cpu")
    assert api.msm("bn254_g1", points, scalars, backend="gpu") == expected


def test_msm_gpu_trivial():
    points, scalars = msm_case(17, seed=2)
    assert api.msm("bn254_g1", points, [0] * 17, backend="gpu") == (0, 0)
    assert api.msm("bn254_g1", [(0, 0)] * 17, scalars, backend="gpu") == (0, 0)
    assert api.msm("bn254_g1", [], [], backend="gpu") == (0, 0)
    generator = [(1, 2)]
    for k in (1, 2, BN254_R - 1):
        expected = api.msm("bn254_g1", generator, [k], backend="cpu")
        assert api.msm("bn254_g1", generator, [k], backend="gpu") == expected


@pytest.mark.parametrize("field", GPU_FIELDS)
@pytest.mark.parametrize("log_n", NTT_LOG_SIZES)
@pytest.mark.parametrize("inverse", [False, True])
def test_ntt_gpu_matches_cpu(field, log_n, inverse):
    values = ntt_values(field, 1 << log_n, seed=log_n)
    expected = api.ntt(field, values, inverse, backend="cpu")
    assert api.ntt(field, values, inverse, backend="gpu") == expected


@pytest.mark.parametrize("field", GPU_FIELDS)
def test_ntt_gpu_coset_batch_and_round_trip(field):
    batch = [ntt_values(field, 32, seed=s) for s in range(4)]
    for inverse in (False, True):
        assert api.ntt_batch(field, batch, inverse, coset=7, backend="gpu") == api.ntt_batch(
            field, batch, inverse, coset=7, backend="cpu"
        )
    values = ntt_values(field, 1 << 16, seed=99)
    forward = api.ntt(field, values, backend="gpu")
    assert forward == api.ntt(field, values, backend="cpu")
    assert api.ntt(field, forward, inverse=True, backend="gpu") == values


def test_auto_uses_gpu_and_falls_back():
    rng = random.Random(0)
    values = [rng.randrange(1 << 60) for _ in range(16)]
    assert api.ntt("bn254_fr", values) == api.ntt("bn254_fr", values, backend="cpu")
    assert api.ntt("babybear", [1, 2, 3, 4]) == api.ntt("babybear", [1, 2, 3, 4], backend="cpu")

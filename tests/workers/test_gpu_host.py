"""The CUDA kernels built for the host (g++) against the CPU backend.

The same source the GPU runs (``workers/kernels``) is compiled with
``host_compat.h`` and driven by :mod:`workers.gpu.driver`, exactly as
:mod:`workers.gpu.cupy_backend` drives it through CuPy on a device.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from gpu_cases import (
    GPU_FIELDS,
    MSM_SIZES,
    NTT_LOG_SIZES,
    msm_case,
    ntt_values,
)

from workers import api
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.errors import BackendUnavailableError, KernelInputError
from workers.fields.mont4 import add_into, montgomery_constants, mul_into, sub_into
from workers.gpu import cupy_backend, driver, host_build
from workers.msm import digits, pippenger, window
from workers.ntt import radix2
from workers.params import BN254_P, BN254_R, FIELDS

pytestmark = pytest.mark.skipif(host_build.compiler() is None, reason="no g++ for the host build")


@pytest.fixture(scope="module")
def launcher() -> host_build.HostLauncher:
    return host_build.HostLauncher()


FIELD_KERNELS = [
    ("bn254_fp", BN254_P),
    ("bn254_fr", BN254_R),
    ("bls12_381_fr", FIELDS["bls12_381_fr"].modulus),
]


@pytest.mark.parametrize(("name", "p"), FIELD_KERNELS)
def test_field_ops_match_cpu(launcher, name, p):
    rng = random.Random(p)
    n = 300
    edge = [0, 1, 2, p - 1, p - 2, (1 << 64) - 1, 1 << 64, p >> 1]
    a = ints_to_limbs(edge + [rng.randrange(p) for _ in range(n - len(edge))])
    b = ints_to_limbs([rng.randrange(p) for _ in range(n - len(edge))] + edge[::-1])
    consts = montgomery_constants(p)
    for op, cpu_op in enumerate((mul_into, add_into, sub_into)):
        expected = np.empty_like(a)
        cpu_op(expected, a, b, consts)
        out = np.zeros_like(a)
        launcher.launch(f"{name}_binary", n, out, a, b, n, op)
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("c", [1, 5, 13, 16])
def test_signed_digits_match_cpu(c):
    rng = random.Random(c)
    scalars = ints_to_limbs(
        [0, 1, BN254_R - 1, (1 << 256) - 1] + [rng.randrange(BN254_R) for _ in range(60)]
    )
    windows = window.n_windows(c)
    got = driver.signed_digits(np, scalars, c, windows)
    np.testing.assert_array_equal(got, digits.signed_digits(scalars, c, windows))


@pytest.mark.parametrize("n", MSM_SIZES)
def test_msm_matches_cpu(launcher, n):
    points, scalars = msm_case(n, seed=n)
    bases, scalar_limbs = points_to_limbs(points), ints_to_limbs(scalars)
    expected = pippenger.msm_limbs("bn254_g1", bases, scalar_limbs)
    assert driver.msm(launcher, "bn254_g1", bases, scalar_limbs) == expected


def test_msm_all_trivial_terms(launcher):
    points, scalars = msm_case(17, seed=3)
    zero = [0] * 17
    assert driver.msm(launcher, "bn254_g1", points_to_limbs(points), ints_to_limbs(zero)) == (
        0,
        0,
    )
    infinities = points_to_limbs([(0, 0)] * 17)
    assert driver.msm(launcher, "bn254_g1", infinities, ints_to_limbs(scalars)) == (0, 0)


def test_msm_cancelling_terms(launcher):
    points, _ = msm_case(2, seed=5)
    p = points[0]
    pair = [p, (p[0], BN254_P - p[1])]
    assert driver.msm(launcher, "bn254_g1", points_to_limbs(pair), ints_to_limbs([9, 9])) == (
        0,
        0,
    )


@pytest.mark.parametrize("field", GPU_FIELDS)
@pytest.mark.parametrize("log_n", NTT_LOG_SIZES)
def test_ntt_matches_cpu(launcher, field, log_n):
    n = 1 << log_n
    values = ints_to_limbs(ntt_values(field, n, seed=log_n))
    for inverse in (False, True):
        expected = radix2.ntt_limbs(field, values, inverse)
        got = driver.ntt_rows(launcher, field, values[np.newaxis], inverse)[0]
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("field", GPU_FIELDS)
@pytest.mark.parametrize("inverse", [False, True])
def test_coset_and_batch_ntt_match_cpu(launcher, field, inverse):
    rows = np.stack([ints_to_limbs(ntt_values(field, 64, seed=s)) for s in range(3)])
    expected = radix2.ntt_rows_limbs(field, rows, inverse, coset=7)
    got = driver.ntt_rows(launcher, field, rows, inverse, coset=7)
    np.testing.assert_array_equal(got, expected)


def test_unsupported_inputs_raise(launcher):
    with pytest.raises(NotImplementedError):
        driver.ntt_rows(launcher, "goldilocks", np.zeros((1, 4, 4), dtype=np.uint64))
    with pytest.raises(NotImplementedError):
        driver.msm(
            launcher, "bls12_381_g1", np.zeros((1, 2, 4), np.uint64), np.zeros((1, 4), np.uint64)
        )


# --- backend selection in the public API ------------------------------------------------------


@pytest.fixture
def host_as_gpu(monkeypatch, launcher):
    """Make ``backend="gpu"`` run the host build, to test the API's GPU path end to end."""
    monkeypatch.setattr(cupy_backend, "gpu_available", lambda: True)
    monkeypatch.setattr(cupy_backend, "launcher", lambda: launcher)


@pytest.mark.parametrize("backend", ["auto", "cpu", "gpu"])
def test_api_backends_agree(host_as_gpu, backend):
    points, scalars = msm_case(17, seed=11)
    assert api.msm("bn254_g1", points, scalars, backend=backend) == api.msm(
        "bn254_g1", points, scalars, backend="cpu"
    )
    values = ntt_values("bn254_fr", 16, seed=1)
    for inverse, coset in [(False, None), (True, None), (False, 5), (True, 5)]:
        assert api.ntt("bn254_fr", values, inverse, coset, backend=backend) == api.ntt(
            "bn254_fr", values, inverse, coset, backend="cpu"
        )
    batch = [ntt_values("bls12_381_fr", 8, seed=s) for s in range(3)]
    assert api.ntt_batch("bls12_381_fr", batch, backend=backend) == api.ntt_batch(
        "bls12_381_fr", batch, backend="cpu"
    )


def test_auto_falls_back_for_unsupported_fields(host_as_gpu):
    values = ntt_values("goldilocks", 8, seed=2)
    assert api.ntt("goldilocks", values) == api.ntt("goldilocks", values, backend="cpu")
    with pytest.raises(BackendUnavailableError, match="no NTT over goldilocks"):
        api.ntt("goldilocks", values, backend="gpu")


def test_gpu_backend_without_device(monkeypatch):
    monkeypatch.setattr(cupy_backend, "gpu_available", lambda: False)
    points, scalars = msm_case(2, seed=1)
    with pytest.raises(BackendUnavailableError, match="no CUDA device") as info:
        api.msm("bn254_g1", points, scalars, backend="gpu")
    assert info.value.field == "backend"
    with pytest.raises(BackendUnavailableError):
        api.ntt_batch("bn254_fr", [[1, 2]], backend="gpu")
    # auto = CPU here
    assert api.msm("bn254_g1", points, scalars) == api.msm("bn254_g1", points, scalars, "cpu")


def test_unknown_backend_rejected():
    with pytest.raises(KernelInputError, match="backend must be one of") as info:
        api.ntt("bn254_fr", [1, 2], backend="tpu")
    assert info.value.field == "backend"


def test_gpu_available_is_false_without_cupy():
    try:
        import cupy  # noqa: F401
    except ImportError:
        assert cupy_backend.gpu_available() is False
    else:
        assert isinstance(cupy_backend.gpu_available(), bool)


def test_msm_crowded_bucket_is_chunked(launcher):
    """Runs longer than ``MSM_CHUNK`` are split over threads and gathered."""
    points, _ = msm_case(200, seed=8)
    scalars = [5] * 150 + [BN254_R - 5] * 50
    bases, scalar_limbs = points_to_limbs(points), ints_to_limbs(scalars)
    expected = pippenger.msm_limbs("bn254_g1", bases, scalar_limbs)
    assert driver.msm(launcher, "bn254_g1", bases, scalar_limbs) == expected

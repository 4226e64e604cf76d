"""``bench/gpu.py`` checks every GPU result against the CPU kernels before timing it
(issue 14, "Also").  No GPU here: the check runs on CPU-computed results standing in for
the GPU's, and the script itself must exit 0 with a clear message without a device."""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workers.codec.limb_arrays import points_to_limbs
from workers.gpu import cupy_backend
from workers.msm import pippenger
from workers.ntt import radix2
from workers.reference import random_points

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_are_checked_before_timing():
    bench = _bench()
    rng = np.random.default_rng(3)
    values = bench.random_canonical(rng, 1 << 6)
    calls = []

    def right():
        calls.append(1)
        return radix2.ntt_limbs("bn254_fr", values)

    first, median = bench.check_then_time(
        "ntt", right, lambda: radix2.ntt_limbs("bn254_fr", values)
    )
    assert first >= 0 and median >= 0 and len(calls) == 1 + bench.REPEATS

    wrong = radix2.ntt_limbs("bn254_fr", values)
    wrong[3, 0] ^= np.uint64(1)
    calls.clear()

    def wrong_gpu():
        calls.append(1)
        return wrong

    with pytest.raises(bench.GpuMismatchError, match="ntt"):
        bench.check_then_time("ntt", wrong_gpu, lambda: radix2.ntt_limbs("bn254_fr", values))
    assert len(calls) == 1  # nothing timed after a mismatch

    bases = points_to_limbs(random_points("bn254_g1", 16, random.Random(3)))
    scalars = bench.random_canonical(rng, 16)
    point = pippenger.msm_limbs("bn254_g1", bases, scalars)
    assert bench.same_result(point, pippenger.msm_limbs("bn254_g1", bases, scalars))
    assert not bench.same_result((point[0], point[1] + 1), point)


@pytest.mark.skipif(cupy_backend.gpu_available(), reason="a CUDA device is visible")
def test_without_a_gpu_it_says_so_and_exits_0():
    done = subprocess.run(
        [sys.executable, str(BENCH)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "no CUDA device" in done.stdout

"""GPU kernel timings: MSM bn254_g1 at 2^16/2^18/2^20 and NTT bn254_fr at 2^20/2^22.

Run ``python bench/gpu.py``; prints a table and writes ``bench/results/cupy_backend.json``.
Every GPU result is first checked against the CPU kernels on the same inputs
(:func:`check_then_time`: :func:`workers.msm.pippenger.msm_limbs`,
:func:`workers.ntt.radix2.ntt_limbs`); a mismatch stops the run with exit code 1
before anything is timed or written.  Times are wall-clock per call of the unchecked
entry points
(:func:`workers.gpu.cupy_backend.msm_gpu`, :func:`workers.gpu.cupy_backend.ntt_gpu`),
host↔device copies
included, median of ``REPEATS`` after one warm-up call (which also compiles the
kernels; its time is reported as ``first_s``).  MSM bases are drawn from a pool
of 1024 random points (the bucket method's cost does not depend on repeats).
Without a CUDA device it says so and exits 0.
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.codec.limb_arrays import points_to_limbs
from workers.gpu import cupy_backend
from workers.msm import pippenger
from workers.ntt import radix2
from workers.params import BN254_P

REPEATS = 3
MSM_LOG_SIZES = (16, 18, 20)
NTT_LOG_SIZES = (20, 22)
OUT = Path(__file__).resolve().parent / "results" / "cupy_backend.json"


def random_point(rng: random.Random) -> tuple[int, int]:
    while True:
        x = rng.randrange(BN254_P)
        rhs = (x * x * x + 3) % BN254_P
        y = pow(rhs, (BN254_P + 1) // 4, BN254_P)
        if y * y % BN254_P == rhs:
            return (x, y)


def random_canonical(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 254-bit-field elements below 2^253 (< r and < p of BN254)."""
    limbs = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64, endpoint=False)
    limbs[:, 3] &= np.uint64((1 << 61) - 1)
    return limbs


class GpuMismatchError(RuntimeError):
    """A GPU result differs from the CPU kernels' on the same input."""


def same_result(gpu: object, cpu: object) -> bool:
    """Whether a GPU result equals the CPU kernels' (limb arrays, or affine points)."""
    if isinstance(cpu, np.ndarray):
        gpu = np.asarray(gpu)
        return gpu.shape == cpu.shape and bool(np.array_equal(gpu, cpu))
    return tuple(gpu) == tuple(cpu)  # type: ignore[arg-type]


def check_then_time(name: str, gpu_fn, cpu_fn) -> tuple[float, float]:
    """``(first_s, median_s)`` of ``gpu_fn``, after checking its first (warm-up) result
    against ``cpu_fn()``: :class:`GpuMismatchError` naming ``name`` if they differ."""
    start = time.perf_counter()
    result = gpu_fn()
    first = time.perf_counter() - start
    if not same_result(result, cpu_fn()):
        raise GpuMismatchError(f"{name}: the GPU result differs from the CPU kernels'")
    return first, timed(gpu_fn)


def timed(fn) -> float:
    """Median wall-clock seconds of ``REPEATS`` calls of ``fn``."""
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def measure() -> tuple[list[dict], str]:
    """The table's rows (each GPU result checked first) and the device's name."""
    import cupy

    device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    rng = np.random.default_rng(1)
    pool = points_to_limbs([random_point(random.Random(i)) for i in range(1024)])
    rows = []
    for log_n in MSM_LOG_SIZES:
        n = 1 << log_n
        bases = pool[rng.integers(0, len(pool), size=n)]
        scalars = random_canonical(rng, n)
        first, best = check_then_time(
            f"msm bn254_g1 2^{log_n}",
            lambda b=bases, s=scalars: cupy_backend.msm_gpu("bn254_g1", b, s),
            lambda b=bases, s=scalars: pippenger.msm_limbs("bn254_g1", b, s),
        )
        rows.append(
            {
                "kernel": "msm",
                "target": "bn254_g1",
                "log_n": log_n,
                "first_s": first,
                "median_s": best,
            }
        )
    for log_n in NTT_LOG_SIZES:
        values = random_canonical(rng, 1 << log_n)
        first, best = check_then_time(
            f"ntt bn254_fr 2^{log_n}",
            lambda v=values: cupy_backend.ntt_gpu("bn254_fr", v),
            lambda v=values: radix2.ntt_limbs("bn254_fr", v),
        )
        rows.append(
            {
                "kernel": "ntt",
                "target": "bn254_fr",
                "log_n": log_n,
                "first_s": first,
                "median_s": best,
            }
        )
    return rows, device


def main() -> int:
    if not cupy_backend.gpu_available():
        print("no CUDA device visible to CuPy (no GPU, driver or CuPy): nothing to benchmark")
        return 0
    try:
        rows, device = measure()
    except GpuMismatchError as exc:
        print(f"GPU result check failed: {exc}; nothing timed", file=sys.stderr)
        return 1
    print(f"device: {device}")
    print(f"{'kernel':<6} {'target':<10} {'size':>6} {'first (s)':>10} {'median (s)':>11}")
    for row in rows:
        print(
            f"{row['kernel']:<6} {row['target']:<10} 2^{row['log_n']:<4} "
            f"{row['first_s']:>10.3f} {row['median_s']:>11.4f}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"device": device, "python": platform.python_version(), "results": rows}, indent=2
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

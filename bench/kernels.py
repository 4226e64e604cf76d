"""Benchmark of the CPU kernels on one core: MSM (BN254 G1) and NTT (every field).

Usage: ``python bench/kernels.py [--json PATH] [--repeat N]``

Measures, in one process pinned to one numba thread:

* the numba compile time: cold (a child process with an empty cache
  directory) and the first call here (a cache load when ``__pycache__`` is warm);
* one Montgomery multiplication (``arith.mul_into`` over 2^20 elements, per element);
* MSM of 2^16 random points: the public ``msm`` (validation and the Python-int
  conversion included) and the unchecked ``msm_limbs`` on ready limb arrays;
* py_ecc's naive MSM (a sum of ``optimized_bn128.multiply``) at 2^8 points,
  scaled linearly to 2^16;
* NTT of 2^16 and 2^20 elements on limb arrays (twiddles cached) and through ``ntt``;
* NTT ``bls12_381_fr`` at 2^16 and 2^20, ``goldilocks`` and ``babybear`` at 2^20
  on ``(n, 4)`` limb arrays (the layout every caller uses) and, for the one-word
  fields, on ``(n, 1)`` arrays (the kernel without the padding copies).

Times are the best of ``--repeat`` runs after a warm-up.  Prints a table and
writes JSON (default ``bench/results/kernels.json``).
"""

from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"  # before numba is imported

import argparse
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from py_ecc import optimized_bn128  # noqa: E402

from workers import api, arith, cpu_msm, cpu_ntt  # noqa: E402
from workers.encoding import ints_to_limbs, points_to_limbs  # noqa: E402
from workers.params import BN254_P, BN254_R, FIELDS  # noqa: E402
from workers.reference import random_points  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "kernels.json"
COLD_COMPILE = """
import time
t = time.perf_counter()
from workers import msm, ntt
msm("bn254_g1", [(1, 2), (1, 2)], [3, 4])
ntt("bn254_fr", [1, 2, 3, 4])
print(time.perf_counter() - t)
t = time.perf_counter()
for field in ("goldilocks", "babybear"):
    ntt(field, [1, 2, 3, 4], coset=3)
print(time.perf_counter() - t)
"""


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The shortest wall time of ``repeat`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def py_ecc_msm(points: list[tuple[int, int]], scalars: list[int]) -> object:
    total = optimized_bn128.Z1
    for (x, y), k in zip(points, scalars, strict=True):
        base = (optimized_bn128.FQ(x), optimized_bn128.FQ(y), optimized_bn128.FQ.one())
        total = optimized_bn128.add(total, optimized_bn128.multiply(base, k))
    return total


def cold_compile_seconds() -> tuple[float, float]:
    """First ``msm`` + ``ntt`` call, then first small-field ``ntt`` calls, with an empty cache."""
    with tempfile.TemporaryDirectory() as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, NUMBA_NUM_THREADS="1")
        out = subprocess.run(
            [sys.executable, "-c", COLD_COMPILE],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
    lines = out.stdout.strip().splitlines()
    return float(lines[-2]), float(lines[-1])


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(repeat: int) -> dict[str, object]:
    rng = random.Random(2024)
    results: dict[str, object] = {
        "machine": {
            "processor": platform.processor(),
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numba_threads": int(os.environ["NUMBA_NUM_THREADS"]),
        }
    }
    timings: dict[str, float] = {}
    timings["compile_cold_s"], timings["compile_cold_small_fields_s"] = cold_compile_seconds()

    start = time.perf_counter()
    api.msm("bn254_g1", [(1, 2), (1, 2)], [3, 4])
    api.ntt("bn254_fr", [1, 2, 3, 4])
    timings["first_call_this_process_s"] = time.perf_counter() - start

    # Montgomery multiplication throughput (load, multiply, store per element).
    n = 1 << 20
    consts = arith.montgomery_constants(BN254_P)
    a = ints_to_limbs([rng.randrange(BN254_P) for _ in range(n)])
    b = ints_to_limbs([rng.randrange(BN254_P) for _ in range(n)])
    out = np.empty_like(a)
    arith.mul_into(out, a, b, consts)
    timings["mulmod_ns"] = best_of(repeat, lambda: arith.mul_into(out, a, b, consts)) / n * 1e9

    # MSM 2^16.
    n = 1 << 16
    points = random_points("bn254_g1", n, rng)
    scalars = [rng.randrange(BN254_R) for _ in range(n)]
    bases, scalar_limbs = points_to_limbs(points), ints_to_limbs(scalars)
    timings["msm_2^16_window_c"] = cpu_msm.window_size(n)
    timings["msm_2^16_limbs_s"] = best_of(
        repeat, lambda: cpu_msm.msm_limbs("bn254_g1", bases, scalar_limbs)
    )
    timings["msm_2^16_api_s"] = best_of(repeat, lambda: api.msm("bn254_g1", points, scalars))
    timings["msm_2^16_validate_s"] = best_of(
        repeat, lambda: api.validate_msm_input("bn254_g1", points, scalars)
    )

    # py_ecc's naive MSM at 2^8, scaled to 2^16.
    m = 1 << 8
    start = time.perf_counter()
    py_ecc_msm(points[:m], scalars[:m])
    timings["py_ecc_2^8_s"] = time.perf_counter() - start
    timings["py_ecc_2^16_scaled_s"] = timings["py_ecc_2^8_s"] * (n // m)

    # NTT 2^16 and 2^20.
    for log_n in (16, 20):
        size = 1 << log_n
        values = [rng.randrange(BN254_R) for _ in range(size)]
        limbs = ints_to_limbs(values)
        start = time.perf_counter()
        cpu_ntt.ntt_limbs("bn254_fr", limbs)
        timings[f"ntt_2^{log_n}_first_s"] = time.perf_counter() - start  # + twiddle table
        timings[f"ntt_2^{log_n}_limbs_s"] = best_of(
            repeat, lambda limbs=limbs: cpu_ntt.ntt_limbs("bn254_fr", limbs)
        )
        timings[f"ntt_2^{log_n}_inverse_limbs_s"] = best_of(
            repeat, lambda limbs=limbs: cpu_ntt.ntt_limbs("bn254_fr", limbs, inverse=True)
        )
        timings[f"ntt_2^{log_n}_api_s"] = best_of(
            repeat, lambda values=values: api.ntt("bn254_fr", values)
        )

    # The other fields (ours only; the peers come later).
    for field, log_n in (("bls12_381_fr", 16), ("bls12_381_fr", 20)):
        size = 1 << log_n
        p = FIELDS[field].modulus
        limbs = ints_to_limbs([rng.randrange(p) for _ in range(size)])
        cpu_ntt.ntt_limbs(field, limbs)
        timings[f"ntt_{field}_2^{log_n}_limbs_s"] = best_of(
            repeat, lambda limbs=limbs, field=field: cpu_ntt.ntt_limbs(field, limbs)
        )
    for field in ("goldilocks", "babybear"):
        size = 1 << 20
        p = FIELDS[field].modulus
        words = ints_to_limbs([rng.randrange(p) for _ in range(size)], 1)
        limbs = np.zeros((size, 4), dtype=np.uint64)
        limbs[:, :1] = words
        cpu_ntt.ntt_limbs(field, limbs)
        timings[f"ntt_{field}_2^20_limbs_s"] = best_of(
            repeat, lambda limbs=limbs, field=field: cpu_ntt.ntt_limbs(field, limbs)
        )
        timings[f"ntt_{field}_2^20_words_s"] = best_of(
            repeat, lambda words=words, field=field: cpu_ntt.ntt_limbs(field, words)
        )
    results["timings"] = timings
    return results


ROWS = [
    ("compile_cold_s", "numba compile, cold cache (msm + ntt first call)", "s"),
    ("compile_cold_small_fields_s", "  then goldilocks + babybear coset ntt, cold", "s"),
    ("first_call_this_process_s", "first msm + ntt call in this process", "s"),
    ("mulmod_ns", "Montgomery multiplication (BN254 Fp, per element)", "ns"),
    ("msm_2^16_window_c", "MSM 2^16: window c from the cost model", ""),
    ("msm_2^16_limbs_s", "MSM 2^16 bn254_g1, msm_limbs (limb arrays)", "s"),
    ("msm_2^16_api_s", "MSM 2^16 bn254_g1, msm (validation + ints)", "s"),
    ("msm_2^16_validate_s", "  of which validate_msm_input", "s"),
    ("py_ecc_2^8_s", "py_ecc naive MSM 2^8 (optimized_bn128)", "s"),
    ("py_ecc_2^16_scaled_s", "py_ecc naive MSM scaled to 2^16", "s"),
    ("ntt_2^16_limbs_s", "NTT 2^16 bn254_fr, ntt_limbs", "s"),
    ("ntt_2^16_inverse_limbs_s", "inverse NTT 2^16, ntt_limbs", "s"),
    ("ntt_2^16_api_s", "NTT 2^16, ntt (validation + ints)", "s"),
    ("ntt_2^16_first_s", "NTT 2^16 first call (builds twiddles)", "s"),
    ("ntt_2^20_limbs_s", "NTT 2^20 bn254_fr, ntt_limbs", "s"),
    ("ntt_2^20_inverse_limbs_s", "inverse NTT 2^20, ntt_limbs", "s"),
    ("ntt_2^20_api_s", "NTT 2^20, ntt (validation + ints)", "s"),
    ("ntt_2^20_first_s", "NTT 2^20 first call (builds twiddles)", "s"),
    ("ntt_bls12_381_fr_2^16_limbs_s", "NTT 2^16 bls12_381_fr, ntt_limbs", "s"),
    ("ntt_bls12_381_fr_2^20_limbs_s", "NTT 2^20 bls12_381_fr, ntt_limbs", "s"),
    ("ntt_goldilocks_2^20_limbs_s", "NTT 2^20 goldilocks, ntt_limbs (n, 4)", "s"),
    ("ntt_goldilocks_2^20_words_s", "NTT 2^20 goldilocks, ntt_limbs (n, 1)", "s"),
    ("ntt_babybear_2^20_limbs_s", "NTT 2^20 babybear, ntt_limbs (n, 4)", "s"),
    ("ntt_babybear_2^20_words_s", "NTT 2^20 babybear, ntt_limbs (n, 1)", "s"),
]


def print_table(results: dict[str, object]) -> None:
    machine = results["machine"]
    timings = results["timings"]
    assert isinstance(machine, dict) and isinstance(timings, dict)
    processor = f" ({machine['processor']})" if machine["processor"] else ""
    print(f"machine: {machine['cpu']}{processor}, {machine['cpu_count']} CPUs,")
    print(f"         Python {machine['python']}, NUMBA_NUM_THREADS={machine['numba_threads']}")
    width = max(len(label) for _, label, _ in ROWS)
    print(f"{'measurement':<{width}}  {'value':>12}")
    print(f"{'-' * width}  {'-' * 12}")
    for key, label, unit in ROWS:
        value = timings[key]
        text = f"{value:.0f}" if unit == "" else f"{value:.4g} {unit}"
        print(f"{label:<{width}}  {text:>12}")
    speedup = timings["py_ecc_2^16_scaled_s"] / timings["msm_2^16_api_s"]
    print(f"MSM 2^16 speed-up over py_ecc (scaled): {speedup:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    args = parser.parse_args()
    results = run(max(1, args.repeat))
    print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

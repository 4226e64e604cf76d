"""Benchmark of the CPU kernels on one core: MSM (BN254 G1) and NTT (every field).

Usage: ``python bench/kernels.py [--json PATH] [--repeat N] [--quick]``

Measures, in one process pinned to one numba thread:

* the numba compile time: cold (a child process with an empty cache
  directory) and the first call here (a cache load when ``__pycache__`` is warm);
* one Montgomery multiplication (``mont4.mul_into`` over 2^20 elements, per element);
* MSM of 2^16 random points: the public ``msm`` (validation and the Python-int
  conversion included) and the unchecked ``msm_limbs`` on ready limb arrays;
* py_ecc's naive MSM (a sum of ``optimized_bn128.multiply``) at 2^8 points,
  scaled linearly to 2^16;
* NTT of 2^16 and 2^20 elements on limb arrays (twiddles cached) and through ``ntt``;
* NTT ``bls12_381_fr`` at 2^16 and 2^20, ``goldilocks`` and ``babybear`` at 2^20,
  each on its compact element array (:mod:`workers.codec.arrays`: ``(n, 4)`` limbs,
  ``(n,)`` ``uint64`` or ``uint32`` words), the format every caller holds.

Then, side by side with the peers of issue 3 (:mod:`bench.kernels_peers`, helpers in
``bench/peers.py``):

* MSM ``bn254_g1`` at 2^12, 2^16, 2^18 (ours: ``msm_limbs`` on ready limb arrays, and the
  public ``msm``) against ffjavascript's ``G1.multiExpAffine`` (the MSM inside snarkjs;
  installed from npm into ``bench/peers/node_modules`` on first run, driven by
  ``bench/peers/ffjs_bench.mjs``), bases in its affine Montgomery "LEM" layout and scalars
  as 32-byte little-endian standard-form ``Fr`` elements; its sum is checked against ours;
* NTT ``bn254_fr`` at 2^16 and 2^20 against ffjavascript's ``Fr.fft`` (outputs compared);
* both again with both cores each: ffjavascript's default worker threads against ours
  in a child process with ``NUMBA_NUM_THREADS=2``;
* NTT ``babybear`` and ``goldilocks`` at 2^20 against ``galois.ntt`` (``pip install
  'proverpool[bench]'``; outputs compared), a galois run predicted (n log n, from 2^18)
  to exceed 60 s being extrapolated instead;
* MSM ``bls12_381_g1`` at 2^16 against py-arkworks-bls12381's ``G1Point.multiexp_unchecked``
  (native arkworks code from PyPI, ``pip install 'proverpool[bench]'``), one thread each
  (``RAYON_NUM_THREADS=1``) and both cores each; 2^16 distinct points made by arkworks
  (pairwise sums of 256 random multiples of G), its sum checked against ours;
* py_ecc's naive MSM (above) as the floor.

And MSM on the other curves (ours only): ``bls12_381_g1``, ``bn254_g2`` and
``bls12_381_g2`` at 2^12 and 2^16 (``msm_limbs`` on limb arrays; 64 random multiples of
the generator, tiled), on one thread and on two (a child with ``NUMBA_NUM_THREADS=2``).

The table gives ratio = peer time / our time and the issue's targets (MSM 2^16 and NTT
bn254 2^20 at least 2× faster than ffjavascript, one core each; small-field NTT 2^20 at
least 3× faster than galois; MSM bls12_381_g1 2^16 no slower than arkworks).
``--quick`` skips MSM 2^18 and the bn254 NTT 2^20, and compares the small fields at 2^16.
A peer that cannot be installed or run leaves its row's peer column empty with the
reason, and the script still exits 0.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from py_ecc import optimized_bn128  # noqa: E402

from bench import peers  # noqa: E402
from bench.kernels_peers import best_of, compare_with_peers, print_peers  # noqa: E402
from workers import api  # noqa: E402
from workers.codec.arrays import elements_from_ints  # noqa: E402
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs  # noqa: E402
from workers.fields import mont4  # noqa: E402
from workers.msm import pippenger, window  # noqa: E402
from workers.ntt import radix2  # noqa: E402
from workers.params import BN254_P, BN254_R, CURVES, FIELDS, INFINITY  # noqa: E402
from workers.reference import point_add, random_points  # noqa: E402

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


def run(repeat: int, quick: bool = False) -> dict[str, object]:
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
    consts = mont4.montgomery_constants(BN254_P)
    a = ints_to_limbs([rng.randrange(BN254_P) for _ in range(n)])
    b = ints_to_limbs([rng.randrange(BN254_P) for _ in range(n)])
    out = np.empty_like(a)
    mont4.mul_into(out, a, b, consts)
    timings["mulmod_ns"] = best_of(repeat, lambda: mont4.mul_into(out, a, b, consts)) / n * 1e9

    # MSM 2^16 (the first 2^16 of the points the peer comparison uses).
    n = 1 << 16
    all_points = bench_points(1 << (16 if quick else 18), rng)
    points = all_points[:n]
    scalars = [rng.randrange(BN254_R) for _ in range(n)]
    bases, scalar_limbs = points_to_limbs(points), ints_to_limbs(scalars)
    timings["msm_2^16_window_c"] = window.window_size(n)
    timings["msm_2^16_limbs_s"] = best_of(
        repeat, lambda: pippenger.msm_limbs("bn254_g1", bases, scalar_limbs)
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
        radix2.ntt_limbs("bn254_fr", limbs)
        timings[f"ntt_2^{log_n}_first_s"] = time.perf_counter() - start  # + twiddle table
        timings[f"ntt_2^{log_n}_limbs_s"] = best_of(
            repeat, lambda limbs=limbs: radix2.ntt_limbs("bn254_fr", limbs)
        )
        timings[f"ntt_2^{log_n}_inverse_limbs_s"] = best_of(
            repeat, lambda limbs=limbs: radix2.ntt_limbs("bn254_fr", limbs, inverse=True)
        )
        timings[f"ntt_2^{log_n}_api_s"] = best_of(
            repeat, lambda values=values: api.ntt("bn254_fr", values)
        )

    # The other fields (ours only; the peers come later).
    for field, log_n in (("bls12_381_fr", 16), ("bls12_381_fr", 20)):
        size = 1 << log_n
        p = FIELDS[field].modulus
        limbs = ints_to_limbs([rng.randrange(p) for _ in range(size)])
        radix2.ntt_limbs(field, limbs)
        timings[f"ntt_{field}_2^{log_n}_limbs_s"] = best_of(
            repeat, lambda limbs=limbs, field=field: radix2.ntt_limbs(field, limbs)
        )
    for field in ("goldilocks", "babybear"):
        p = FIELDS[field].modulus
        compact = elements_from_ints(field, [rng.randrange(p) for _ in range(1 << 20)])
        radix2.ntt_limbs(field, compact)
        timings[f"ntt_{field}_2^20_s"] = best_of(
            repeat, lambda compact=compact, field=field: radix2.ntt_limbs(field, compact)
        )
    with tempfile.TemporaryDirectory() as tmp:
        results["other_curves"] = other_curve_timings(rng, repeat, Path(tmp), timings)
    results["timings"] = timings
    results["peers"] = compare_with_peers(
        all_points, [rng.randrange(BN254_R) for _ in all_points], rng, repeat, quick, timings
    )
    return results


# --- the other curves (ours only) -------------------------------------------------------------

OTHER_CURVES = ("bls12_381_g1", "bn254_g2", "bls12_381_g2")
OTHER_CURVE_LOGS = (12, 16)


def curve_bench_bases(curve: str, n: int, rng: random.Random) -> np.ndarray:
    """``n`` bases of ``curve`` as ``(n, 2, words)`` limbs: 64 random multiples of G, tiled."""
    params = CURVES[curve]
    g = points_to_limbs([params.generator], curve)
    pool = np.concatenate(
        [
            points_to_limbs(
                [pippenger.msm_limbs(curve, g, ints_to_limbs([rng.randrange(1, params.order)]))],
                curve,
            )
            for _ in range(64)
        ]
    )
    return np.ascontiguousarray(np.resize(pool, (n, *pool.shape[1:])))


def other_curve_timings(
    rng: random.Random, repeat: int, work: Path, timings: dict[str, float]
) -> dict[str, object]:
    """``msm_limbs`` on every other curve at 2^12 and 2^16, one thread here, two in a child."""
    jobs: list[dict] = []
    for curve in OTHER_CURVES:
        order = CURVES[curve].order
        for log_n in OTHER_CURVE_LOGS:
            n = 1 << log_n
            bases = curve_bench_bases(curve, n, rng)
            scalars = ints_to_limbs([rng.randrange(order) for _ in range(n)])
            pippenger.msm_limbs(curve, bases, scalars)  # warm-up (compiles on a cold cache)
            timings[f"msm_{curve}_2^{log_n}_limbs_s"] = best_of(
                repeat, lambda c=curve, b=bases, s=scalars: pippenger.msm_limbs(c, b, s)
            )
            name = f"msm_{curve}_{log_n}"
            np.save(work / f"{name}_bases.npy", bases)
            np.save(work / f"{name}_scalars.npy", scalars)
            jobs.append(
                {
                    "name": name,
                    "kind": "msm",
                    "curve": curve,
                    "bases": f"{name}_bases.npy",
                    "scalars": f"{name}_scalars.npy",
                }
            )
    two = peers.ours_threads(2, work, jobs, repeat)
    for job in jobs:
        if job["name"] in two:
            key = f"msm_{job['curve']}_2^{job['name'].rsplit('_', 1)[1]}_limbs_2threads_s"
            timings[key] = two[job["name"]]
    return {"ours_2_threads": two}


# --- inputs ---------------------------------------------------------------------------------


def bench_points(n: int, rng: random.Random) -> list[tuple[int, int]]:
    """``n`` distinct points of bn254_g1: pairwise sums ``Aᵢ + Bⱼ`` of two random sets.

    :func:`random_points` costs ~0.3 ms a point (a square root each); sums of
    ``√n`` random points with ``√n`` others cost one inversion each (~20 µs).
    """
    side = 1 << ((n.bit_length() - 1 + 1) // 2)
    base = random_points("bn254_g1", 2 * side, rng)
    curve = CURVES["bn254_g1"]
    points = [point_add(curve, a, b) for a in base[:side] for b in base[side:]][:n]
    assert len(points) == n and INFINITY not in points
    return points


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
    ("ntt_goldilocks_2^20_s", "NTT 2^20 goldilocks, ntt_limbs (uint64 words)", "s"),
    ("ntt_babybear_2^20_s", "NTT 2^20 babybear, ntt_limbs (uint32 words)", "s"),
    *(
        (f"msm_{curve}_2^{log_n}_limbs{suffix}_s", f"MSM 2^{log_n} {curve}, msm_limbs{what}", "s")
        for curve in OTHER_CURVES
        for log_n in OTHER_CURVE_LOGS
        for suffix, what in (("", ""), ("_2threads", ", 2 threads"))
    ),
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
        value = timings.get(key)
        if value is None:
            print(f"{label:<{width}}  {'-':>12}")
            continue
        text = f"{value:.0f}" if unit == "" else f"{value:.4g} {unit}"
        print(f"{label:<{width}}  {text:>12}")
    speedup = timings["py_ecc_2^16_scaled_s"] / timings["msm_2^16_api_s"]
    print(f"MSM 2^16 speed-up over py_ecc (scaled): {speedup:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument(
        "--quick", action="store_true", help="peers: skip MSM 2^18 and the 2^20 NTTs (2^16 instead)"
    )
    args = parser.parse_args()
    results = run(max(1, args.repeat), args.quick)
    print_table(results)
    print_peers(results["peers"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

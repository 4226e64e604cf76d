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

Then, side by side with the peers of issue 3 (helpers in ``bench/peers.py``):

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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from py_ecc import optimized_bn128  # noqa: E402

from bench import peers  # noqa: E402
from workers import api  # noqa: E402
from workers.codec.arrays import elements_from_ints, elements_to_ints  # noqa: E402
from workers.codec.limb_arrays import ints_to_limbs, limbs_to_ints, points_to_limbs  # noqa: E402
from workers.fields import mont4  # noqa: E402
from workers.msm import pippenger  # noqa: E402
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
    timings["msm_2^16_window_c"] = pippenger.window_size(n)
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


# --- side by side with the peers (issue 3, item 5) ------------------------------------------

MSM_TARGET = 2.0
"""MSM bn254_g1 2^16: at least 2× faster than ffjavascript (one core each)."""
NTT_BN254_TARGET = 2.0
"""NTT bn254_fr 2^20: at least 2× faster than ffjavascript's ``Fr.fft``."""
NTT_SMALL_TARGET = 3.0
"""NTT babybear / goldilocks 2^20: at least 3× faster than ``galois.ntt``."""
ARKWORKS_TARGET = 1.0
"""MSM bls12_381_g1 2^16: no slower than py-arkworks-bls12381 (one core each)."""
GALOIS_LIMIT_S = 60.0
"""A galois NTT expected to take longer than this is extrapolated (n log n), not run."""


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


def _row(
    label: str,
    ours: float | None,
    peer: str,
    peer_s: float | None,
    target: float | None = None,
    verified: str = "",
    note: str = "",
) -> dict[str, object]:
    ratio = peer_s / ours if ours and peer_s else None
    met = None if target is None or ratio is None else ratio >= target
    return {
        "label": label,
        "ours_s": ours,
        "peer": peer,
        "peer_s": peer_s,
        "ratio": ratio,
        "target": target,
        "met": met,
        "verified": verified,
        "note": note,
    }


def _ffjs_rows(
    points: list[tuple[int, int]],
    scalars: list[int],
    ntt_values: dict[int, list[int]],
    msm_logs: list[int],
    repeat: int,
    work: Path,
    timings: dict[str, float],
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """MSM and NTT against ffjavascript, one thread each, then both cores each."""
    info: dict[str, object] = {}
    error = peers.ensure_ffjavascript()
    tasks: list[dict] = []
    ours_msm: dict[int, tuple[int, int]] = {}
    ours_ntt: dict[int, list[int]] = {}
    bases = points_to_limbs(points)
    scalar_limbs = ints_to_limbs(scalars)
    for log_n in msm_logs:
        n = 1 << log_n
        b, s = bases[:n], scalar_limbs[:n]
        ours_msm[log_n] = pippenger.msm_limbs("bn254_g1", b, s)
        timings[f"msm_2^{log_n}_limbs_s"] = best_of(
            repeat, lambda b=b, s=s: pippenger.msm_limbs("bn254_g1", b, s)
        )
        api_points, api_scalars = points[:n], scalars[:n]
        assert api.msm("bn254_g1", api_points, api_scalars, backend="cpu") == ours_msm[log_n]
        timings[f"msm_2^{log_n}_api_s"] = best_of(
            repeat, lambda p=api_points, k=api_scalars: api.msm("bn254_g1", p, k, backend="cpu")
        )
        np.save(work / f"bases_{log_n}.npy", b)
        np.save(work / f"scalars_{log_n}.npy", s)
        if error is None:
            coords = [c for point in points[:n] for c in point]
            (work / f"bases_{log_n}.bin").write_bytes(peers.montgomery_bytes(coords, BN254_P))
            (work / f"scalars_{log_n}.bin").write_bytes(peers.le_bytes(s))
            tasks.append(
                {
                    "kind": "msm",
                    "name": f"msm_{log_n}",
                    "bases": str(work / f"bases_{log_n}.bin"),
                    "scalars": str(work / f"scalars_{log_n}.bin"),
                }
            )
    for log_n, values in ntt_values.items():
        limbs = ints_to_limbs(values)
        ours_ntt[log_n] = limbs_to_ints(radix2.ntt_limbs("bn254_fr", limbs))
        if f"ntt_2^{log_n}_limbs_s" not in timings:
            timings[f"ntt_2^{log_n}_limbs_s"] = best_of(
                repeat, lambda limbs=limbs: radix2.ntt_limbs("bn254_fr", limbs)
            )
        np.save(work / f"ntt_{log_n}.npy", limbs)
        if error is None:
            (work / f"ntt_{log_n}.bin").write_bytes(peers.montgomery_bytes(values, BN254_R))
            tasks.append(
                {
                    "kind": "fft",
                    "name": f"fft_{log_n}",
                    "values": str(work / f"ntt_{log_n}.bin"),
                    "out": str(work / f"fft_{log_n}.out"),
                }
            )

    # Ours with two numba threads (a child process: numba reads NUMBA_NUM_THREADS at import).
    jobs: list[dict] = [
        {
            "name": f"msm_{k}",
            "kind": "msm",
            "bases": f"bases_{k}.npy",
            "scalars": f"scalars_{k}.npy",
        }
        for k in msm_logs[1:]
    ]
    jobs += [
        {"name": f"ntt_{k}", "kind": "ntt", "field": "bn254_fr", "values": f"ntt_{k}.npy"}
        for k in list(ntt_values)[-1:]
    ]
    two = peers.ours_threads(2, work, jobs, repeat)
    info["ours_2_threads"] = two
    parallel = peers.ours_parallel()
    info["ours_parallel_kernels"] = parallel
    for job in jobs:
        if job["name"] in two:
            timings[f"{job['kind']}_2^{job['name'].split('_')[1]}_limbs_2threads_s"] = two[
                job["name"]
            ]

    runs: dict[bool, dict] = {}
    if error is None:
        for single in (True, False):
            runs[single] = peers.run_ffjs(tasks, single, repeat)
        info["ffjavascript"] = {
            "version": runs[True].get("version"),
            "concurrency_default": runs[False].get("concurrency"),
            "single_thread": runs[True],
            "default": runs[False],
        }
    else:
        info["ffjavascript"] = {"error": error}

    def peer(single: bool, name: str) -> tuple[float | None, str, dict]:
        if error is not None:
            return None, f"not run: {error}", {}
        run_info = runs[single]
        if "error" in run_info:
            return None, f"not run: {run_info['error']}", {}
        got = run_info["results"][name]
        return got["best_s"], "", got

    rows: list[dict[str, object]] = []
    r_inv = pow(1 << 256, -1, BN254_R)
    for single, label in ((True, "1 thread each"), (False, "both cores each")):
        tag = "1t" if single else "mt"
        peer_name = "ffjavascript " + ("buildBn128(true)" if single else "buildBn128() workers")
        for log_n in msm_logs:
            peer_s, note, got = peer(single, f"msm_{log_n}")
            verified = ""
            if got:
                same = (int(got["x"]), int(got["y"])) == ours_msm[log_n]
                verified = "same sum" if same else "DIFFERENT sum"
                timings[f"ffjs_msm_2^{log_n}_{tag}_s"] = peer_s
            if single:
                ours = timings[f"msm_2^{log_n}_limbs_s"]
            else:
                ours = two.get(f"msm_{log_n}")
                if ours is None:
                    continue
                note = note or (
                    "ours: NUMBA_NUM_THREADS=2"
                    + (
                        " (windows split between the threads)"
                        if parallel
                        else " (our MSM does not parallelise: one core)"
                    )
                )
            target = MSM_TARGET if log_n == 16 and single else None
            rows.append(
                _row(
                    f"MSM 2^{log_n} bn254_g1, msm_limbs, {label}",
                    ours,
                    peer_name + " G1.multiExpAffine",
                    peer_s,
                    target,
                    verified,
                    note,
                )
            )
            if single:
                rows.append(
                    _row(
                        f"MSM 2^{log_n} bn254_g1, public msm (ints), {label}",
                        timings[f"msm_2^{log_n}_api_s"],
                        peer_name + " G1.multiExpAffine",
                        peer_s,
                        verified=verified,
                        note="ours includes validation and int conversion",
                    )
                )
        for log_n in ntt_values:
            peer_s, note, got = peer(single, f"fft_{log_n}")
            verified = ""
            if got:
                data = (work / f"fft_{log_n}.out").read_bytes()
                theirs = [v * r_inv % BN254_R for v in peers.from_le_bytes(data)]
                verified = _ntt_relation(theirs, ours_ntt[log_n], ntt_values[log_n])
                timings[f"ffjs_fft_2^{log_n}_{tag}_s"] = peer_s
            if single:
                ours = timings[f"ntt_2^{log_n}_limbs_s"]
            else:
                ours = two.get(f"ntt_{log_n}")
                if ours is None:
                    continue
                note = note or (
                    "ours: NUMBA_NUM_THREADS=2"
                    + (
                        " (butterfly stages split between the threads)"
                        if parallel
                        else " (our NTT does not parallelise: one core)"
                    )
                )
            target = NTT_BN254_TARGET if log_n == 20 and single else None
            rows.append(
                _row(
                    f"NTT 2^{log_n} bn254_fr, ntt_limbs, {label}",
                    ours,
                    peer_name + " Fr.fft",
                    peer_s,
                    target,
                    verified,
                    note,
                )
            )
    return rows, info


def _ntt_relation(theirs: list[int], ours: list[int], values: list[int]) -> str:
    """How the peer's transform relates to ours on the same input."""
    if theirs == ours:
        return "same output"
    n = len(ours)
    if theirs == [ours[0], *ours[:0:-1]]:
        return "peer = ours with ω⁻¹ (out[k] ↔ out[n−k])"
    bits = n.bit_length() - 1
    reverse = [int(format(i, f"0{bits}b")[::-1], 2) for i in range(n)]
    if theirs == [ours[reverse[i]] for i in range(n)]:
        return "peer = ours in bit-reversed order"
    return "DIFFERENT output"


def _galois_rows(
    rng: random.Random, repeat: int, quick: bool, timings: dict[str, float]
) -> tuple[list[dict[str, object]], dict[str, object]]:
    version = peers.galois_version()
    info: dict[str, object] = {"version": version}
    rows: list[dict[str, object]] = []
    log_n = 16 if quick else 20
    for field in ("babybear", "goldilocks"):
        p = FIELDS[field].modulus
        size = 1 << log_n
        values = [rng.randrange(p) for _ in range(size)]
        compact = elements_from_ints(field, values)
        ours_out = elements_to_ints(field, radix2.ntt_limbs(field, compact))
        key = f"ntt_{field}_2^{log_n}_s"
        if key not in timings:
            timings[key] = best_of(
                repeat, lambda compact=compact, f=field: radix2.ntt_limbs(f, compact)
            )
        ours = timings[key]
        label = f"NTT 2^{log_n} {field}, ntt_limbs ({compact.dtype} words), 1 thread"
        target = NTT_SMALL_TARGET if log_n == 20 else None
        if version is None:
            rows.append(_row(label, ours, "galois.ntt", None, target, "", "not run: no galois"))
            continue
        # Warm up (galois JIT-compiles its kernels per field), then smaller sizes to predict.
        peers.galois_ntt(values[:1024], p, 0)
        measured: dict[int, float] = {}
        verified, note = "", ""
        for k in sorted({min(16, log_n), min(18, log_n), log_n}):
            if k == log_n and k > 16:
                prev = max(measured)
                predicted = measured[prev] * (1 << (k - prev)) * k / prev
                if predicted > GALOIS_LIMIT_S:
                    measured[k] = predicted
                    note = (
                        f"galois 2^{k} extrapolated (n log n) from 2^{prev} = "
                        f"{measured[prev]:.3g} s (predicted > {GALOIS_LIMIT_S:.0f} s)"
                    )
                    break
            sub = values[: 1 << k]
            # galois on goldilocks works on Python ints (object arrays): one call past 2^16.
            reps = repeat if field == "babybear" or k <= 16 else 0
            _, best, out = peers.galois_ntt(sub, p, reps)
            measured[k] = best
            timings[f"galois_ntt_{field}_2^{k}_s"] = best
            if k == log_n:
                verified = "same output" if out == ours_out else "DIFFERENT output"
            else:
                ours_sub = radix2.ntt_limbs(field, elements_from_ints(field, sub))
                ours_k = elements_to_ints(field, ours_sub)
                verified = f"same output at 2^{k}" if out == ours_k else f"DIFFERENT at 2^{k}"
        peer_s = measured[log_n]
        timings[f"galois_ntt_{field}_2^{log_n}_s"] = peer_s
        info[field] = {f"2^{k}_s": v for k, v in measured.items()}
        rows.append(_row(label, ours, "galois.ntt", peer_s, target, verified, note))
    return rows, info


def _arkworks_rows(
    rng: random.Random, repeat: int, work: Path, timings: dict[str, float]
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """MSM bls12_381_g1 2^16 against ``G1Point.multiexp_unchecked``, 1 thread and 2 each."""
    curve, log_n = "bls12_381_g1", 16
    n = 1 << log_n
    version = peers.arkworks_version()
    info: dict[str, object] = {"version": version}
    label = f"MSM 2^{log_n} {curve}, msm_limbs"
    peer_name = "py-arkworks-bls12381 G1Point.multiexp_unchecked"
    if version is None:
        ours = timings.get(f"msm_{curve}_2^{log_n}_limbs_s")
        note = "not run: pip install py-arkworks-bls12381"
        return [
            _row(f"{label}, 1 thread each", ours, peer_name, None, ARKWORKS_TARGET, "", note)
        ], info
    from py_arkworks_bls12381 import G1Point, Scalar

    order = CURVES[curve].order
    side = 1 << (log_n // 2)
    multiples = [
        G1Point() * Scalar.from_le_bytes(rng.randrange(1, order).to_bytes(32, "little"))
        for _ in range(2 * side)
    ]
    raw = b"".join(
        bytes((a + b).to_xy_bytes_le()) for a in multiples[:side] for b in multiples[side:]
    )
    scalars = [rng.randrange(order) for _ in range(n)]
    (work / "ark_points.bin").write_bytes(raw)
    (work / "ark_scalars.bin").write_bytes(peers.le_bytes(scalars))
    bases = np.frombuffer(raw, dtype="<u8").reshape(n, 2, 6).astype(np.uint64)
    scalar_limbs = ints_to_limbs(scalars)
    ours_sum = pippenger.msm_limbs(curve, bases, scalar_limbs)
    ours_1 = best_of(repeat, lambda: pippenger.msm_limbs(curve, bases, scalar_limbs))
    timings[f"msm_{curve}_2^{log_n}_arkworks_points_s"] = ours_1
    np.save(work / "ark_bases.npy", bases)
    np.save(work / "ark_scalars.npy", scalar_limbs)
    job = {"name": "ark", "kind": "msm", "curve": curve}
    two = peers.ours_threads(
        2, work, [{**job, "bases": "ark_bases.npy", "scalars": "ark_scalars.npy"}], repeat
    )
    rows = []
    for threads, ours in ((1, ours_1), (2, two.get("ark"))):
        got = peers.run_arkworks(work, threads, repeat)
        info[f"rayon_{threads}"] = got
        peer_s, verified, note = None, "", ""
        if "error" in got:
            note = f"not run: {got['error']}"
        else:
            peer_s = got["best_s"]
            timings[f"arkworks_msm_{curve}_2^{log_n}_{threads}t_s"] = peer_s
            xy = bytes.fromhex(got["xy_le_hex"])
            theirs = (int.from_bytes(xy[:48], "little"), int.from_bytes(xy[48:], "little"))
            verified = "same sum" if theirs == ours_sum else "DIFFERENT sum"
        what = "1 thread each" if threads == 1 else "both cores each"
        note = note or f"RAYON_NUM_THREADS={threads}, NUMBA_NUM_THREADS={threads}"
        target = ARKWORKS_TARGET if threads == 1 else None
        rows.append(_row(f"{label}, {what}", ours, peer_name, peer_s, target, verified, note))
    return rows, info


def compare_with_peers(
    points: list[tuple[int, int]],
    scalars: list[int],
    rng: random.Random,
    repeat: int,
    quick: bool,
    timings: dict[str, float],
) -> dict[str, object]:
    """Every peer row of issue 3 (item 5); figures also go into ``timings``."""
    msm_logs = [12, 16] if quick else [12, 16, 18]
    ntt_logs = [16] if quick else [16, 20]
    ntt_values = {k: [rng.randrange(BN254_R) for _ in range(1 << k)] for k in ntt_logs}
    with tempfile.TemporaryDirectory() as tmp:
        ffjs_rows, ffjs_info = _ffjs_rows(
            points, scalars, ntt_values, msm_logs, repeat, Path(tmp), timings
        )
    galois_rows, galois_info = _galois_rows(rng, repeat, quick, timings)
    with tempfile.TemporaryDirectory() as tmp:
        ark_rows, ark_info = _arkworks_rows(rng, repeat, Path(tmp), timings)
    floor = _row(
        "MSM 2^16 bn254_g1, public msm vs py_ecc naive (2^8 scaled)",
        timings["msm_2^16_api_s"],
        "py_ecc optimized_bn128",
        timings["py_ecc_2^16_scaled_s"],
        note="the floor",
    )
    return {
        "quick": quick,
        "rows": [*ffjs_rows, *galois_rows, *ark_rows, floor],
        **ffjs_info,
        "galois": galois_info,
        "arkworks": ark_info,
    }


def _fmt(value: object, unit: str = "s") -> str:
    if value is None:
        return "-"
    assert isinstance(value, float)
    return f"{value:.3g} {unit}" if unit else f"{value:.2f}x"


def print_peers(peer_results: dict[str, object]) -> None:
    rows = peer_results["rows"]
    assert isinstance(rows, list)
    width = max(len(str(row["label"])) for row in rows)
    print()
    print("side by side with the peers (ratio = peer time / our time; > 1: ours faster)")
    head = f"{'comparison':<{width}}  {'ours':>10}  {'peer':>10}  {'ratio':>8}  target  met"
    print(head)
    print("-" * len(head))
    for row in rows:
        target = f">= {row['target']:.0f}x" if row["target"] else ""
        met = {True: "yes", False: "NO", None: ""}[row["met"]]
        print(
            f"{row['label']:<{width}}  {_fmt(row['ours_s']):>10}  {_fmt(row['peer_s']):>10}  "
            f"{_fmt(row['ratio'], ''):>8}  {target:>6}  {met}"
        )
        details = "; ".join(str(x) for x in (row["peer"], row["verified"], row["note"]) if x)
        print(f"    {details}")


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

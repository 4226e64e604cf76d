"""The scale model's inputs, measured on this machine, and the local runs it is checked against.

* :func:`measure_inputs`: one CPU slot's MSM seconds per chunk size (``bn254_g1``, ``bn254_g2``,
  one thread, best of two after a warm-up), the calibration speed the planner would see
  (:func:`workers.cluster.calibration.measure_speeds`), the head's NTT at the sizes whose six
  make a proof's H scalars (all the head's cores), and its pairing check (four pairs).
* :func:`measure_pool`: the pool of ``bench/pool.py`` (a local Ray cluster, one-CPU worker
  nodes, the real runner): the head's overhead per chunk (a 2^14 MSM in 64 chunks), and an
  MSM's job seconds on 1 and 2 nodes — what the model predicts in :mod:`bench.simulate`'s
  validation table.

GPU figures are not measured here: they are an H200's (``H200_GPU_MSM``).
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from workers.cluster.calibration import measure_speeds
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.msm import pippenger
from workers.ntt import radix2
from workers.params import CURVES, FIELDS
from workers.reference import random_points

H200_GPU_MSM = {"bn254_g1": [[1 << 16, 0.091], [1 << 18, 0.167], [1 << 20, 0.186]]}
"""MSM ``bn254_g1`` on one H200, host↔device copies included (issue 15's brief)."""
CPU_SIZES = {"bn254_g1": (10, 12, 14, 16, 17), "bn254_g2": (10, 12, 14, 16)}


def _best(run, repeat: int = 2) -> float:
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def machine() -> dict[str, object]:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg_1min": os.getloadavg()[0],
    }


def measure_inputs() -> dict[str, object]:
    """Chunk costs, calibration, head NTT and pairing seconds (module docstring)."""
    rng = random.Random(7)
    cpu: dict[str, list[list[float]]] = {}
    numba.set_num_threads(1)
    for curve, logs in CPU_SIZES.items():
        distinct = random_points(curve, 256, rng)
        top = 1 << max(logs)
        bases = points_to_limbs([distinct[i % 256] for i in range(top)], curve)
        order = CURVES[curve].order
        scalars = ints_to_limbs([rng.randrange(order) for _ in range(top)])
        cpu[curve] = []
        for log_n in logs:
            m = 1 << log_n
            b, s = bases[:m].copy(), scalars[:m].copy()
            cpu[curve].append([m, _best(lambda b=b, s=s, c=curve: pippenger.msm_limbs(c, b, s))])
    speeds = measure_speeds("bn254_g1", "bn254_fr")
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    ntt = []
    modulus = FIELDS["bn254_fr"].modulus
    for log_n in (16, 18, 20):
        n = 1 << log_n
        values = ints_to_limbs([(i * 7919 + 1) % modulus for i in range(n)])
        ntt.append([n, _best(lambda v=values: radix2.ntt_limbs("bn254_fr", v), repeat=1)])
    from workers.groth16.pairing import pairing_product_is_one

    pair = (CURVES["bn254_g1"].generator, CURVES["bn254_g2"].generator)
    pairing = _best(lambda: pairing_product_is_one([pair] * 4), repeat=1)
    return {
        "machine": machine(),
        "cpu_msm_seconds": cpu,
        "calibration_cpu_msm_units_per_second": speeds["msm"],
        "head_ntt_seconds": ntt,
        "head_pairing_check_seconds": pairing,
        "gpu_msm_seconds": H200_GPU_MSM,
        "gpu_note": "H200 figures (MSM bn254_g1 incl. host-device copies), not measured here",
    }


def measure_pool(log_n: int = 18, repeat: int = 3) -> dict[str, object]:
    """Per-chunk head overhead and MSM 2^``log_n`` job seconds on 1 and 2 one-CPU nodes."""
    from bench.pool import BenchPool, msm_body, msm_input, overheads

    params = {"kind": "msm", "curve": "bn254_g1"}
    points, scalars = msm_input(log_n, 1)
    body = msm_body(points, scalars)
    small_points, small_scalars = msm_input(14, 3)
    small_body = msm_body(small_points, small_scalars)
    small_expected = list(
        pippenger.msm_limbs("bn254_g1", points_to_limbs(small_points), ints_to_limbs(small_scalars))
    )
    out: dict[str, object] = {"machine": machine(), "log_n": log_n, "runs": {}}
    for nodes in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            pool = BenchPool(nodes, Path(tmp), audit_rate=0.0)
            try:
                pool.run(params, small_body)  # warm-up: workers, numba caches, calibration
                if nodes == 2:
                    out.update(overheads(pool, small_body, small_expected))
                times, chunk_seconds = [], []
                for _ in range(repeat):
                    seconds, job_id, _result = pool.run(params, body)
                    times.append(seconds)
                    chunk_seconds += [r.duration_seconds for r in pool.records(job_id)]
                out["runs"][str(nodes)] = {  # type: ignore[index]
                    "first_seconds": times[0],
                    "cached_seconds": statistics.median(times[1:]) if repeat > 1 else times[0],
                    "chunk_seconds_mean": float(np.mean(chunk_seconds)),
                    "chunks": len(pool.records(job_id)),
                }
            finally:
                pool.close()
    out["machine_after"] = machine()
    return out

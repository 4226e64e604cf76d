"""The scale model's inputs, measured on this machine, and the local runs it is checked against.

* :func:`measure_inputs`: one CPU slot's MSM seconds per chunk size (``bn254_g1``, ``bn254_g2``,
  one thread, best of two after a warm-up, in process CPU time: the machine's other load
  does not count), the calibration speed the planner would see (the best of three
  :func:`workers.cluster.calibration.measure_speeds`), the head's NTT at the sizes whose six
  make a proof's H scalars (one head core), and its pairing check (four pairs).
* :func:`measure_pool`: the pool of ``bench/pool.py`` (a local Ray cluster, one-CPU worker
  nodes, the real runner): the head's overhead per chunk (a 2^14 MSM in 64 chunks), and an
  MSM's job seconds on 1 and 2 nodes with each run's chunk sizes and compute seconds — what
  the model predicts, from those chunk costs, in :mod:`bench.simulate`'s validation table
  (the first run pulls the bases, the later ones find them cached).

GPU figures are not measured here: they are an H200's (``H200_GPU_MSM``).
"""

from __future__ import annotations

import os
import platform
import random
import tempfile
import time
from pathlib import Path

import numba

from workers.cluster.calibration import measure_speeds
from workers.cluster.costs import MSM_POINT_WEIGHT
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.msm import pippenger
from workers.ntt import radix2
from workers.params import CURVES, FIELDS
from workers.reference import random_points

H200_GPU_MSM = {"bn254_g1": [[1 << 16, 0.091], [1 << 18, 0.167], [1 << 20, 0.186]]}
"""MSM ``bn254_g1`` on one H200, host↔device copies included (issue 15's brief)."""
POINT_UNITS = MSM_POINT_WEIGHT["bn254_g1"]
CPU_SIZES = {"bn254_g1": (10, 12, 14, 16, 17), "bn254_g2": (10, 12, 14, 16)}


def _best(run, repeat: int = 2, clock=time.process_time) -> float:
    """Best of ``repeat`` runs after a warm-up, by ``clock`` (default: this process's CPU
    time, which the machine's other load does not inflate; one thread's work here)."""
    run()
    times = []
    for _ in range(repeat):
        started = clock()
        run()
        times.append(clock() - started)
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
    speeds = max((measure_speeds("bn254_g1", "bn254_fr") for _ in range(3)), key=lambda s: s["msm"])
    ntt = []
    modulus = FIELDS["bn254_fr"].modulus
    for log_n in (16, 18, 20):
        n = 1 << log_n
        values = ints_to_limbs([(i * 7919 + 1) % modulus for i in range(n)])
        ntt.append([n, _best(lambda v=values: radix2.ntt_limbs("bn254_fr", v), repeat=1)])
    from workers.groth16.pairing import pairing_product_is_one

    pair = (CURVES["bn254_g1"].generator, CURVES["bn254_g2"].generator)
    pairing = _best(lambda: pairing_product_is_one([pair] * 4), repeat=1)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return {
        "machine": machine(),
        "clock": "process CPU time, one thread (CPU MSM, head NTT and pairing)",
        "cpu_msm_seconds": cpu,
        "calibration_cpu_msm_units_per_second": speeds["msm"],
        "head_ntt_seconds": ntt,
        "head_pairing_check_seconds": pairing,
        "gpu_msm_seconds": H200_GPU_MSM,
        "gpu_note": "H200 figures (MSM bn254_g1 incl. host-device copies), not measured here",
    }


def head_cpu_per_chunk(pool, body: bytes, repeat: int = 3) -> float:
    """The head's CPU time per chunk (this process: API, runner, Ray's driver threads) on a
    2^14 MSM cut into 64 chunks: what its loop costs on a quiet machine (the best run)."""
    pool.set(msm_min_chunk_points=256, chunks_per_node=32)
    try:
        best = float("inf")
        for _ in range(repeat):
            started = time.process_time()
            _seconds, job_id, _result = pool.run({"kind": "msm", "curve": "bn254_g1"}, body)
            best = min(best, (time.process_time() - started) / len(pool.records(job_id)))
        return best
    finally:
        pool.set(msm_min_chunk_points=1024, chunks_per_node=2)


def measure_pool(log_n: int = 18, repeat: int = 4) -> dict[str, object]:
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
                    out["head_cpu_per_chunk_seconds"] = head_cpu_per_chunk(pool, small_body)
                runs = []
                for _ in range(repeat):
                    seconds, job_id, _result = pool.run(params, body)
                    records = pool.records(job_id)
                    runs.append(
                        {
                            "seconds": seconds,
                            "chunk_points": [r.work_units // POINT_UNITS for r in records],
                            "chunk_seconds": [r.duration_seconds for r in records],
                        }
                    )
                out["runs"][str(nodes)] = runs  # type: ignore[index]
            finally:
                pool.close()
    out["machine_after"] = machine()
    return out

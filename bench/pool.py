"""Benchmark of the pool: jobs through the real job runner on a local multi-node Ray cluster.

Usage: ``python bench/pool.py [--json PATH] [--repeat N] [--quick]``

For 1 and then 2 worker nodes (one CPU each; the head has none), a pool (SQLite, embedded
Redis, blobs) whose runner runs each job in this thread (plan, calibrate, place, verify,
record, credit), submitted over HTTP as binary bodies:

* MSM ``bn254_g1`` 2^18 and NTT ``bn254_fr`` 2^20: seconds per job (median of
  ``--repeat``) and the parallel efficiency ``T₁ / (2·T₂)``;
* per-chunk overhead of the runner: a 2^14 MSM in 64 chunks,
  ``(wall − Σ chunk compute / nodes) / chunks``;
* verification: MSM job time at the default audit rate against rate 0 (same
  jobs, alternated) and the audited share of the work; the head's O(n) NTT
  slice checks: their work alone as a share of the NTT job time, and the
  distributed NTT with checks on against off (alternated);
* bytes per MSM 2^18 job, first and repeated basis, with and without the bases cache:
  scalars (``ray.put`` once, pulled once per node) plus the bases each worker pulled;
* bytes per NTT 2^20 job on BabyBear, Goldilocks and ``bn254_fr`` (:func:`bytes_per_ntt_job`):
  the body, the input and result blobs, the chunk blobs, and Ray's object store (the head's
  two ``ray.put`` arrays and the slices the workers return).
  ``--bytes-only`` measures just the bytes (MSM and NTT) on a 2-node pool.

Results are checked against the single-process kernels.  Quote timings with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
from fastapi.testclient import TestClient
from ray.cluster_utils import Cluster
from sqlmodel import Session, select

from pool_api.main import create_app
from pool_api.membership import new_registration_secret, registration_resource
from pool_api.settings import Settings
from pool_api.store.models import ChunkRecord, Job
from workers.cluster import dispatch, verify
from workers.cluster.plan import plan_msm, plan_ntt
from workers.cluster.scheduler import Policy
from workers.codec import arrays
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.msm import pippenger
from workers.ntt import radix2
from workers.ntt.twiddles import twiddle_limbs
from workers.params import FIELDS
from workers.reference import random_points

DEFAULT_JSON = Path(__file__).parent / "results" / "pool.json"
TOKEN = "bench-operator-token-0123456789abcdef"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
"""The operator's header: it registers the contributors and submits the jobs."""
R = FIELDS["bn254_fr"].modulus
NTT_BYTES_FIELDS = ("babybear", "goldilocks", "bn254_fr")
"""The fields whose NTT jobs :func:`bytes_per_ntt_job` measures (4, 8 and 32 bytes an element)."""


def msm_input(log_n: int, seed: int) -> tuple[list, list]:
    """``2^log_n`` bases (1024 random points, tiled) and random scalars."""
    rng = random.Random(seed)
    distinct = random_points("bn254_g1", min(1024, 1 << log_n), rng)
    points = [distinct[i % len(distinct)] for i in range(1 << log_n)]
    return points, [rng.randrange(R) for _ in points]


class BenchPool:
    """A pool over a fresh cluster of ``nodes`` worker nodes; jobs run in this thread."""

    def __init__(self, nodes: int, data_dir: Path, **overrides: object) -> None:
        self.cluster = Cluster(
            initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
        )
        self.secrets = [new_registration_secret() for _ in range(nodes)]
        self.nodes = [
            self.cluster.add_node(num_cpus=1, resources={registration_resource(secret): 1})
            for secret in self.secrets
        ]
        self.cluster.wait_for_nodes()
        ray.init(address=self.cluster.address, log_to_driver=False)
        values: dict[str, object] = {
            "data_dir": data_dir,
            "operator_token": TOKEN,
            "ray_address": self.cluster.address,
            "max_body_bytes": 1 << 30,
        }
        values.update(overrides)
        self.settings = Settings(**values)
        self.client = TestClient(create_app(self.settings, start_runner=False))
        self.client.__enter__()
        for i, (node, secret) in enumerate(zip(self.nodes, self.secrets, strict=True)):
            body = self.client.post(
                "/v1/contributors", json={"name": f"c{i}"}, headers=OPERATOR
            ).json()
            self.client.post(
                "/v1/nodes",
                json={"ray_node_id": node.node_id, "registration_secret": secret},
                headers={"Authorization": f"Bearer {body['api_key']}"},
            ).raise_for_status()

    @property
    def state(self):
        return self.client.app.state.pool

    def set(self, **changes: object) -> None:
        for name, value in changes.items():
            setattr(self.state.runner.settings, name, value)

    def run(self, params: dict[str, str], body: bytes) -> tuple[float, str, list]:
        """Submit, then run the job in this thread: ``(seconds, job id, result)``."""
        seconds, job_id = self.run_job(params, body)
        job = self.client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "done", job
        return seconds, job_id, [int(v) for v in job["result"]]

    def run_job(self, params: dict[str, str], body: bytes) -> tuple[float, str]:
        """Submit a binary job, then run it in this thread: ``(seconds, job id)``."""
        created = self.client.post(
            "/v1/jobs",
            params=params,
            content=body,
            headers={"Content-Type": "application/octet-stream", **OPERATOR},
        )
        created.raise_for_status()
        return self.run_claimed(created.json()["id"])

    def run_claimed(self, job_id: str) -> tuple[float, str]:
        """Claim the submitted job ``job_id`` and run it in this thread: ``(seconds, job id)``
        (the claim not counted)."""
        runner = self.state.runner
        assert runner._claim_next() == job_id
        started = time.perf_counter()
        runner.run_job(job_id)
        return time.perf_counter() - started, job_id

    def raylet_pids(self) -> list[int]:
        """The raylet process of each worker node (the node's Ray workers are its children)."""
        return [node.all_processes["raylet"][0].process.pid for node in self.nodes]

    def records(self, job_id: str) -> list[ChunkRecord]:
        with Session(self.state.engine) as session:
            return list(session.exec(select(ChunkRecord).where(ChunkRecord.job_id == job_id)))

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        ray.shutdown()
        self.cluster.shutdown()


def _median_run(pool: BenchPool, params, body, repeat: int, expected) -> tuple[float, float]:
    """Median job seconds, and the median share of it the nodes spent computing."""
    times, busy = [], []
    for _ in range(repeat):
        seconds, job_id, result = pool.run(params, body)
        assert result == expected, "pool result differs from the single-process kernel"
        times.append(seconds)
        compute = sum(r.duration_seconds for r in pool.records(job_id))
        busy.append(compute / (len(pool.nodes) * seconds))
    return statistics.median(times), statistics.median(busy)


def bytes_per_msm_job(log_n: int, seed: int) -> dict[str, int]:
    """Bytes shipped by two jobs on the same bases, with and without the cache."""
    points, scalars = msm_input(log_n, seed)
    bases, ks = points_to_limbs(points), ints_to_limbs(scalars)
    nodes = dispatch.alive_cpu_nodes()
    out: dict[str, int] = {"bases_bytes": int(bases.nbytes), "scalars_bytes": int(ks.nbytes)}
    for cache in (False, True):
        for run in ("first", "repeat"):
            fetched: list[int] = []
            used: set[str] = set()

            def on_accept(chunk, output, how, fetched=fetched, used=used) -> None:
                fetched.append(output.fetched_bytes)
                used.add(output.node_id)

            policy = Policy(nodes=dispatch.alive_cpu_nodes, on_accept=on_accept)
            chunks = plan_msm("bn254_g1", len(points), 2 * len(nodes))
            dispatch.run_msm("bn254_g1", bases, ks, chunks, policy=policy, cache_bases=cache)
            key = f"{'cache' if cache else 'no_cache'}_{run}"
            out[key] = int(ks.nbytes) * len(used) + sum(fetched)
    return out


def msm_body(points: list, scalars: list) -> bytes:
    """The binary body (and stored blob) of a ``bn254_g1`` MSM job."""
    return arrays.encode_msm_input(
        "bn254_g1", points_to_limbs(points), arrays.elements_from_ints("bn254_fr", scalars)
    )


def ntt_values(field: str, log_n: int, seed: int) -> np.ndarray:
    """``2^log_n`` random ``field`` elements as a compact array (:mod:`workers.codec.arrays`)."""
    rng = random.Random(seed)
    p = FIELDS[field].modulus
    return arrays.elements_from_ints(field, [rng.randrange(p) for _ in range(1 << log_n)])


def bytes_per_ntt_job(pool: BenchPool, log_n: int) -> dict[str, dict[str, int]]:
    """Bytes one ``2^log_n`` NTT job moves and keeps, per field of :data:`NTT_BYTES_FIELDS`.

    Through the pool: the binary body, the stored input and result blobs, the
    chunk values stored for resuming (``.npy`` headers included).  Through
    :func:`workers.cluster.dispatch.run_ntt` with the pool's slice count: the
    head's two ``ray.put`` arrays (columns, then the twiddled matrix: each a
    permutation of the ``n`` elements, ``2 × values.nbytes``) and the slices the
    workers returned (summed as they are accepted).
    """
    out: dict[str, dict[str, int]] = {}
    for field in NTT_BYTES_FIELDS:
        values = ntt_values(field, log_n, 5)
        body = arrays.encode_elements(field, values)
        _, job_id, result = pool.run({"kind": "ntt", "field": field}, body)
        assert result == arrays.elements_to_ints(field, radix2.ntt_limbs(field, values))
        with Session(pool.state.engine) as session:
            job = session.get(Job, job_id)
        blobs, records, returned = pool.state.blobs, pool.records(job_id), []

        def on_accept(chunk, output, how, returned=returned) -> None:
            returned.append(int(output.value.nbytes))

        slices = len([r for r in records if r.phase == "ntt_columns"])
        plan = plan_ntt(field, len(values), slices, slices)
        policy = Policy(nodes=dispatch.alive_cpu_nodes, on_accept=on_accept)
        dispatch.run_ntt(field, values, plan, policy=policy)
        row = {
            "body_bytes": len(body),
            "input_blob_bytes": len(blobs.get(job.input_sha256)),
            "result_blob_bytes": len(blobs.get(job.result_sha256)),
            "chunk_blob_bytes": sum(len(blobs.get(r.result_sha256)) for r in records),
            "object_store_put_bytes": 2 * int(values.nbytes),
            "object_store_returned_bytes": sum(returned),
        }
        row["total_bytes"] = sum(row.values())
        out[field] = row
    return out


def run_bytes(log_msm: int, log_ntt: int) -> dict[str, object]:
    """Only the bytes per MSM and NTT job, on a 2-node pool."""
    results: dict[str, object] = {"sizes": {"msm_log2": log_msm, "ntt_log2": log_ntt}}
    with tempfile.TemporaryDirectory() as tmp:
        pool = BenchPool(2, Path(tmp), audit_rate=0.0)
        try:
            results["bytes_shipped"] = bytes_per_msm_job(log_msm, 4)
            results["ntt_bytes"] = bytes_per_ntt_job(pool, log_ntt)
        finally:
            pool.close()
    return results


def run(repeat: int, quick: bool) -> dict[str, object]:
    log_msm, log_ntt = (14, 16) if quick else (18, 20)
    points, scalars = msm_input(log_msm, 1)
    msm_job_body = msm_body(points, scalars)
    msm_params = {"kind": "msm", "curve": "bn254_g1"}
    expected_msm = list(
        pippenger.msm_limbs("bn254_g1", points_to_limbs(points), ints_to_limbs(scalars))
    )
    values = ntt_values("bn254_fr", log_ntt, 2)
    ntt_body = arrays.encode_elements("bn254_fr", values)
    ntt_params = {"kind": "ntt", "field": "bn254_fr"}
    expected_ntt = arrays.elements_to_ints("bn254_fr", radix2.ntt_limbs("bn254_fr", values))
    small_points, small_scalars = msm_input(14, 3)
    small_body = msm_body(small_points, small_scalars)
    small_expected = list(
        pippenger.msm_limbs("bn254_g1", points_to_limbs(small_points), ints_to_limbs(small_scalars))
    )

    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "loadavg_1min": os.getloadavg()[0]},
        "sizes": {"msm_log2": log_msm, "ntt_log2": log_ntt},
        "default_audit_rate": verify.DEFAULT_AUDIT_RATE,
    }
    timings: dict[int, dict[str, float]] = {}
    for nodes in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            pool = BenchPool(nodes, Path(tmp), audit_rate=0.0)
            try:
                pool.run(msm_params, small_body)  # warm-up: workers, numba caches, calibration
                pool.run(ntt_params, arrays.encode_elements("bn254_fr", values[: 1 << 12]))
                msm_s, msm_busy = _median_run(pool, msm_params, msm_job_body, repeat, expected_msm)
                ntt_s, ntt_busy = _median_run(pool, ntt_params, ntt_body, repeat, expected_ntt)
                timings[nodes] = {
                    "msm_seconds": msm_s,
                    "msm_node_busy_share": msm_busy,
                    "ntt_seconds": ntt_s,
                    "ntt_node_busy_share": ntt_busy,
                }
                if nodes == 2:
                    results.update(overheads(pool, small_body, small_expected))
                    results.update(
                        audit_share(pool, msm_params, msm_job_body, repeat, expected_msm)
                    )
                    results["ntt_check_share"] = ntt_check_share(
                        values, log_ntt, pool.settings, timings[2]["ntt_seconds"], repeat
                    )
                    results["bytes_shipped"] = bytes_per_msm_job(log_msm, 4)
                    results["ntt_bytes"] = bytes_per_ntt_job(pool, log_ntt)
            finally:
                pool.close()
    results["timings"] = {str(k): v for k, v in timings.items()}
    results["parallel_efficiency"] = {
        kind: timings[1][f"{kind}_seconds"] / (2 * timings[2][f"{kind}_seconds"])
        for kind in ("msm", "ntt")
    }
    results["machine"]["loadavg_1min_after"] = os.getloadavg()[0]  # type: ignore[index]
    return results


def overheads(pool: BenchPool, body: bytes, expected) -> dict[str, object]:
    """Runner overhead per chunk on a 2^14 MSM cut into 64 chunks (2 nodes)."""
    pool.set(msm_min_chunk_points=256, chunks_per_node=32)
    try:
        walls, per_chunk = [], []
        for _ in range(3):
            seconds, job_id, result = pool.run({"kind": "msm", "curve": "bn254_g1"}, body)
            assert result == expected
            records = pool.records(job_id)
            compute = sum(r.duration_seconds for r in records) / 2
            walls.append(seconds)
            per_chunk.append((seconds - compute) / len(records))
        return {
            "overhead": {
                "chunks": len(records),
                "job_seconds": statistics.median(walls),
                "per_chunk_seconds": statistics.median(per_chunk),
            }
        }
    finally:
        pool.set(msm_min_chunk_points=1024, chunks_per_node=2)


def audit_share(pool: BenchPool, params, body, repeat: int, expected) -> dict[str, object]:
    """MSM job time at audit rates 0, the default and 1 (alternating runs).

    With a handful of chunks per job the default rate audits a chunk only now
    and then, so its measured share is noisy; the cost is linear in the rate,
    so ``a × (T(1) − T(0)) / T(0)`` estimates it from the fully audited runs.
    """
    times: dict[float, list[float]] = {0.0: [], verify.DEFAULT_AUDIT_RATE: [], 1.0: []}
    audited_work = total_work = 0
    for _ in range(max(3, repeat)):
        for rate in times:
            pool.set(audit_rate=rate)
            seconds, job_id, result = pool.run(params, body)
            assert result == expected
            times[rate].append(seconds)
            if rate == verify.DEFAULT_AUDIT_RATE:
                records = pool.records(job_id)
                total_work += sum(r.work_units for r in records)
                audited_work += sum(r.work_units for r in records if r.verification == "audited")
    pool.set(audit_rate=0.0)
    t0 = statistics.mean(times[0.0])
    ta = statistics.mean(times[verify.DEFAULT_AUDIT_RATE])
    t1 = statistics.mean(times[1.0])
    return {
        "msm_audit": {
            "jobs_each": len(times[0.0]),
            "mean_seconds_no_audit": t0,
            "mean_seconds_default_audit": ta,
            "mean_seconds_full_audit": t1,
            "time_share_measured": (ta - t0) / ta,
            "time_share_estimated": verify.DEFAULT_AUDIT_RATE * (t1 - t0) / t0,
            "audited_work_share": audited_work / max(1, total_work),
        }
    }


def ntt_check_share(
    values: np.ndarray, log_n: int, settings: Settings, job_seconds: float, repeat: int
) -> dict[str, float]:
    """What the head's slice checks cost the 2^log_n NTT job.

    * ``check_seconds``: every slice check of the job run back to back on one
      thread (the work the head does), and ``share`` = that over the job's time
      through the pool — the cost if nothing overlapped it;
    * ``seconds_checked``/``seconds_unchecked``: the same distributed NTT through
      :func:`workers.cluster.dispatch.run_ntt` with the checks on and off (alternating,
      median of at least 5 each after a warm-up pair), and ``measured_share`` = what turning them on
      adds, as a share of the checked job: the checks run beside the scheduler
      loop while the nodes compute, so most of them are off the critical path.
    """
    n = 1 << log_n
    slices = min(2 * settings.chunks_per_node, n // settings.ntt_min_chunk_elements)
    plan = plan_ntt("bn254_fr", n, slices, slices)
    columns = np.ascontiguousarray(values.reshape(plan.n1, plan.n2, 4).transpose(1, 0, 2))
    blocks = {
        c.index: radix2.ntt_rows_limbs("bn254_fr", columns[c.start : c.stop].copy())
        for c in plan.column_chunks
    }
    column_ntts = np.concatenate([blocks[c.index] for c in plan.column_chunks])
    matrix = np.ascontiguousarray(twiddle_limbs("bn254_fr", column_ntts, n, 0).transpose(1, 0, 2))
    rows = {
        c.index: radix2.ntt_rows_limbs("bn254_fr", matrix[c.start : c.stop].copy())
        for c in plan.row_chunks
    }
    started = time.perf_counter()
    for c in plan.column_chunks:
        assert verify.check_ntt_slice("bn254_fr", columns[c.start : c.stop], blocks[c.index])
    for c in plan.row_chunks:
        assert verify.check_ntt_slice("bn254_fr", matrix[c.start : c.stop], rows[c.index])
    seconds = time.perf_counter() - started
    expected = np.ascontiguousarray(
        np.concatenate([rows[c.index] for c in plan.row_chunks]).transpose(1, 0, 2)
    ).reshape(n, 4)
    times: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(1 + max(5, repeat)):  # the first pair warms the workers up, uncounted
        for check in (True, False):
            begun = time.perf_counter()
            out = dispatch.run_ntt("bn254_fr", values, plan, check=check)
            if round_:
                times[check].append(time.perf_counter() - begun)
            assert np.array_equal(out, expected)
    checked, unchecked = statistics.median(times[True]), statistics.median(times[False])
    return {
        "check_seconds": seconds,
        "job_seconds": job_seconds,
        "share": seconds / job_seconds,
        "seconds_checked": checked,
        "seconds_unchecked": unchecked,
        "measured_share": (checked - unchecked) / checked,
    }


def print_bytes(results: dict) -> None:
    b = results["bytes_shipped"]
    print(
        f"bytes per MSM job (bases {b['bases_bytes']:,} + scalars {b['scalars_bytes']:,}): "
        f"no cache {b['no_cache_first']:,} then {b['no_cache_repeat']:,}; "
        f"cache {b['cache_first']:,} then {b['cache_repeat']:,}"
    )
    log_n = results["sizes"]["ntt_log2"]
    names = ("body", "input blob", "result blob", "chunk blobs", "Ray put", "Ray returned", "total")
    print(f"bytes per NTT 2^{log_n} job:\n{'field':<12}" + "".join(f"{n:>14}" for n in names))
    for field, row in results["ntt_bytes"].items():
        print(f"{field:<12}" + "".join(f"{v:>14,}" for v in row.values()))


def print_table(results: dict) -> None:
    t = results["timings"]
    eff = results["parallel_efficiency"]
    sizes = results["sizes"]
    m = results["machine"]
    print(
        f"load average (1 min): {m['loadavg_1min']:.2f} before, "
        f"{m['loadavg_1min_after']:.2f} after, {m['cpus']} CPUs"
    )
    print(f"{'job':<14}{'1 node':>10}{'2 nodes':>10}{'efficiency':>12}{'nodes busy (1/2)':>20}")
    for kind, log_n in (("msm", sizes["msm_log2"]), ("ntt", sizes["ntt_log2"])):
        name = f"{kind.upper()} 2^{log_n}"
        busy = f"{t['1'][f'{kind}_node_busy_share']:.0%} / {t['2'][f'{kind}_node_busy_share']:.0%}"
        print(
            f"{name:<14}{t['1'][f'{kind}_seconds']:>9.3f}s{t['2'][f'{kind}_seconds']:>9.3f}s"
            f"{eff[kind]:>11.0%}{busy:>20}"
        )
    o = results["overhead"]
    print(
        f"runner overhead per chunk ({o['chunks']} chunks): {o['per_chunk_seconds'] * 1e3:.1f} ms"
    )
    a = results["msm_audit"]
    print(
        f"MSM audit at rate {results['default_audit_rate']}: job time share "
        f"{a['time_share_estimated']:.1%} estimated from full audits "
        f"({a['mean_seconds_no_audit']:.3f}s → {a['mean_seconds_full_audit']:.3f}s at rate 1), "
        f"{a['time_share_measured']:.1%} measured ({a['mean_seconds_default_audit']:.3f}s, "
        f"{a['jobs_each']} jobs each, audited work {a['audited_work_share']:.1%})"
    )
    c = results["ntt_check_share"]
    print(
        f"NTT slice checks on the head: {c['check_seconds']:.3f}s of work = {c['share']:.1%} of "
        f"the job; job with checks {c['seconds_checked']:.3f}s vs without "
        f"{c['seconds_unchecked']:.3f}s: {c['measured_share']:.1%} of the job"
    )
    print_bytes(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="MSM 2^14 and NTT 2^16")
    parser.add_argument(
        "--bytes-only", action="store_true", help="only the bytes per MSM and NTT job"
    )
    args = parser.parse_args()
    if args.bytes_only:
        results = run_bytes(*((14, 16) if args.quick else (18, 20)))
        print_bytes(results)
    else:
        results = run(args.repeat, args.quick)
        print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

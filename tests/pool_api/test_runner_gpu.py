"""A GPU node in the pool (issue 4): larger MSM chunks by its speed, right results either way.

The node advertises one logical GPU (``num_gpus=1``); on a machine without
CuPy its chunk tasks hold the GPU share and fall back to the CPU kernels, so
the chunk-duration metric is labelled ``cpu``.
"""

from __future__ import annotations

import json

from sqlmodel import Session

from pool_api.models import Job, Node
from workers import gpu, msm, ntt

from ray_cluster import extra_workers
from runner_pool import assert_credits_follow_records, job_records, make_pool, msm_body, ntt_body

FIXTURES = (extra_workers, make_pool)  # used as test arguments
CPU_SPEED = 1.0e6
GPU_SPEED = 4.0e6
"""Stored work units per second: the GPU node is four times as fast."""


def _set_speeds(pool, speeds: dict[str, float]) -> None:
    with Session(pool.state.engine) as session:
        for node_id, speed in speeds.items():
            node = session.get(Node, node_id)
            node.speeds_json = json.dumps({"msm": speed, "ntt": speed})
            session.add(node)
        session.commit()


def _chunk_samples(pool, kind: str, backend: str) -> float:
    value = pool.state.metrics.registry.get_sample_value(
        "proverpool_chunk_duration_seconds_count", {"kind": kind, "backend": backend}
    )
    return value or 0.0


def test_gpu_node_takes_larger_msm_chunks_and_jobs_stay_right(make_pool, extra_workers):
    gpu_ray_node = extra_workers.cluster.add_node(num_cpus=1, num_gpus=1)
    extra_workers.cluster.wait_for_nodes()
    extra_workers.added.append(gpu_ray_node)
    gpu_node = gpu_ray_node.node_id
    cpu_nodes = extra_workers.worker_node_ids
    pool = make_pool(chunks_per_node=2, straggler_min_seconds=120)
    pool.add_contributor("alice", cpu_nodes[0])
    pool.add_contributor("bob", cpu_nodes[1])
    pool.add_contributor("carol", gpu_node)
    _set_speeds(pool, {cpu_nodes[0]: CPU_SPEED, cpu_nodes[1]: CPU_SPEED, gpu_node: GPU_SPEED})

    body, points, scalars = msm_body(240, seed=41)
    job_id = pool.submit(body)
    job = pool.wait(job_id)
    assert job["status"] == "done", job
    assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
    assert_credits_follow_records(pool, job_id)

    with Session(pool.state.engine) as session:
        plan = json.loads(session.get(Job, job_id).plan_json)
    sized_for = dict(enumerate(plan["nodes"]))
    units = {r.chunk_index: r.work_units for r in job_records(pool, job_id)}
    gpu_chunks = [units[i] for i, node in sized_for.items() if node == gpu_node]
    cpu_chunks = [units[i] for i, node in sized_for.items() if node != gpu_node]
    assert len(gpu_chunks) == 2 and len(cpu_chunks) == 4
    assert sum(gpu_chunks) + sum(cpu_chunks) == 240 * 240  # 240 points of 240 units
    for big in gpu_chunks:  # 80 points each against 20: ∝ the stored speeds
        assert all(3.5 <= big / small <= 4.5 for small in cpu_chunks), (gpu_chunks, cpu_chunks)
    on_gpu_node = {r.chunk_index for r in job_records(pool, job_id) if r.ray_node_id == gpu_node}
    assert on_gpu_node == {i for i, node in sized_for.items() if node == gpu_node}

    body, values = ntt_body(1 << 10, seed=42)
    job_id = pool.submit(body)
    job = pool.wait(job_id)
    assert job["status"] == "done", job
    assert [int(v) for v in job["result"]] == ntt("bn254_fr", values)
    assert any(r.ray_node_id == gpu_node for r in job_records(pool, job_id))

    backend = "gpu" if gpu.gpu_available() else "cpu"
    assert _chunk_samples(pool, "msm", backend) >= 6
    assert _chunk_samples(pool, "ntt", backend) >= 1
    if backend == "cpu":
        assert _chunk_samples(pool, "msm", "gpu") == _chunk_samples(pool, "ntt", "gpu") == 0

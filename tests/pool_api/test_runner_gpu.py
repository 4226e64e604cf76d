"""A GPU node in the pool (issue 4): its GPU slot takes larger chunks, right results either way.

The node advertises two CPUs and one logical GPU (``num_gpus=1``): one GPU slot
(sized by the stored GPU speed) and one CPU slot.  On a machine without CuPy
the GPU slot's chunk tasks hold the GPU and fall back to the CPU kernels, so
the chunk-duration metric is labelled ``cpu``.
"""

from __future__ import annotations

import json

from sqlmodel import Session

from pool_api.store.models import Job, Node
from workers import msm, ntt
from workers.cluster.sizing import JobPlan
from workers.gpu import cupy_backend

from ray_cluster import extra_workers
from runner_pool import assert_credits_follow_records, job_records, make_pool, msm_body, ntt_body

FIXTURES = (extra_workers, make_pool)  # used as test arguments
CPU_SPEED = 1.0e6
GPU_SPEED = 4.0e6
"""Stored work units per second: a GPU slot is four times as fast as a CPU slot."""


def _set_speeds(pool, speeds: dict[str, dict[str, float]]) -> None:
    with Session(pool.state.engine) as session:
        for node_id, node_speeds in speeds.items():
            node = session.get(Node, node_id)
            node.speeds_json = json.dumps(node_speeds)
            session.add(node)
        session.commit()


def _chunk_samples(pool, kind: str, backend: str) -> float:
    value = pool.state.metrics.registry.get_sample_value(
        "proverpool_chunk_duration_seconds_count", {"kind": kind, "backend": backend}
    )
    return value or 0.0


def test_gpu_slot_takes_larger_chunks_and_jobs_stay_right(make_pool, extra_workers):
    gpu_ray_node = extra_workers.add_worker(num_cpus=2, num_gpus=1)
    gpu_node = gpu_ray_node.node_id
    cpu_nodes = extra_workers.worker_node_ids
    pool = make_pool(chunks_per_node=2, straggler_min_seconds=120)
    pool.add_contributor("alice", cpu_nodes[0])
    pool.add_contributor("bob", cpu_nodes[1])
    pool.add_contributor("carol", gpu_node)
    cpu_only = {"msm": CPU_SPEED, "ntt": CPU_SPEED}
    with_gpu = cpu_only | {"msm_gpu": GPU_SPEED, "ntt_gpu": GPU_SPEED}
    _set_speeds(pool, {cpu_nodes[0]: cpu_only, cpu_nodes[1]: cpu_only, gpu_node: with_gpu})

    body, points, scalars = msm_body(320, seed=41)
    job_id = pool.submit(body)
    job = pool.wait(job_id)
    assert job["status"] == "done", job
    assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
    assert_credits_follow_records(pool, job_id)

    with Session(pool.state.engine) as session:
        slots = JobPlan.from_json(session.get(Job, job_id).plan_json).slots
    assert slots is not None
    sized_for = dict(enumerate(slots.nodes))
    # Per node, two rounds of its slots: the GPU node's GPU slot, then its CPU slot, twice.
    positions = [i for i, node in sized_for.items() if node == gpu_node]
    assert positions == list(range(positions[0], positions[0] + 4))
    assert sorted(slots.gpu_positions) == positions[::2]
    units = {r.chunk_index: r.work_units for r in job_records(pool, job_id)}
    gpu_chunks = [units[i] for i in sorted(slots.gpu_positions)]
    cpu_chunks = [units[i] for i in sized_for if i not in slots.gpu_positions]
    assert len(gpu_chunks) == 2 and len(cpu_chunks) == 6
    assert sum(gpu_chunks) + sum(cpu_chunks) == 320 * 240  # 320 points of 240 units
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

    backend = "gpu" if cupy_backend.gpu_available() else "cpu"
    assert _chunk_samples(pool, "msm", backend) >= 8
    assert _chunk_samples(pool, "ntt", backend) >= 1
    if backend == "cpu":
        assert _chunk_samples(pool, "msm", "gpu") == _chunk_samples(pool, "ntt", "gpu") == 0

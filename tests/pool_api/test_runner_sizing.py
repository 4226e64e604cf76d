"""Chunks sized by node speed through the runner: a node three times as fast gets three
times the work, in MSM chunks and in both phases of an NTT, and computes it itself."""

from __future__ import annotations

import pytest

from workers import msm, ntt
from workers.cluster.dispatch import alive_cpu_nodes

from runner_pool import (
    assert_credits_follow_records,
    job_records,
    make_pool,
    msm_body,
    ntt_body,
    wait_for,
)

FIXTURES = (make_pool,)  # used as test arguments
FAST, SLOW = 3.0e7, 1.0e7


@pytest.mark.parametrize("kind", ["ntt", "msm"])
def test_faster_node_gets_proportionally_more(make_pool, ray_cluster, kind):
    pool = make_pool(chunks_per_node=1, straggler_min_seconds=120)  # no speculative copies
    fast_node, slow_node = ray_cluster.worker_node_ids
    for name, node_id, speed in (("fast", fast_node, FAST), ("slow", slow_node, SLOW)):
        created = pool.client.post(
            "/v1/contributors", json={"name": name}, headers=pool.operator
        ).json()
        registered = pool.register_node(created, node_id, speeds={"msm": speed, "ntt": speed})
        assert registered.status_code == 201, registered.text
    # Nodes other tests added and removed must be gone, or their (reassigned) chunks blur
    # the proportions.
    wait_for(lambda: set(alive_cpu_nodes()) == {fast_node, slow_node}, 60)
    if kind == "ntt":
        body, values = ntt_body(1 << 12, seed=31)  # a 64 × 64 four-step
        expected = [str(v) for v in ntt("bn254_fr", values)]
    else:
        body, points, scalars = msm_body(400, seed=32)
        expected = [str(v) for v in msm("bn254_g1", points, scalars)]
    job = pool.wait(pool.submit(body))
    assert job["status"] == "done", job
    assert job["result"] == expected
    assert_credits_follow_records(pool, job["id"])
    records = job_records(pool, job["id"])
    for phase in {r.phase for r in records}:
        units = {fast_node: 0, slow_node: 0}
        for record in records:
            if record.phase == phase:
                units[record.ray_node_id] += record.work_units
        assert units[fast_node] == pytest.approx(3 * units[slow_node], rel=0.05), (phase, units)

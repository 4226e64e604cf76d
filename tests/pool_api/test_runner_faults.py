"""Faults on a real cluster: nodes lost mid-job, stragglers, a runner restarted, a cancel.

Every job ends with the right result and every chunk credited once, to the
node whose result was accepted.  Slow nodes are ordinary worker nodes whose
environment sets ``PROVERPOOL_TEST_SLOWDOWN_FACTOR`` (test mode only).
"""

from __future__ import annotations

import logging
import time

import pytest
from sqlmodel import Session

from pool_api.store.models import Contributor, utcnow
from workers import msm, ntt

from ray_cluster import extra_workers
from runner_pool import (
    SLOWDOWN,
    assert_credits_follow_records,
    job_credits,
    job_records,
    job_row,
    make_pool,
    msm_body,
    ntt_body,
    restart_runner,
    wait_for,
)

FIXTURES = (extra_workers, make_pool)  # used as test arguments


def _ban(pool, contributor_id: int) -> None:
    """Keep the base nodes out of a test (its chunks must all go to the nodes it adds)."""
    with Session(pool.state.engine) as session:
        contributor = session.get(Contributor, contributor_id)
        contributor.banned_at = utcnow()
        session.add(contributor)
        session.commit()


def _running_on(pool, job_id: str) -> bool:
    job = job_row(pool, job_id)
    return job.status == "running" and job.chunks_total > 0


@pytest.mark.parametrize("graceful", [True, False], ids=["graceful", "sigkill"])
def test_node_lost_mid_job(make_pool, extra_workers, caplog, graceful):
    caplog.set_level(logging.WARNING, logger="workers.cluster.scheduler")
    victim = extra_workers.add_worker(env_vars={SLOWDOWN: "40"})
    pool = make_pool(chunks_per_node=2, straggler_min_seconds=120)
    pool.add_contributor("alice", extra_workers.worker_node_ids[0])
    pool.add_contributor("bob", extra_workers.worker_node_ids[1])
    dave = pool.add_contributor("dave", victim.node_id)
    body, points, scalars = msm_body(96, seed=21)
    job_id = pool.submit(body)
    wait_for(lambda: _running_on(pool, job_id))
    time.sleep(0.5)  # the victim's first (slowed) chunk is now in flight
    extra_workers.remove_worker(victim, graceful=graceful)
    job = pool.wait(job_id)
    assert job["status"] == "done", job
    assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
    assert any(f"failed on node {victim.node_id}" in r.getMessage() for r in caplog.records)
    assert_credits_follow_records(pool, job_id)
    # Whatever the victim delivered before it died is its own; the rest went elsewhere.
    dave_records = [r for r in job_records(pool, job_id) if r.contributor_id == dave["id"]]
    assert all(r.ray_node_id == victim.node_id for r in dave_records)


def test_straggler_rerun_elsewhere_first_verified_wins(make_pool, extra_workers, caplog):
    caplog.set_level(logging.WARNING, logger="workers.cluster.scheduler")
    slow = extra_workers.add_worker(env_vars={SLOWDOWN: "60"})
    pool = make_pool(chunks_per_node=2, straggler_min_seconds=0.5, straggler_factor=3)
    pool.add_contributor("alice", extra_workers.worker_node_ids[0])
    pool.add_contributor("bob", extra_workers.worker_node_ids[1])
    pool.add_contributor("erin", slow.node_id)
    body, values = ntt_body(1 << 12, seed=4)
    started = time.monotonic()
    job = pool.wait(pool.submit(body))
    assert job["status"] == "done", job
    assert job["result"] == [str(v) for v in ntt("bn254_fr", values)]
    speculated = [r.getMessage() for r in caplog.records if "speculative copy" in r.getMessage()]
    assert any(f"straggling on node {slow.node_id}" in m for m in speculated)
    assert_credits_follow_records(pool, job["id"])
    # The losers were never credited: every credit is the record's (one per chunk).
    assert len(job_credits(pool, job["id"])) == len(job_records(pool, job["id"]))
    assert time.monotonic() - started < 60


def test_runner_restarted_mid_job_resumes_without_recomputing(make_pool, extra_workers):
    worker = extra_workers.add_worker(env_vars={SLOWDOWN: "8"})
    pool = make_pool(chunks_per_node=8, max_in_flight=1, straggler_min_seconds=120)
    for i, node_id in enumerate(extra_workers.worker_node_ids):
        _ban(pool, pool.add_contributor(f"base{i}", node_id)["id"])
    pool.add_contributor("frank", worker.node_id)
    body, points, scalars = msm_body(64, seed=33)  # 8 chunks, one at a time, ≥ 0.35 s each
    job_id = pool.submit(body)
    wait_for(lambda: job_row(pool, job_id).chunks_done >= 2)
    restart_runner(pool)  # the old runner stops at the next chunk boundary
    before = {r.chunk_index: (r.finished_at, r.result_sha256) for r in job_records(pool, job_id)}
    assert 2 <= len(before) < job_row(pool, job_id).chunks_total
    job = pool.wait(job_id)
    assert job["status"] == "done", job
    assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
    after = {r.chunk_index: (r.finished_at, r.result_sha256) for r in job_records(pool, job_id)}
    assert all(after[i] == before[i] for i in before)  # finished chunks were not recomputed
    assert_credits_follow_records(pool, job_id)


def test_cancel_stops_at_a_chunk_boundary_and_credits_nothing(make_pool, extra_workers):
    worker = extra_workers.add_worker(env_vars={SLOWDOWN: "8"})
    pool = make_pool(chunks_per_node=8, max_in_flight=1, straggler_min_seconds=120)
    for i, node_id in enumerate(extra_workers.worker_node_ids):
        _ban(pool, pool.add_contributor(f"base{i}", node_id)["id"])
    pool.add_contributor("gina", worker.node_id)
    body, _, _ = msm_body(64, seed=34)
    job_id = pool.submit(body)
    wait_for(lambda: job_row(pool, job_id).chunks_done >= 1)
    cancelled = pool.client.post(f"/v1/jobs/{job_id}/cancel", headers=pool.operator)
    assert cancelled.status_code == 200, cancelled.text
    time.sleep(1.5)  # a chunk or two later
    records = len(job_records(pool, job_id))
    time.sleep(1.0)
    assert len(job_records(pool, job_id)) == records < job_row(pool, job_id).chunks_total
    assert job_row(pool, job_id).status == "cancelled"
    assert job_credits(pool, job_id) == {}

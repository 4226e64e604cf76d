"""Cheating workers on a real cluster: caught, uncredited for the job, struck and banned.

The cheater is an ordinary worker node whose environment sets
``PROVERPOOL_TEST_CORRUPT_FRACTION`` (honoured only because the pool runs in
test mode).  MSM audits run at rate 1 here so that every corrupted chunk is
caught and every job's result is right; the detection probability at the
default rate is tested in ``tests/workers/test_verify.py``.
"""

from __future__ import annotations

from sqlmodel import Session, select

from pool_api.store.models import Strike
from workers import msm, ntt

from ray_cluster import extra_workers
from runner_pool import (
    CORRUPT,
    assert_credits_follow_records,
    job_credits,
    job_records,
    make_pool,
    msm_body,
    ntt_body,
)

FIXTURES = (extra_workers, make_pool)  # used as test arguments


def _strikes(pool, contributor_id: int) -> list[Strike]:
    with Session(pool.state.engine) as session:
        return list(session.exec(select(Strike).where(Strike.contributor_id == contributor_id)))


def test_full_cheater_caught_uncredited_and_banned(make_pool, extra_workers):
    cheater_node = extra_workers.add_worker(env_vars={CORRUPT: "1.0"})
    pool = make_pool(audit_rate=1.0, max_strikes=2, chunks_per_node=3)
    alice = pool.add_contributor("alice", extra_workers.worker_node_ids[0])
    bob = pool.add_contributor("bob", extra_workers.worker_node_ids[1])
    carol = pool.add_contributor("carol", cheater_node.node_id)

    for round_ in range(2):
        # An NTT (every slice checked) and an MSM (every chunk audited): both caught.
        if round_ == 0:
            body, values = ntt_body(1 << 10, seed=round_)
            expected = [str(v) for v in ntt("bn254_fr", values)]
        else:
            body, points, scalars = msm_body(96, seed=round_)
            expected = [str(v) for v in msm("bn254_g1", points, scalars)]
        job = pool.wait(pool.submit(body))
        assert job["status"] == "done", job
        assert job["result"] == expected
        assert_credits_follow_records(pool, job["id"], excluded={carol["id"]})
        assert all(c.contributor_id != carol["id"] for c in job_credits(pool, job["id"]).values())
        assert len(_strikes(pool, carol["id"])) == round_ + 1

    board = {row["id"]: row for row in pool.client.get("/v1/contributors").json()}
    assert board[carol["id"]]["work_units"] == 0
    assert board[carol["id"]]["banned"] and not board[alice["id"]]["banned"]
    assert board[alice["id"]]["work_units"] + board[bob["id"]]["work_units"] > 0
    nodes = {n["ray_node_id"]: n for n in pool.client.get("/v1/nodes").json()}
    assert nodes[cheater_node.node_id]["status"] == "banned"

    # Banned: its node gets no more work at all.
    body, points, scalars = msm_body(64, seed=9)
    job = pool.wait(pool.submit(body))
    assert job["status"] == "done"
    assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
    assert all(r.ray_node_id != cheater_node.node_id for r in job_records(pool, job["id"]))
    assert_credits_follow_records(pool, job["id"])


def test_ten_percent_cheater_every_job_right_until_banned(make_pool, extra_workers):
    cheater_node = extra_workers.add_worker(env_vars={CORRUPT: "0.1"})
    pool = make_pool(audit_rate=1.0, max_strikes=2, chunks_per_node=8)
    pool.add_contributor("alice", extra_workers.worker_node_ids[0])
    pool.add_contributor("bob", extra_workers.worker_node_ids[1])
    carol = pool.add_contributor("carol", cheater_node.node_id)
    caught_in = []
    for seed in range(12):
        struck_before = len(_strikes(pool, carol["id"]))
        body, points, scalars = msm_body(192, seed=100 + seed)  # 24 chunks of 8 points
        job = pool.wait(pool.submit(body))
        assert job["status"] == "done", job
        assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
        caught = len(_strikes(pool, carol["id"])) > struck_before
        assert_credits_follow_records(pool, job["id"], excluded={carol["id"]} if caught else set())
        if caught:
            caught_in.append(job["id"])
            assert all(
                c.contributor_id != carol["id"] for c in job_credits(pool, job["id"]).values()
            )
        if len(caught_in) == 2:
            break
    assert len(caught_in) == 2, "a 10% cheater over 24-chunk jobs was not caught twice in 12 jobs"
    board = {row["id"]: row for row in pool.client.get("/v1/contributors").json()}
    nodes = {n["ray_node_id"]: n for n in pool.client.get("/v1/nodes").json()}
    assert nodes[cheater_node.node_id]["status"] == "banned"
    assert board[carol["id"]]["banned"]

"""Issue 14 item 9: a transient database error must not fail a job for good.

The fault: another connection held an exclusive SQLite lock for longer than the busy
timeout while a job ran; recording the next verified chunk raised "database is locked",
the job turned ``failed`` for good and that chunk was never credited.

What must hold: database outages (locked, unreachable) are retried with backoff in the
runner, as the Redis lease path already is; once the lock is released the job ends
``done`` with the right result, and every verified chunk is credited exactly once, to the
node that produced it.  The lock is ``BEGIN EXCLUSIVE`` on a plain ``sqlite3``
connection to the pool's database file, held past the engine's 30 s busy timeout
(``pool_api.store.db.make_engine``) while a slowed node still has chunks in flight.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from workers import msm

from ray_cluster import extra_workers
from runner_pool import (
    SLOWDOWN,
    assert_credits_follow_records,
    job_records,
    job_row,
    make_pool,
    msm_body,
    wait_for,
)

FIXTURES = (extra_workers, make_pool)  # used as test arguments
SQLITE_BUSY_TIMEOUT_SECONDS = 30
"""``timeout`` of the pool's SQLite connections (pool_api/store/db.py)."""
LOCK_HELD_SECONDS = SQLITE_BUSY_TIMEOUT_SECONDS + 6


def test_sqlite_locked_past_busy_timeout_job_resumes_credited_once(
    make_pool, extra_workers, caplog
):
    caplog.set_level(logging.WARNING, logger="pool_api.runner.retry")
    slow = extra_workers.add_worker(env_vars={SLOWDOWN: "40"})
    pool = make_pool(chunks_per_node=2, straggler_min_seconds=300, audit_rate=0.0)
    pool.add_contributor("alice", extra_workers.worker_node_ids[0])
    pool.add_contributor("bob", extra_workers.worker_node_ids[1])
    dave = pool.add_contributor("dave", slow.node_id)
    body, points, scalars = msm_body(96, seed=31)
    job_id = pool.submit(body)
    # Some chunks are recorded (the fast nodes'), the slowed node's are still running.
    wait_for(lambda: job_row(pool, job_id).chunks_done >= 1, timeout_seconds=120)
    assert job_row(pool, job_id).status == "running"

    database = pool.settings.resolved_database_url.removeprefix("sqlite:///")
    lock = sqlite3.connect(database, timeout=60, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        time.sleep(LOCK_HELD_SECONDS)
        assert job_row(pool, job_id).status == "running"  # readers go on (WAL); not failed
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    job = pool.wait(job_id, timeout_seconds=180)
    assert job["status"] == "done", job
    assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
    assert_credits_follow_records(pool, job_id)  # every record credited once, to its producer
    assert any(r.contributor_id == dave["id"] for r in job_records(pool, job_id))
    outage_lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert outage_lines, "the outage was not logged"

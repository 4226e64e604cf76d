"""Issue 14 item 8: ``/healthz`` covers Ray.

The fault: ``/healthz`` stayed 200 while the head's raylet was dead (and the API about to
exit): it looked at the database and Redis only.

What must hold: ``/healthz`` reports the database, Redis and Ray separately, and answers
503 when any of them is down — Ray when the cluster the process is configured for does
not answer, or when the raylet its Ray driver is attached to is dead.  The Ray check is
bounded in time and cached for two seconds; a process that runs no jobs and names no
cluster reports Ray as ``"not used"`` (or ``"ok"`` when the process has a driver anyway,
as the test process does once a test used the session cluster).
"""

from __future__ import annotations

import os
import signal
import socket
import time

import httpx
import pytest
import redis

from pool_api.store.db import make_engine

from head_process import process_name, start_head

FIXTURES = (start_head,)  # used as test arguments


def _closed_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not 10_000 <= port < 20_000 and port != 6379:
            return port


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_each_part_reported_on_its_own(make_api):
    health = make_api().client.get("/healthz")
    assert health.status_code == 200, health.text
    body = health.json()
    assert set(body) == {"status", "database", "redis", "ray"}
    assert body["database"] == body["redis"] == "ok" and body["ray"] in ("not used", "ok")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_database_or_redis_down_is_503_naming_it(make_api):
    api = make_api()
    healthy_engine, healthy_redis = api.state.engine, api.state.events.client
    api.state.engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/x")
    try:
        health = api.client.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] == "unreachable"
        assert health.json()["redis"] == "ok"
    finally:
        api.state.engine.dispose()
        api.state.engine = healthy_engine
    api.state.events.client = redis.Redis(port=_closed_port(), socket_connect_timeout=1)
    try:
        health = api.client.get("/healthz")
        assert health.status_code == 503 and health.json()["redis"] == "unreachable"
        assert health.json()["database"] == "ok"
    finally:
        api.state.events.client = healthy_redis


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_configured_cluster_down_is_503_naming_ray(make_api, ray_cluster):
    up = make_api(ray_address=ray_cluster.address).client.get("/healthz")
    assert up.status_code == 200 and up.json()["ray"] == "ok", up.text
    started = time.monotonic()
    down = make_api(ray_address=f"127.0.0.1:{_closed_port()}").client.get("/healthz")
    assert time.monotonic() - started < 10
    assert down.status_code == 503, down.text
    assert down.json()["ray"].startswith("down: ") and down.json()["status"] == "degraded"


def test_killed_raylet_of_the_head_is_503_naming_ray(start_head):
    head = start_head("--host", "127.0.0.1", "--head-cpus", "1")
    job = head.run_job({"kind": "ntt", "field": "babybear", "values": [1, 2, 3, 4]})
    assert job["status"] == "done", job  # the API process's Ray driver is attached now
    assert head.wait_healthy()["ray"] == "ok"
    (raylet,) = [pid for pid in head.pids() if "/raylet " in process_name(pid) + " "]
    os.kill(raylet, signal.SIGKILL)
    deadline = time.monotonic() + 15
    answer = None
    while time.monotonic() < deadline:
        try:
            answer = head.client.get("/healthz")
        except httpx.HTTPError as exc:  # the API exited before answering 503
            raise AssertionError(f"no answer from /healthz: {exc}") from exc
        if answer.status_code == 503:
            break
        time.sleep(0.3)
    assert answer is not None and answer.status_code == 503, answer and answer.text
    assert answer.json()["ray"].startswith("down: "), answer.json()

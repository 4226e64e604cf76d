"""Issue 17 item 7: the operator's log tells the pool's story, not its HTTP requests.

One pool (SQLite, embedded Redis, the shared Ray cluster) runs one MSM job: its log has
the node joining, the job queued, started and done with durations, the reward with its
split, a withdrawal, a strike, the node leaving; no access line and no heartbeat.  Then
the same app under uvicorn over real HTTP: access lines only with
``PROVERPOOL_ACCESS_LOG``, and never a heartbeat's.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from pool_api.api.slow_clients import uvicorn_config
from pool_api.main import create_app
from pool_api.runner.nodes import NodeBook
from pool_api.settings import Settings

from pool_client import Pool

OPERATOR_TOKEN = "log-story-test-operator-token-0123456789"
G = ["1", "2"]


def _settings(data_dir, **overrides) -> Settings:
    return Settings(
        data_dir=data_dir,
        operator_token=OPERATOR_TOKEN,
        msm_min_chunk_points=8,
        rate_limit_ip_requests=10**9,
        rate_limit_key_requests=10**9,
        rate_limit_auth_failures=10**9,
        **overrides,
    )


@pytest.fixture(scope="module")
def story(ray_cluster, tmp_path_factory) -> Iterator[tuple[Pool, list[logging.LogRecord], str]]:
    """Runs the pool's story once; ``(pool, the log records, the job id)``."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    root = logging.getLogger()
    root.addHandler(handler)
    settings = _settings(tmp_path_factory.mktemp("story") / "data", ray_address=ray_cluster.address)
    try:
        with TestClient(create_app(settings)) as client:
            pool = Pool(client, settings, {"Authorization": f"Bearer {OPERATOR_TOKEN}"})
            node = ray_cluster.worker_node_ids[0]
            alice = pool.add_contributor("alice", node)
            beat = client.post(f"/v1/nodes/{node}/heartbeat", headers=pool.key(alice))
            assert beat.status_code == 200, beat.text
            job_id = pool.submit(
                {"kind": "msm", "curve": "bn254_g1", "points": [G] * 32, "scalars": ["3"] * 32}
            )
            assert pool.wait(job_id)["status"] == "done"
            body = {"amount_units": 1_000_000, "idempotency_key": "story-reward"}
            reward = client.post(f"/v1/jobs/{job_id}/reward", json=body, headers=pool.operator)
            assert reward.status_code == 201, reward.text
            withdrawal = {"amount_units": 1000, "idempotency_key": "story-withdrawal"}
            asked = client.post("/v1/withdrawals", json=withdrawal, headers=pool.key(alice))
            assert asked.status_code == 201, asked.text
            NodeBook(pool.state.engine, job_id).strike(node, 0, "test strike", max_strikes=3)
            gone = client.delete(f"/v1/nodes/{node}", headers=pool.key(alice))
            assert gone.status_code == 204, gone.text
            yield pool, records, job_id
    finally:
        root.removeHandler(handler)


def _lines(records: list[logging.LogRecord], level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in records if r.levelno >= level]


def test_the_log_tells_the_jobs_story_with_durations(story):
    _pool, records, job_id = story
    lines = _lines(records)
    queued = [line for line in lines if line.startswith(f"job {job_id} queued")]
    assert queued == [f"job {job_id} queued: msm, size 32"]
    started = [line for line in lines if line.startswith(f"job {job_id} started")]
    assert len(started) == 1 and re.search(r"after \d+\.\d\d s queued", started[0]), started
    done = [line for line in lines if line.startswith(f"job {job_id} done")]
    assert len(done) == 1 and re.fullmatch(
        rf"job {job_id} done in \d+\.\d\d s \((\d+)/\1 chunks\)", done[0]
    ), done
    assert lines.index(queued[0]) < lines.index(started[0]) < lines.index(done[0])


def test_the_log_tells_nodes_rewards_and_strikes(story, ray_cluster):
    pool, records, job_id = story
    node = ray_cluster.worker_node_ids[0]
    lines = _lines(records)
    alice = pool.client.get("/v1/contributors").json()[0]["id"]
    assert f"node {node} joined (contributor {alice})" in lines
    assert f"node {node} left (contributor {alice})" in lines
    assert (
        f"reward 1,000,000 units for job {job_id}: operator fee 50,000; contributor {alice} 950,000"
        in lines
    )
    assert any(
        line.startswith("withdrawal ") and line.endswith(" requested: 1,000 units")
        for line in lines
    ), lines
    strikes = [r for r in records if "struck" in r.getMessage()]
    assert [r.levelno for r in strikes] == [logging.WARNING]
    assert f"contributor {alice} struck in job {job_id}" in strikes[0].getMessage()


def test_the_log_has_no_progress_heartbeat_or_access_lines(story):
    _pool, records, job_id = story
    lines = _lines(records)
    assert not any("heartbeat" in line for line in lines), lines
    assert not any(r.name.startswith("uvicorn.access") for r in records)
    # one "started" and one "done" line per job, however many chunks it had
    assert sum(job_id in line for line in lines if line.startswith("job ")) == 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_a_few_requests(settings: Settings) -> None:
    """Serve the app (no runner) under uvicorn with the package's configuration (uvicorn's
    own log handlers, as ``proverpool head`` has them); a few requests, one a heartbeat."""
    port = _free_port()
    app = create_app(settings, start_runner=False)
    server = uvicorn.Server(uvicorn_config(app, settings, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/v1/version").status_code == 200
            beat = client.post("/v1/nodes/" + "a" * 56 + "/heartbeat")
            assert beat.status_code == 401
    finally:
        server.should_exit = True
        thread.join(15)


def test_access_lines_are_opt_in_and_never_heartbeats(tmp_path, capfd):
    _serve_a_few_requests(_settings(tmp_path / "off"))
    out, err = capfd.readouterr()
    assert "Application startup complete" in err  # uvicorn logs, but no request
    assert "/v1/version" not in out + err and "heartbeat" not in out + err
    _serve_a_few_requests(_settings(tmp_path / "on", access_log=True))
    out, err = capfd.readouterr()
    assert '"GET /v1/version HTTP/1.1" 200' in out + err
    assert "heartbeat" not in out + err

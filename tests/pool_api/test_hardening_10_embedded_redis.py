"""Issue 14 item 10: the embedded Redis is supervised, and stopped with the app.

Faults: killing the embedded Redis server left every ``/v1/`` route at 503 until the
API process restarted; every app shutdown left its embedded Redis running (orphans);
the demo ended with "Redis graceful shutdown failed, forcefully killing pid …".
What must hold: after ``kill -9`` of the embedded server the routes answer again within
a few seconds, without restarting the app, on the same socket; when the app (its
TestClient context) exits, no redis-server of its data directory remains and nothing
alarming was logged; a second app on the same data directory keeps the server while it
still runs; a CLI-like process that exits without closing stops it too.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from pool_api.main import create_app

RECOVERY_SECONDS = 10.0


def _server_pid(client) -> int:
    return int(client.info("server")["process_id"])


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _servers_of(data_dir: Path) -> list[int]:
    """redis-server processes whose command line or working directory is in data_dir."""
    found = []
    for process in psutil.process_iter(["pid", "name", "cmdline", "cwd", "status"]):
        info = process.info
        if "redis" not in (info["name"] or "") or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        text = " ".join(info["cmdline"] or []) + " " + (info["cwd"] or "")
        if str(data_dir) in text:
            found.append(info["pid"])
    return found


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_killed_embedded_redis_comes_back(api):
    client = api.state.events.client
    socket_before = client.connection_pool.connection_kwargs["path"]
    old_pid = _server_pid(client)
    assert api.client.get("/v1/nodes", headers=api.operator).status_code == 200
    os.kill(old_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    answers: list[int] = []
    while time.monotonic() - killed_at < RECOVERY_SECONDS:
        answers = [
            api.client.get("/v1/jobs").status_code,  # the rate limiter needs Redis
            api.client.get("/v1/nodes", headers=api.operator).status_code,  # presence
        ]
        if answers == [200, 200]:
            break
        time.sleep(0.2)
    assert answers == [200, 200], f"still {answers} {RECOVERY_SECONDS} s after kill -9"
    new_pid = _server_pid(api.state.events.client)
    assert new_pid != old_pid
    assert api.state.events.client.connection_pool.connection_kwargs["path"] == socket_before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_app_exit_stops_embedded_redis_quietly(make_settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings = make_settings()
    with TestClient(create_app(settings, start_runner=False)) as client:
        assert client.get("/v1/jobs").status_code == 200
        pid = _server_pid(client.app.state.pool.events.client)
        assert not _gone(pid)
    assert _gone(pid), f"the embedded redis-server {pid} outlived the app"
    assert _servers_of(settings.data_dir) == []
    assert "forcefully killing" not in caplog.text
    alarming = [r for r in caplog.records if r.levelno >= logging.WARNING and "edis" in r.message]
    assert alarming == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_server_stays_while_another_app_uses_it(make_settings):
    settings = make_settings()  # one data directory: one server for both apps
    with TestClient(create_app(settings, start_runner=False)) as second:
        with TestClient(create_app(settings, start_runner=False)) as first:
            pid = _server_pid(first.app.state.pool.events.client)
            assert _server_pid(second.app.state.pool.events.client) == pid
        assert not _gone(pid)
        assert second.get("/v1/jobs").status_code == 200
    assert _gone(pid)


def test_process_exit_stops_embedded_redis(tmp_path):
    data_dir = tmp_path / "cli-data"
    script = textwrap.dedent(
        f"""
        from pool_api.live.events import connect_redis
        from pool_api.settings import Settings

        client = connect_redis(Settings(data_dir={str(data_dir)!r}, redis_url=None))
        client.set("k", "v")
        print(client.info("server")["process_id"], flush=True)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVERPOOL_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "the process exited, its embedded redis-server did not"
    assert "forcefully killing" not in done.stderr and "Traceback" not in done.stderr

"""Issue 17 items 6 and 8: ``head`` checks its ports before starting anything and warns on
a loopback host; ``join`` refuses to start beside a running one (exit codes of
:mod:`pool_api.cli.exit_codes`).  Nothing here starts Ray: the checks come first."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pool_api.cli.app import app

from head_process import free_port


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("PROVERPOOL_RAY_ADDRESS", "PROVERPOOL_DATABASE_URL", "PROVERPOOL_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)


def _listen(host: str, port: int) -> socket.socket:
    held = socket.socket()
    held.bind((host, port))
    held.listen()
    return held


def _invites(data_dir) -> int:
    with sqlite3.connect(data_dir / "pool.db") as db:
        return db.execute("SELECT count(*) FROM invite").fetchone()[0]


def test_head_refuses_busy_ports_before_starting_anything(tmp_path, clean_env):
    api_port, ray_port = free_port(), free_port()
    data_dir = tmp_path / "pool"
    args = [
        "head",
        "--port",
        str(api_port),
        "--ray-port",
        str(ray_port),
        "--data-dir",
        str(data_dir),
    ]
    with _listen("127.0.0.1", api_port):
        busy_http = CliRunner().invoke(app, args)
    assert busy_http.exit_code == 4, busy_http.output
    assert f"cannot listen on 127.0.0.1:{api_port}" in busy_http.output
    assert "--port" in busy_http.output
    # The loopback warning, and nothing started: no Ray, no invite, no join command.
    assert "only this machine can join" in busy_http.output
    assert "starting the Ray head" not in busy_http.output
    assert "proverpool join" not in busy_http.output and _invites(data_dir) == 0

    with _listen("127.0.0.1", ray_port):
        busy_ray = CliRunner().invoke(app, args)
    assert busy_ray.exit_code == 4, busy_ray.output
    assert f"the Ray port {ray_port} is taken" in busy_ray.output
    assert "--ray-port" in busy_ray.output and "PROVERPOOL_RAY_PORT" in busy_ray.output
    assert "starting the Ray head" not in busy_ray.output and _invites(data_dir) == 0


HOLD_LOCK = """
import sys, time
from pathlib import Path
from pool_api.cli.join import _lock_join
_lock_join(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(120)
"""


def test_a_second_join_is_refused_while_one_runs(tmp_path):
    data_dir = tmp_path / "contributor"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        args = ["join", "http://127.0.0.1:9", "--data-dir", str(data_dir)]
        second = CliRunner().invoke(app, args)
        assert second.exit_code == 4, second.output
        assert f"already joined (pid {holder.pid}); run `proverpool leave` first" in second.output
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    # Its lock dies with it: the next join goes on (to an unreachable pool here: exit 3).
    after = CliRunner().invoke(app, args)
    assert after.exit_code == 3 and "cannot reach the pool" in after.output, after.output

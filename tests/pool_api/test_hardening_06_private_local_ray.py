"""Issue 14 item 6: the pool never attaches to a Ray cluster it was not told to use.

The fault: with default settings ``ray.init()`` joined whatever Ray cluster the host
offered (``RAY_ADDRESS``, ``/tmp/ray/ray_current_cluster``): the pool ran its jobs on
another program's cluster and died with it.  With an unreachable
``PROVERPOOL_RAY_ADDRESS`` a job sat ``running`` for minutes while ``/healthz`` said 200.

What must hold:

* default settings (no ``PROVERPOOL_RAY_ADDRESS``) start a private local Ray: the
  pool's chunks run on its own node ids, none of the other cluster's, even with
  ``RAY_ADDRESS`` pointing at that cluster, and stopping that cluster leaves the pool
  working;
* an unreachable address fails clearly within ``PROVERPOOL_RAY_CONNECT_TIMEOUT_SECONDS``
  (a refused port, and a port that accepts but never answers); the runner logs it once,
  claims no job while Ray is down (the job stays ``queued``, not ``running``), and
  ``/healthz`` answers 503 naming Ray.

The pool's Ray driver is per process and the test process already has one (the
session cluster), so each pool here runs in a process of its own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis_server import external_redis_url

from pool_api.membership import RayProcess

from runner_pool import settings_env

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "a" * 64
CONNECT_TIMEOUT_SECONDS = 3

POOL_PROCESS = r"""
import json, sys
import numpy as np
import ray
from ray._raylet import GcsClient
from pool_api.settings import Settings
from workers.cluster import dispatch, runtime
from workers.cluster.plan import plan_ntt

settings = Settings()
other = sys.argv[1]
other_nodes = sorted(n.hex() for n in GcsClient(address=other).get_all_node_info(timeout=10))

def run_job():
    used = set()
    values = np.arange(1 << 8, dtype=np.uint64)
    dispatch.run_ntt("goldilocks", values, plan_ntt("goldilocks", 1 << 8, 2, 2),
                     on_chunk=lambda chunk, out: used.add(out.node_id))
    return sorted(used)

runtime.ensure_ray(settings.ray_address)  # what the runner does with default settings
gcs = ray.get_runtime_context().gcs_address
print(json.dumps({"gcs": gcs, "other_nodes": other_nodes, "used": run_job()}), flush=True)
sys.stdin.readline()  # the test stops the other cluster, then asks for another job
print(json.dumps({"used": run_job()}), flush=True)
"""

CONNECT_PROCESS = r"""
import sys, time
from workers.cluster import runtime
from workers.errors import RayUnavailableError
started = time.monotonic()
try:
    runtime.ensure_ray(sys.argv[1], float(sys.argv[2]))
except RayUnavailableError as exc:
    print(f"{time.monotonic() - started:.2f} {exc}", flush=True)
else:
    print("connected", flush=True)
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVERPOOL_", "RAY_"))}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(REPO_ROOT), **extra)
    return env


def _closed_port() -> int:
    """A free port outside Ray's worker ports (10002–19999), never Redis's 6379."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not 10_000 <= port < 20_000 and port != 6379:
            return port


def test_default_settings_never_join_another_cluster(tmp_path):
    address = f"127.0.0.1:{_closed_port()}"
    other = RayProcess(
        ["--head", "--port", address.split(":")[1], "--num-cpus", "1", "--include-dashboard",
         "false", "--node-ip-address", "127.0.0.1"],
        TOKEN,
        prefix="pp-other-",
    )  # fmt: skip
    pool = None
    try:
        other.wait_started(120)
        pool = subprocess.Popen(
            [sys.executable, "-c", POOL_PROCESS, address],
            env=_env(
                tmp_path,
                PROVERPOOL_DATA_DIR=str(tmp_path / "pool"),
                RAY_ADDRESS=address,  # another program's cluster, announced to the host
                RAY_AUTH_MODE="token",
                RAY_AUTH_TOKEN=TOKEN,
            ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = json.loads(pool.stdout.readline())
        assert first["used"], first
        assert not set(first["used"]) & set(first["other_nodes"]), first
        assert first["gcs"] != address
        other.stop(grace_seconds=10)
        time.sleep(2)
        pool.stdin.write("again\n")
        pool.stdin.flush()
        second = json.loads(pool.stdout.readline())
        assert second["used"] and not set(second["used"]) & set(first["other_nodes"])
        assert pool.poll() is None or pool.wait(60) == 0
    finally:
        if pool is not None and pool.poll() is None:
            pool.kill()
            pool.wait(30)
        other.stop(grace_seconds=5)


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_unreachable_address_fails_within_the_timeout(tmp_path, kind):
    silent = socket.socket()  # accepts connections (the backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1] if kind == "silent" else _closed_port()
    try:
        done = subprocess.run(
            [sys.executable, "-c", CONNECT_PROCESS, f"127.0.0.1:{port}", "3"],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        silent.close()
    seconds, _, message = done.stdout.strip().partition(" ")
    assert message.startswith(f"the Ray cluster at 127.0.0.1:{port} does not answer"), done
    assert float(seconds) < CONNECT_TIMEOUT_SECONDS + 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_runner_claims_nothing_while_ray_is_unreachable(make_api, tmp_path):
    address = f"127.0.0.1:{_closed_port()}"
    api = make_api(
        redis_url=external_redis_url(),
        ray_address=address,
        ray_connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
    )
    health = api.client.get("/healthz")
    assert health.status_code == 503, health.text
    assert health.json()["ray"].startswith("down: "), health.json()

    env = _env(tmp_path, **settings_env(api.settings))
    log_path = tmp_path / "runner.log"
    with log_path.open("wb") as log:
        runner = subprocess.Popen(
            [str(Path(sys.executable).with_name("proverpool")), "runner"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        job_id = api.submit({"kind": "ntt", "field": "babybear", "values": [1, 2, 3, 4]})
        time.sleep(6 * CONNECT_TIMEOUT_SECONDS)  # several tries of the runner
        job = api.client.get(f"/v1/jobs/{job_id}", headers=api.operator).json()
        assert job["status"] == "queued", job  # never claimed, so never stuck `running`
        assert runner.poll() is None, log_path.read_text()
        lines = [
            line
            for line in log_path.read_text().splitlines()
            if f"the Ray cluster at {address} does not answer" in line
        ]
        assert 1 <= len(lines) <= 2, log_path.read_text()  # the CLI's and the loop's, once
    finally:
        runner.terminate()
        runner.wait(30)

"""``proverpool runner``: the job runner as a process of its own, beside an API that runs none.

The API here is configured as an operator who splits them would (``api_runs_jobs=False``),
so jobs stay queued until the ``proverpool runner`` process — a real subprocess of the
CLI, joining the session's Ray cluster as its own driver — takes the lease and runs them.
SIGTERM stops it cleanly (exit 0) and releases the lease.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from pool_api.main import create_app
from workers import msm

from pool_client import Pool
from ray_cluster import RayCluster
from runner_pool import OPERATOR_TOKEN, msm_body, settings_env

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_runner_process_runs_the_jobs_of_an_api_that_runs_none(
    make_settings, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    settings = make_settings(
        ray_address=ray_cluster.address, api_runs_jobs=False, runner_lease_seconds=2
    )
    metrics_port = _free_port()
    log_path = tmp_path / "runner.log"
    with TestClient(create_app(settings)) as client:
        pool = Pool(client, settings, {"Authorization": f"Bearer {OPERATOR_TOKEN}"}, 180)
        pool.add_workers(ray_cluster.worker_node_ids)  # only registered nodes get chunks
        assert not pool.state.runner.lease.held
        body, points, scalars = msm_body(64, seed=5)
        job_id = pool.submit(body)
        time.sleep(1.0)
        assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"  # nobody runs it

        env = {
            **os.environ,
            **settings_env(settings),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.getenv("PYTHONPATH")])),
        }
        command = [sys.executable, "-m", "pool_api.cli.app", "runner"]
        command += ["--metrics-port", str(metrics_port)]
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            job = pool.wait(job_id)
            output = log_path.read_text(errors="replace")
            assert job["status"] == "done", (job, output[-3000:])
            assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
            metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
            assert 'proverpool_jobs_finished_total{kind="msm",status="done"} 1.0' in metrics

            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0, log_path.read_text(errors="replace")[-3000:]
            output = log_path.read_text(errors="replace")
            assert "runner started" in output and output.rstrip().endswith("stopped")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)

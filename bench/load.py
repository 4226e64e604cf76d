"""Load test of the HTTP API: heartbeats and job-status reads under locust, over loopback.

Usage: ``python bench/load.py [--duration 60] [--workers 2] [--users 32]
[--postgres [--postgres-url URL]] [--redis-url URL] [--json PATH]``

Starts the real API under uvicorn (``--workers`` processes, uvloop/httptools
when installed) on a free loopback port, on the pool's default database (a
SQLite file, WAL) or with ``--postgres`` a fresh PostgreSQL database (created
on the server of ``--postgres-url``, dropped afterwards), and the Redis of
``--redis-url`` (default ``redis://127.0.0.1:6379/14``; the API workers are
separate processes, so they share one Redis server), every table migrated
with Alembic. Setup
through the API itself: the operator invites ``--contributors`` contributors,
each redeems its invite; one node each is written to the database (there is no Ray
cluster here, and ``POST /v1/nodes`` takes only live Ray nodes). ``--jobs`` finished jobs (NTT of
four BabyBear elements, their result blobs stored) are written straight to the
database so the job runner has nothing to do.

Then two phases of ``--duration`` seconds each, driven by locust headless
(``bench/locustfile.py``, ``FastHttpUser``, ``--users`` users back to back):

* ``heartbeat``: ``POST /v1/nodes/{id}/heartbeat`` with the owner's API key
  (rate limiter, key lookup, node ownership, presence in Redis);
* ``status``: ``GET /v1/jobs/{id}`` without a token (rate limiter by IP, the
  job row, its result decoded to JSON).

The rate limits are raised above the load (the limiter still counts every
request in Redis). Targets (issue 6): heartbeats ≥ 1000 requests/s with p99
under 100 ms, status reads ≥ 1000 requests/s, zero errors. Prints a table and
writes JSON (default ``bench/results/load.json``). Load generator and server
share the machine's cores: figures on a busy machine understate the server.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from pool_api.store import migrate  # noqa: E402
from pool_api.store.blobs import BlobStore  # noqa: E402
from pool_api.store.db import make_engine  # noqa: E402
from pool_api.store.models import Job, JobStatus, Node  # noqa: E402
from workers.codec.arrays import elements_from_ints, encode_elements  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "load.json"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
OPERATOR_TOKEN = "load-operator-" + secrets.token_hex(16)
TARGET_RPS = 1000
TARGET_P99_MS = 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _postgres_database(server_url: str):
    """A fresh PostgreSQL database on the server of ``server_url``, dropped afterwards."""
    url = make_url(server_url)
    name = f"proverpool_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed_jobs(database_url: str, data_dir: Path, count: int) -> list[str]:
    """``count`` finished NTT jobs with stored input and result blobs."""
    blobs = BlobStore(data_dir / "blobs")
    result = [10, 2013265919, 2013265917, 2013265919 - 1]
    input_sha = blobs.put(encode_elements("babybear", elements_from_ints("babybear", [1, 2, 3, 4])))
    result_sha = blobs.put(encode_elements("babybear", elements_from_ints("babybear", result)))
    engine = make_engine(database_url)
    ids = [uuid.uuid4().hex for _ in range(count)]
    with Session(engine) as session:
        for job_id in ids:
            session.add(
                Job(
                    id=job_id,
                    kind="ntt",
                    field="babybear",
                    size=4,
                    input_sha256=input_sha,
                    status=JobStatus.done,
                    chunks_done=1,
                    chunks_total=1,
                    result_sha256=result_sha,
                )
            )
        session.commit()
    engine.dispose()
    return ids


def _onboard(base_url: str, database_url: str, contributors: int) -> list[dict[str, str]]:
    """Contributors onboarded over HTTP, each with one node written straight to the database:
    ``POST /v1/nodes`` takes only nodes alive in Ray that advertise their registration
    secret, and this load test has no Ray cluster; the heartbeats need only the rows."""
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    nodes = []
    rows = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for i in range(contributors):
            invite = client.post("/v1/invites", headers=operator).json()["invite"]
            created = client.post(
                "/v1/contributors", json={"invite": invite, "name": f"load-{i}"}
            ).json()
            node_id = secrets.token_hex(28)
            rows.append(Node(ray_node_id=node_id, contributor_id=created["id"], cpu_cores=2))
            nodes.append({"ray_node_id": node_id, "api_key": created["api_key"]})
    engine = make_engine(database_url)
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    engine.dispose()
    return nodes


def _wait_ready(base_url: str, server: subprocess.Popen, timeout_seconds: float = 60) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited with {server.returncode}")
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the API did not become healthy")


def _run_locust(
    scenario: str, base_url: str, plan_path: Path, args: argparse.Namespace, out_dir: Path
) -> dict[str, Any]:
    prefix = out_dir / scenario
    env = {
        **os.environ,
        "PROVERPOOL_LOAD_PLAN": str(plan_path),
        "PROVERPOOL_LOAD_SCENARIO": scenario,
    }
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--host",
        base_url,
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.users),
        "--run-time",
        f"{args.duration}s",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    if args.locust_processes != 1:
        command += ["--processes", str(args.locust_processes)]
    subprocess.run(command, env=env, check=True, timeout=args.duration + 120)
    with open(f"{prefix}_stats.csv") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    row = rows["Aggregated"]
    requests = int(row["Request Count"])
    return {
        "scenario": scenario,
        "requests": requests,
        "failures": int(row["Failure Count"]),
        "requests_per_second": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
        "max_ms": float(row["Max Response Time"]),
    }


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'scenario':<10} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r['scenario']:<10} {r['requests']:>9} {r['failures']:>7} "
            f"{r['requests_per_second']:>8.0f} {r['p50_ms']:>7.0f} {r['p99_ms']:>7.0f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)))
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--locust-processes", type=int, default=1)
    parser.add_argument("--contributors", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, not SQLite")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--scenarios", default="heartbeat,status")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="proverpool-load-"))
    try:
        if not args.postgres:
            database = nullcontext(f"sqlite:///{work / 'pool.db'}")
        else:
            database = _postgres_database(args.postgres_url)
        with database as database_url:
            results = _run(args, work, database_url)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(_table(results))
    heartbeat = next((r for r in results if r["scenario"] == "heartbeat"), None)
    status = next((r for r in results if r["scenario"] == "status"), None)
    verdict = {
        "heartbeat_rps_ok": bool(heartbeat and heartbeat["requests_per_second"] >= TARGET_RPS),
        "heartbeat_p99_ok": bool(heartbeat and heartbeat["p99_ms"] < TARGET_P99_MS),
        "status_rps_ok": bool(status and status["requests_per_second"] >= TARGET_RPS),
        "zero_errors": all(r["failures"] == 0 for r in results),
    }
    print("targets:", ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in verdict.items()))
    report = {
        "benchmark": "load",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "database": "postgresql" if args.postgres else "sqlite",
        "targets": {"requests_per_second": TARGET_RPS, "heartbeat_p99_ms": TARGET_P99_MS},
        "results": results,
        "verdict": verdict,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


def _run(args: argparse.Namespace, work: Path, database_url: str) -> list[dict[str, Any]]:
    migrate.upgrade_url(database_url)
    data_dir = work / "data"
    job_ids = _seed_jobs(database_url, data_dir, args.jobs)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PROVERPOOL_DATA_DIR": str(data_dir),
        "PROVERPOOL_DATABASE_URL": database_url,
        "PROVERPOOL_REDIS_URL": args.redis_url,
        "PROVERPOOL_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "PROVERPOOL_RATE_LIMIT_KEY_REQUESTS": str(10**9),
        "PROVERPOOL_RATE_LIMIT_IP_REQUESTS": str(10**9),
        "PROVERPOOL_NODE_PRESENCE_TTL_SECONDS": "30",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "pool_api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        _wait_ready(base_url, server)
        nodes = _onboard(base_url, database_url, args.contributors)
        plan_path = work / "plan.json"
        plan_path.write_text(json.dumps({"nodes": nodes, "jobs": job_ids}))
        results = []
        for scenario in args.scenarios.split(","):
            results.append(_run_locust(scenario, base_url, plan_path, args, work))
        return results
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    raise SystemExit(main())

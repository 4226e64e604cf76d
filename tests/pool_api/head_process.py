"""``proverpool head`` as a real process for a test, and what its processes listen on.

Every process the head starts (uvicorn's, the Ray head's GCS, raylet, agents, workers)
carries a marker in its environment (not a ``PROVERPOOL_*`` name, so Ray's processes keep
it), which is how :func:`marked_pids` finds them all, and how the fixture kills whatever is
left at the end.  :func:`listening_sockets` maps their sockets (``/proc/<pid>/fd``) to the
kernel's tables of listening TCP sockets (``/proc/net/tcp``, ``tcp6``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

MARK = "PP_TEST_HEAD_MARK"


def free_port() -> int:
    """A free port outside Ray's worker ports (10002–19999), never Redis's 6379."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not 10_000 <= port < 20_000 and port != 6379:
            return port


def proverpool() -> list[str]:
    script = Path(sys.executable).with_name("proverpool")
    if script.exists():
        return [str(script)]
    found = shutil.which("proverpool")
    return [found] if found else [sys.executable, "-m", "pool_api.cli.app"]


def marked_pids(mark: str) -> list[int]:
    """Processes whose environment carries ``MARK=mark``."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "?"


def _listening_by_inode() -> dict[str, tuple[str, int]]:
    """Socket inode → ``(local address, port)`` of every listening TCP socket."""
    found = {}
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] != "0A":  # TCP_LISTEN
                    continue
                raw_ip, raw_port = parts[1].split(":")
                words = bytes.fromhex(raw_ip)
                # The kernel prints each 32-bit word in host (little-endian) order.
                packed = b"".join(words[i : i + 4][::-1] for i in range(0, width, 4))
                found[parts[9]] = (str(ipaddress.ip_address(packed)), int(raw_port, 16))
    return found


def is_loopback_address(address: str) -> bool:
    """Loopback, IPv4-mapped IPv6 loopback (``::ffff:127.0.0.1``) included."""
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def listening_sockets(pids: list[int]) -> list[tuple[int, str, int]]:
    """``(pid, local address, port)`` of every TCP socket those processes listen on."""
    listening = _listening_by_inode()
    found = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inode = target[len("socket:[") : -1]
                        if inode in listening:
                            found.append((pid, *listening[inode]))
    return found


@dataclass
class Head:
    process: subprocess.Popen
    log: Path
    data_dir: Path
    url: str
    ray_port: int
    mark: str
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=30)

    @property
    def operator(self) -> dict[str, str]:
        token = (self.data_dir / "operator_token").read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    def wait_healthy(self, timeout_seconds: float = 180) -> dict:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                answer = self.client.get("/healthz")
                if answer.status_code == 200:
                    return answer.json()
            time.sleep(0.5)
        raise AssertionError(f"the head never got healthy:\n{self.log.read_text()[-3000:]}")

    def run_job(self, body: dict, timeout_seconds: float = 120) -> dict:
        created = self.client.post("/v1/jobs", json=body, headers=self.operator)
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            job = self.client.get(f"/v1/jobs/{job_id}", headers=self.operator).json()
            if job["status"] in ("done", "failed", "cancelled"):
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish:\n{self.log.read_text()[-3000:]}")

    def pids(self) -> list[int]:
        return marked_pids(self.mark)


@pytest.fixture
def start_head(tmp_path) -> Iterator:
    """``start_head(*args)``: ``proverpool head`` with fresh data dir and ports (``args``
    added), healthy; every process it left is killed at the end."""
    heads: list[Head] = []

    def start(*args: str) -> Head:
        mark = uuid.uuid4().hex
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVERPOOL_", "RAY_"))}
        env.update({MARK: mark, "HOME": str(tmp_path), "COLUMNS": "120"})
        api_port, ray_port = free_port(), free_port()
        data_dir = tmp_path / f"head-{len(heads)}"
        log = tmp_path / f"head-{len(heads)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*proverpool(), "head", "--port", str(api_port), "--ray-port", str(ray_port),
                 "--data-dir", str(data_dir), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        head = Head(process, log, data_dir, f"http://127.0.0.1:{api_port}", ray_port, mark)
        heads.append(head)
        head.wait_healthy()
        return head

    yield start
    for head in heads:
        head.client.close()
        if head.process.poll() is None:
            head.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                head.process.wait(60)
        for pid in marked_pids(head.mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

"""The README's first command: ``proverpool demo`` runs end to end (MSM, NTT and a verified
Groth16 proof through the pool), and ``--keep`` then serves the pool and its dashboard
until Ctrl-C, which stops everything cleanly with the demo's exit code.

One run of ``demo --keep`` covers both (a demo costs ~15 s of CI): everything the plain
demo prints is checked before the dashboard is visited and Ctrl-C sent.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.timeout(400)


def _proverpool() -> list[str]:
    script = Path(sys.executable).with_name("proverpool")
    if script.exists():
        return [str(script)]
    found = shutil.which("proverpool")
    return [found] if found else [sys.executable, "-m", "pool_api.cli.app"]


def _lines_of(process: subprocess.Popen) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _read_until(lines: queue.Queue, pattern: str, seen: list[str], timeout_seconds: float) -> str:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r}:\n" + "".join(seen)[-4000:])


def test_demo_proves_and_keep_serves_the_dashboard_until_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVERPOOL_")}
    env["HOME"] = str(tmp_path)  # nothing of the user's data dir is touched
    env["COLUMNS"] = "120"
    process = subprocess.Popen(
        [*_proverpool(), "demo", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    seen: list[str] = []
    try:
        lines = _lines_of(process)
        url = _read_until(lines, r"^dashboard: http://", seen, 360).split()[-1]
        _read_until(lines, "press Ctrl-C to stop", seen, 30)
        output = "".join(seen)
        assert "MSM result equals the single-process kernel: yes" in output
        assert "NTT result equals the single-process kernel: yes" in output
        assert re.search(r"Groth16 proof verifies \(pairing check; .*9, 99996\): yes", output)
        assert "every reward split exactly (fee + shares = reward): yes" in output
        assert "demo passed" in output
        assert "alice" in output and "bob" in output

        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        nodes = httpx.get(url + "v1/nodes", timeout=10).json()
        assert sorted(n["status"] for n in nodes) == ["online", "online"]
        jobs = httpx.get(url + "v1/jobs", timeout=10).json()
        assert sorted(j["kind"] for j in jobs["items"]) == ["groth16", "msm", "ntt"]

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole group
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    rest = []
    while (line := lines.get(timeout=5)) is not None:
        rest.append(line)
    everything = "".join(seen + rest)
    assert code == 0, everything[-4000:]
    assert "stopping the pool" in "".join(rest), everything[-4000:]
    assert "Traceback" not in everything, everything[-4000:]
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)

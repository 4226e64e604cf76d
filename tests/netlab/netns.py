"""Namespace housekeeping for the network lab (:mod:`lab`): list, delete, remove stale
ones, and whether namespaces, veth and ``tc tbf`` work here at all."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

NAME_PREFIX = "pp-"
QUEUE_LATENCY = "100ms"
_STALE = re.compile(rf"^{NAME_PREFIX}(\d+)x\d+-")
counter = itertools.count()
"""Numbers the labs (and probes) of this process: ``pp-<pid>x<n>-…``."""


def run_ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def namespaces() -> list[str]:
    """Names of the network namespaces of this machine (``ip netns list``)."""
    out = run_ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def delete_namespace(netns: str) -> None:
    """Kill every process in ``netns``, then delete it."""
    for _ in range(50):
        pids = [int(p) for p in run_ip("netns", "pids", netns, check=False).stdout.split()]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    run_ip("netns", "del", netns, check=False)


def remove_stale() -> list[str]:
    """Delete the lab namespaces (and the ``/tmp/pp-<pid>x<n>-…`` home directories) whose
    creating process no longer runs; the namespaces' names."""
    stale = []
    for netns in namespaces():
        found = _STALE.match(netns)
        if found and not _pid_alive(int(found.group(1))):
            delete_namespace(netns)
            stale.append(netns)
    for home in Path("/tmp").glob(f"{NAME_PREFIX}*x*-*"):
        found = _STALE.match(home.name)
        if found and home.is_dir() and not _pid_alive(int(found.group(1))):
            shutil.rmtree(home, ignore_errors=True)
    return stale


def unavailable() -> str | None:
    """Why no lab can be built here (a reason for ``pytest.skip``), or ``None``."""
    if sys.platform != "linux":
        return "the network lab needs Linux network namespaces"
    if os.geteuid() != 0:
        return "the network lab needs root (ip netns, tc): run the tests as root"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"the network lab needs `{tool}` (iproute2)"
    probe = f"{NAME_PREFIX}{os.getpid()}x{next(counter)}-probe"
    try:
        run_ip("netns", "add", probe)
        run_ip("-n", probe, "link", "add", "name", "a0", "type", "veth", "peer", "name", "b0")
        rate = ["rate", "10mbit", "burst", "32kb", "latency", QUEUE_LATENCY]
        subprocess.run(
            ["tc", "-n", probe, "qdisc", "add", "dev", "a0", "root", "tbf", *rate],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return f"network namespaces, veth or tc tbf unavailable here: {detail.strip()}"
    finally:
        run_ip("netns", "del", probe, check=False)
    return None

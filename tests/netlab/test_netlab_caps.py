"""Issue 15 item 1: the lab itself — each link's cap measured across it, nothing left in
the machine's root namespace, teardown even when the test process is killed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from lab import Lab, namespaces

pytestmark = pytest.mark.timeout(120)
PROFILES_MBIT = (1000, 100, 20)  # LAN, home fibre, DSL
TOLERANCE = 0.15


def _root_state() -> dict[str, str]:
    """What the lab must not change in the root namespace: links, addresses, routes,
    forwarding."""
    run = lambda *a: subprocess.run(a, capture_output=True, text=True, check=False).stdout  # noqa: E731
    return {
        "links": run("ip", "-o", "link", "show"),
        "addresses": run("ip", "-o", "addr", "show"),
        "routes": run("ip", "route", "show", "table", "all"),
        "forwarding": Path("/proc/sys/net/ipv4/ip_forward").read_text(),
    }


def _measure(lab: Lab, sender: str, receiver: str, seconds: float, mbit: float) -> float:
    """The link's throughput; measured again (up to 3 times, the best kept) when below the
    cap: on a loaded 2-core machine the Python sender may not keep a 1 Gbit/s link full,
    but no load makes a link faster than its cap."""
    best = 0.0
    for _ in range(3):
        best = max(best, lab.measure_mbit(sender, receiver, seconds))
        if best >= (1 - TOLERANCE) * mbit:
            break
    return best


def test_each_profile_is_the_link_speed_in_both_directions():
    before = _root_state()
    with Lab(profile_mbit={"head": None, "alice": 100}) as lab:
        for mbit in PROFILES_MBIT:
            lab.set_rate("alice", mbit)
            seconds = 1.0 if mbit >= 100 else 1.5
            upload = _measure(lab, "alice", "head", seconds, mbit)
            download = _measure(lab, "head", "alice", seconds, mbit)
            for direction, measured in (("upload", upload), ("download", download)):
                assert abs(measured - mbit) <= TOLERANCE * mbit, (mbit, direction, measured)
        mine = [n for n in namespaces() if n.startswith(lab.prefix)]
        assert len(mine) == 3, mine  # the bridge's and one per host
        assert _root_state() == before  # nothing of the lab in the root namespace
    assert [n for n in namespaces() if n.startswith(lab.prefix)] == []
    assert _root_state() == before


def test_teardown_when_the_test_process_is_killed_and_stale_labs_go(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from lab import Lab
        lab = Lab(profile_mbit={{"a": 20, "b": None}}).__enter__()
        lab.popen("a", ["sleep", "600"])
        while not lab.pids("a"):
            time.sleep(0.05)
        print(lab.prefix, flush=True)
        time.sleep(600)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    prefix = child.stdout.readline().strip()
    assert len([n for n in namespaces() if n.startswith(prefix + "-")]) == 3
    child.terminate()  # SIGTERM: its handler tears the lab down
    child.wait(30)
    assert [n for n in namespaces() if n.startswith(prefix + "-")] == []

    # SIGKILL leaves the namespaces behind: the next lab removes them (their pid is dead).
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    prefix = child.stdout.readline().strip()
    child.kill()
    child.wait(30)
    left = [n for n in namespaces() if n.startswith(prefix + "-")]
    assert len(left) == 3
    sleeper = subprocess.run(
        ["ip", "netns", "pids", f"{prefix}-a"], capture_output=True, text=True
    ).stdout.split()
    assert sleeper, "the sleeping process should still run in the stale namespace"
    with Lab(profile_mbit={"solo": None}):
        assert [n for n in namespaces() if n.startswith(prefix + "-")] == []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists(f"/proc/{sleeper[0]}"):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{sleeper[0]}"), "the stale lab's process still runs"

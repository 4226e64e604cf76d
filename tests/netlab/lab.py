"""A network lab: one Linux network namespace per host, joined by a bridge (issue 15 item 1).

::

    with Lab(profile_mbit={"head": None, "alice": 100, "bob": 20}) as lab:
        lab.address("alice")                      # "10.231.0.2"
        lab.run("alice", ["ip", "addr"])          # a CompletedProcess
        proc = lab.popen("head", [python, "-m", "http.server", "--bind", lab.address("head")])
        lab.set_rate("bob", 1000)                 # both directions of bob's link
        lab.measure_mbit("alice", "head")         # bytes per second across the link, in Mbit/s

Layout: the bridge ``br0`` lives in a namespace of its own (``pp-<pid>x<n>-br``); each
host has its own namespace (``pp-<pid>x<n>-<host>``) with ``lo`` up and ``eth0``, one end
of a veth pair whose other end (``h<i>``) is a port of the bridge.  Each pair is created
from inside the host's namespace straight into the bridge's (``ip -n HOST link add …
peer … netns BRIDGE``), so nothing ever appears in the machine's root namespace: no
interface, route or sysctl there is touched.  Hosts get ``10.231.0.<i>/24`` in the order
given (the subnet exists only inside the lab: two labs never see each other).  A host
with a profile is capped by ``tc`` ``tbf`` on both ends of its veth (egress of ``eth0``:
its upload; egress of ``h<i>``: its download); ``None`` leaves the link uncapped.

Processes run as ``ip netns exec NS argv`` in a new session, each host with its own
``HOME`` under the lab's temp dir and an environment without ``PROVERPOOL_*``/``RAY_*``.
Teardown (``__exit__``, or atexit / SIGTERM / SIGHUP if the test process dies before)
kills every process in the lab's namespaces (``ip netns pids``) and deletes them; a new
lab first deletes the ``pp-<pid>…`` namespaces left by a process that no longer runs.
:func:`unavailable` says why a lab cannot be built here (not root, no ``ip``/``tc``, no
namespaces), for a skip.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from netns import (
    NAME_PREFIX,
    QUEUE_LATENCY,
    counter,
    delete_namespace,
    namespaces,
    remove_stale,
    run_ip,
    unavailable,
)

__all__ = ["Host", "Lab", "namespaces", "remove_stale", "tbf_args", "unavailable"]

SUBNET = "10.231.0"
PREFIX_LEN = 24
THROUGHPUT = Path(__file__).with_name("throughput.py")
BURST_SECONDS = 0.004
"""Token bucket depth of a capped link, in seconds of its rate (at least MIN_BURST_BYTES)."""
MIN_BURST_BYTES = 32 * 1024
_live: list[Lab] = []
_hooks_installed = False


@dataclass(frozen=True)
class Host:
    name: str
    netns: str
    address: str
    home: Path
    index: int


def _teardown_all() -> None:
    for lab in list(_live):
        lab.close()


def _on_signal(signum: int, frame: object) -> None:
    _teardown_all()
    previous = _previous_handlers.get(signum)
    if callable(previous):
        previous(signum, frame)
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


_previous_handlers: dict[int, object] = {}


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    atexit.register(_teardown_all)
    with contextlib.suppress(ValueError):  # not the main thread: atexit only
        for signum in (signal.SIGTERM, signal.SIGHUP):
            _previous_handlers[signum] = signal.getsignal(signum)
            signal.signal(signum, _on_signal)
    _hooks_installed = True


def tbf_args(mbit: float) -> list[str]:
    """``tc`` arguments of a token bucket at ``mbit`` Mbit/s."""
    rate_bytes = mbit * 125_000
    burst = max(int(rate_bytes * BURST_SECONDS), MIN_BURST_BYTES)
    return ["tbf", "rate", f"{mbit:g}mbit", "burst", str(burst), "latency", QUEUE_LATENCY]


class Lab:
    """Hosts in network namespaces behind one bridge; ``profile_mbit``: host → link cap in
    Mbit/s (``None``: uncapped), hosts numbered in that order."""

    def __init__(self, profile_mbit: Mapping[str, float | None]) -> None:
        if not profile_mbit or len(profile_mbit) > 250:
            raise ValueError("a lab has 1 to 250 hosts")
        for name in profile_mbit:
            if not re.fullmatch(r"[a-z][a-z0-9]{0,11}", name):
                raise ValueError(f"host name {name!r}: 1-12 lowercase letters and digits")
        self.profile_mbit = dict(profile_mbit)
        self.prefix = f"{NAME_PREFIX}{os.getpid()}x{next(counter)}"
        self.bridge = f"{self.prefix}-br"
        self.hosts: dict[str, Host] = {}
        self.processes: list[subprocess.Popen] = []
        self.root: Path | None = None
        self._temp_dirs: set[Path] = set()
        self._open = False

    # -- building and tearing down -------------------------------------------------------
    def __enter__(self) -> Lab:
        remove_stale()
        _install_hooks()
        _live.append(self)
        self._open = True
        self.root = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-", dir="/tmp"))
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        assert self.root is not None
        run_ip("netns", "add", self.bridge)
        run_ip("-n", self.bridge, "link", "set", "lo", "up")
        run_ip("-n", self.bridge, "link", "add", "name", "br0", "type", "bridge")
        run_ip("-n", self.bridge, "link", "set", "br0", "up")
        for index, name in enumerate(self.profile_mbit, start=1):
            host = Host(
                name=name,
                netns=f"{self.prefix}-{name}",
                address=f"{SUBNET}.{index}",
                home=self.root / name,
                index=index,
            )
            host.home.mkdir(mode=0o700)
            self.hosts[name] = host
            ns, port = host.netns, f"h{index}"
            run_ip("netns", "add", ns)
            run_ip("-n", ns, "link", "set", "lo", "up")
            run_ip(
                "-n", ns, "link", "add", "name", "eth0", "type", "veth",
                "peer", "name", port, "netns", self.bridge,
            )  # fmt: skip
            run_ip("-n", ns, "addr", "add", f"{host.address}/{PREFIX_LEN}", "dev", "eth0")
            run_ip("-n", ns, "link", "set", "eth0", "up")
            run_ip("-n", self.bridge, "link", "set", port, "master", "br0")
            run_ip("-n", self.bridge, "link", "set", port, "up")
            self.set_rate(name, self.profile_mbit[name])

    def close(self) -> None:
        """Kill every process of the lab and delete its namespaces (idempotent)."""
        if not self._open:
            return
        self._open = False
        for host in self.hosts.values():  # Ray's temp dirs: SIGKILLed nodes leave them
            self._note_temp_dirs(self.pids(host.name))
        for proc in self.processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for netns in [h.netns for h in self.hosts.values()] + [self.bridge]:
            if netns in namespaces():
                delete_namespace(netns)
        for proc in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        for path in [self.root, *self._temp_dirs]:
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(ValueError):
            _live.remove(self)

    def _note_temp_dirs(self, pids: list[int]) -> None:
        """Remember the ``--temp-dir`` (``/tmp/pp-…``) of each process in ``pids``."""
        for pid in pids:
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            except (OSError, UnicodeDecodeError):
                continue
            for flag, value in itertools.pairwise(argv):
                path = Path(value)
                if flag == "--temp-dir" and path.parent == Path("/tmp") and path.name[:3] == "pp-":
                    self._temp_dirs.add(path)

    # -- hosts ---------------------------------------------------------------------------
    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise KeyError(f"no host {name!r} in this lab ({', '.join(self.hosts)})") from None

    def address(self, name: str) -> str:
        return self.host(name).address

    def set_rate(self, name: str, mbit: float | None) -> None:
        """Cap both directions of ``name``'s link at ``mbit`` Mbit/s (``None``: uncapped)."""
        host = self.host(name)
        for ns, dev in ((host.netns, "eth0"), (self.bridge, f"h{host.index}")):
            if mbit is None:
                subprocess.run(
                    ["tc", "-n", ns, "qdisc", "del", "dev", dev, "root"],
                    capture_output=True,
                    check=False,
                )
                continue
            subprocess.run(
                ["tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", *tbf_args(mbit)],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
        self.profile_mbit[name] = mbit

    def add_address(self, name: str, cidr: str, device: str = "nic1") -> None:
        """Give ``name`` a further address on a second interface of its own that leads
        nowhere (a veth pair inside its namespace; this kernel may lack ``dummy``): a
        second network card, or an address nobody else can route to."""
        ns = self.host(name).netns
        if f" {device}@" not in run_ip("-n", ns, "-o", "link", "show").stdout:
            peer = f"{device}p"
            run_ip("-n", ns, "link", "add", "name", device, "type", "veth", "peer", "name", peer)
            run_ip("-n", ns, "link", "set", peer, "up")
            run_ip("-n", ns, "link", "set", device, "up")
        run_ip("-n", ns, "addr", "add", cidr, "dev", device)

    # -- processes -----------------------------------------------------------------------
    def environment(self, name: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a process on ``name``: no ``PROVERPOOL_*``/``RAY_*`` of the
        caller's, ``HOME`` the host's own, plus ``env``."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PROVERPOOL_", "RAY_"))}
        base.update(HOME=str(self.host(name).home), PP_NETLAB_HOST=name)
        base.update(env or {})
        return base

    def command(self, name: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.host(name).netns, *map(str, argv)]

    def popen(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        **kwargs: object,
    ) -> subprocess.Popen:
        """Start ``argv`` on host ``name`` in a new session (output to ``log`` if given)."""
        out = log.open("ab") if log is not None else kwargs.pop("stdout", subprocess.DEVNULL)
        try:
            proc = subprocess.Popen(
                self.command(name, argv),
                env=self.environment(name, env),
                cwd=kwargs.pop("cwd", self.host(name).home),
                stdin=subprocess.DEVNULL,
                stdout=out,  # type: ignore[arg-type]
                stderr=kwargs.pop("stderr", subprocess.STDOUT),  # type: ignore[arg-type]
                start_new_session=True,
                **kwargs,  # type: ignore[arg-type]
            )
        finally:
            if log is not None:
                out.close()  # type: ignore[union-attr]
        self.processes.append(proc)
        return proc

    def run(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess:
        """Run ``argv`` on host ``name`` to completion (text output captured)."""
        return subprocess.run(
            self.command(name, argv),
            env=self.environment(name, env),
            cwd=self.host(name).home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def pids(self, name: str) -> list[int]:
        """Every process in ``name``'s namespace."""
        out = run_ip("netns", "pids", self.host(name).netns, check=False).stdout
        return [int(p) for p in out.split()]

    def kill_host(self, name: str) -> list[int]:
        """SIGKILL every process in ``name``'s namespace (the machine loses power); the
        pids killed."""
        killed = []
        self._note_temp_dirs(self.pids(name))
        for _ in range(50):
            pids = self.pids(name)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.05)
        return killed

    def listening(self, name: str) -> list[tuple[str, int, str]]:
        """``(local address, port, process)`` of every listening TCP socket on ``name``."""
        out = self.run(name, ["ss", "-Hltnp"]).stdout
        found = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 4:
                continue
            local = parts[3]
            address, _, port = local.rpartition(":")
            process = re.search(r'\("([^"]+)"', line)
            found.append(
                (address.strip("[]").split("%")[0], int(port), process.group(1) if process else "?")
            )
        return found

    def measure_mbit(self, sender: str, receiver: str, seconds: float = 1.5) -> float:
        """Throughput of one TCP stream from ``sender`` to ``receiver``, in Mbit/s (bytes
        received per second after a short warm-up, measured by the receiver)."""
        python = sys.executable
        listen = self.popen(
            receiver,
            [python, THROUGHPUT, "receive", self.address(receiver)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert listen.stdout is not None
            port = int(listen.stdout.readline())
            sent = self.run(
                sender,
                [python, THROUGHPUT, "send", self.address(receiver), port, seconds],
                timeout=seconds + 30,
            )
            if sent.returncode != 0:
                raise RuntimeError(f"throughput sender failed: {sent.stderr.strip()}")
            out, err = listen.communicate(timeout=30)
        finally:
            if listen.poll() is None:
                listen.kill()
                listen.wait(5)
        if listen.returncode != 0:
            raise RuntimeError(f"throughput receiver failed: {err.decode().strip()}")
        return float(json.loads(out)["mbit"])

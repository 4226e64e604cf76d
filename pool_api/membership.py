"""What ``proverpool head`` / ``join`` / ``leave`` do beyond the CLI (issue 7; architecture §1, §8).

* Ray runs as ``ray start --block`` subprocesses in their own process group and
  temp dir (:class:`RayProcess`): SIGTERM makes Ray drain the node (Ray ≥ 2.x hands
  its in-flight tasks back) and stop its raylet, GCS and helpers; whatever is left
  after the grace period is killed with its process group, so no Ray process of
  ours outlives the command — and ``ray stop`` (which stops every Ray on the host)
  is never used.
* Ray's token authentication (``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN``) guards
  the GCS; the Ray processes get an environment without the pool's secrets
  (:func:`ray_environment`).
* A joining node is started with a registration resource naming the SHA-256 of a
  fresh secret (:func:`registration_resource`); it is found in the GCS by it
  (:func:`find_ray_node`), and the pool registers the node only to whoever shows the
  secret (``POST /v1/nodes``); :func:`ray_nodes` is the pool's view of which nodes are
  alive and what they advertise.  The node is calibrated locally with the same small MSM and
  NTT as the pool's calibration task (:mod:`workers.cluster.calibration`), in work units per second.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from pool_api.errors import JoinError
from pool_api.private_files import ensure_private_dir

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
REGISTRATION_RESOURCE_PREFIX = "proverpool_node_"
"""A node's registration resource: this prefix and the SHA-256 (hex) of its secret."""
ALIVE_CACHE_SECONDS = 2.0
"""How long :func:`alive_ray_nodes` reuses one answer of the GCS."""
RAY_VISIBLE_SETTINGS = frozenset(
    {
        "PROVERPOOL_KERNEL_THREADS",  # workers.fields.mont4: threads of a kernel call
        "PROVERPOOL_KERNEL_CACHE",  # workers.gpu.host_build: where the CUDA build is cached
        "PROVERPOOL_TEST_CORRUPT_FRACTION",  # test hooks, honoured only in test mode
        "PROVERPOOL_TEST_SLOWDOWN_FACTOR",
        "PROVERPOOL_TEST_REPLY_FORM",
    }
)
"""The only ``PROVERPOOL_*`` variables Ray's processes see: what the workers read."""
STATE_FILE = "join.json"


def pool_version() -> str:
    """The installed ``proverpool`` version (``join`` and the pool must match)."""
    try:
        return metadata.version("proverpool")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "0+unknown"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def advertised_ray_address(ray_address: str, request_host: str | None) -> str:
    """``ray_address`` as a joining machine reaches it: a loopback host (the head runs Ray
    next to the API) becomes the host name the caller used to reach the API."""
    host, sep, port = ray_address.rpartition(":")
    if not sep or not is_loopback(host.strip("[]")) or not request_host:
        return ray_address
    return f"{request_host}:{port}"


def local_ray_auth_token() -> str | None:
    """The Ray token of this process (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or
    ``~/.ray/auth_token``) when ``RAY_AUTH_MODE=token``, else ``None``."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        return None
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def use_ray_token(token: str | None) -> None:
    """Make this process (its Ray driver or GCS client) use ``token``, or no auth."""
    if token:
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = token
    else:
        os.environ.pop("RAY_AUTH_MODE", None)
        os.environ.pop("RAY_AUTH_TOKEN", None)
    if "ray" in sys.modules:  # refresh Ray's cached config and token
        from workers.cluster.runtime import refresh_auth_token

        refresh_auth_token()


def ray_environment(token: str | None) -> dict[str, str]:
    """This process's environment for a Ray subprocess: no ``PROVERPOOL_*`` variable but
    those the workers read (:data:`RAY_VISIBLE_SETTINGS`; so no database or Redis URL, no
    token, key, invite or payout address), Ray's token if any."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("PROVERPOOL_") and k not in RAY_VISIBLE_SETTINGS)
        and not k.startswith("RAY_AUTH")
    }
    if token:
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    return env


def free_port() -> int:
    """A TCP port free right now (for Ray's side ports: two nodes may share a host)."""
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def ray_executable() -> str:
    """The ``ray`` script next to this Python (the venv's), else the one on PATH."""
    local = Path(sys.executable).with_name("ray")
    found = str(local) if local.exists() else shutil.which("ray")
    if found is None:
        raise JoinError("the `ray` command is missing: reinstall proverpool")
    return found


class RayProcess:
    """One ``ray start --block`` in its own process group and temp dir."""

    def __init__(
        self,
        args: list[str],
        token: str | None,
        prefix: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """``extra_env``: more variables for Ray's processes (e.g. the bind shim's,
        :func:`pool_api.ray_bind.bind_environment`)."""
        # Short path under /tmp: Ray's Unix sockets live in the temp dir (108-byte limit).
        self.temp_dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.log_path = self.temp_dir / "ray-start.log"
        command = [
            ray_executable(),
            "start",
            "--block",
            "--disable-usage-stats",
            "--temp-dir",
            str(self.temp_dir),
            "--dashboard-agent-listen-port",
            str(free_port()),
            *args,
        ]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            env={**ray_environment(token), **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_started(self, timeout_seconds: float) -> None:
        """Until ``ray start`` reports the node up; :class:`JoinError` if it exits or stalls."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if b"Ray runtime started" in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        tail = self.log_path.read_bytes()[-1500:].decode(errors="replace").strip()
        self.stop()  # removes the temp dir and its log: the error line goes in the message
        lines = [line for line in tail.splitlines() if "Error" in line] or tail.splitlines()
        last = lines[-1] if lines else "no output"
        raise JoinError(f"`ray start` failed: {last.strip()}")

    def stop(self, grace_seconds: float = 30.0) -> None:
        """SIGTERM (Ray drains the node), then SIGKILL whatever is left of the group."""
        pgid = self.process.pid
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace_seconds)
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(5)
        self._log.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


def find_ray_node(address: str, resource: str, timeout_seconds: float) -> str:
    """The hex id of the alive Ray node holding custom ``resource`` (needs the token set
    with :func:`use_ray_token` before)."""
    from workers.cluster.runtime import find_node_with_resource

    node_id = find_node_with_resource(address, resource, timeout_seconds)
    if node_id is not None:
        return node_id
    raise JoinError(f"the Ray node did not show up in the cluster at {address}")


def new_registration_secret() -> str:
    """A fresh node registration secret: 32 random bytes, hex (kept in the join state
    file, sent only in the body of ``POST /v1/nodes``, never on a command line)."""
    return secrets.token_hex(32)


def registration_digest(secret: str) -> str:
    """SHA-256 (hex) of a registration secret: what the pool stores and Ray advertises."""
    return hashlib.sha256(secret.encode()).hexdigest()


def registration_resource(secret: str) -> str:
    """The custom Ray resource a node started with ``secret`` advertises
    (``proverpool_node_<sha256>``): the head accepts the node's registration only from
    whoever shows the secret whose hash the node advertises (docs/architecture.md §6)."""
    return REGISTRATION_RESOURCE_PREFIX + registration_digest(secret)


_alive_cache: dict[str | None, tuple[float, dict[str, frozenset[str]] | None]] = {}


def ray_nodes(ray_address: str | None, fresh: bool = False) -> dict[str, frozenset[str]] | None:
    """Alive Ray nodes of the pool's cluster → their resource names (``None``: Ray does
    not answer), reused for :data:`ALIVE_CACHE_SECONDS` unless ``fresh``
    (:func:`workers.cluster.runtime.alive_node_resources`)."""
    from workers.cluster.runtime import alive_node_resources

    now = time.monotonic()
    cached = _alive_cache.get(ray_address)
    if not fresh and cached is not None and now - cached[0] < ALIVE_CACHE_SECONDS:
        return cached[1]
    nodes = alive_node_resources(ray_address)
    _alive_cache[ray_address] = (time.monotonic(), nodes)
    return nodes


def alive_ray_nodes(ray_address: str | None) -> frozenset[str]:
    """Ids of the Ray nodes alive now (none when Ray does not answer): a registered node
    counts as online only while it is alive in Ray and heartbeats."""
    return frozenset(ray_nodes(ray_address) or {})


def detect_gpu() -> tuple[str | None, int | None]:
    """``(model, memory bytes)`` of the first CUDA GPU CuPy sees, or ``(None, None)``."""
    from workers.gpu.cupy_backend import gpu_available

    if not gpu_available():
        return None, None
    smi = shutil.which("nvidia-smi")
    if smi:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if out:
            name, _, mib = out.splitlines()[0].rpartition(",")
            if mib.strip().isdigit():
                return name.strip(), int(mib) << 20
    return "CUDA GPU", None


def calibrate(step: Callable[[str], None] | None = None, gpu: bool = True) -> dict[str, float]:
    """Work units per second of this machine, without Ray: the same MSM and NTT as the
    pool's calibration task (:mod:`workers.cluster.calibration`), on one thread and — with
    ``gpu`` (the node offers its GPU) and a device CuPy sees — on the GPU as well
    (``msm_gpu``, ``ntt_gpu``)."""
    from workers.cluster.calibration import measure_speeds
    from workers.gpu.cupy_backend import gpu_available

    return measure_speeds("bn254_g1", "bn254_fr", step, use_gpu=gpu and gpu_available())


def load_state(data_dir: Path) -> dict:
    """What ``join`` saved (pool URL, contributor id and API key, node id, pid), or ``{}``."""
    path = data_dir / STATE_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise JoinError(f"cannot read {path}: {exc}") from exc


def save_state(data_dir: Path, state: dict) -> None:
    """Write the join state, readable by its owner only (0600: it holds the API key)."""
    ensure_private_dir(data_dir)  # 0700 whatever the umask (issue 14 item 12)
    path = data_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover temp file keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle, indent=2)
    os.replace(tmp, path)

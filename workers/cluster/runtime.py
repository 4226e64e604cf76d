"""The pool's one door to Ray outside the chunk tasks: connect, look at nodes, calibrate them,
read tokens, find a joining node, start a local cluster.

``pool_api`` never imports Ray (``docs/architecture.md`` §2); everything it needs of the
cluster goes through this module, :mod:`~workers.cluster.dispatch` (running a planned job)
and :mod:`~workers.cluster.tasks` (the remote functions).

* :func:`ensure_ray` / :func:`shutdown_ray`: this process's Ray driver (a private local
  Ray, or the configured cluster within a bounded time); :func:`ray_health`,
  :func:`gcs_problem`: whether Ray answers, for ``/healthz`` and the runner.
* :func:`alive_cpu_nodes`, :func:`node_gpus`: what the cluster offers right now;
  :func:`alive_node_resources`: which nodes are alive and what they advertise (node
  registration checks a node's registration resource with it, docs/architecture.md §6).
* :func:`calibrate_nodes`: the calibration task (:func:`workers.cluster.tasks.calibrate`)
  pinned to each given node, with a deadline.
* :func:`refresh_auth_token`, :func:`find_node_with_resource`: Ray's token authentication
  and the GCS lookup ``proverpool join`` uses to find the node it started.
* :func:`node_endpoints`, :func:`round_trip`: a node's ports (GCS), a task pinned to it:
  whether the pool reaches it (``pool_api.reachability``, issue 15 item 3).
* :class:`LocalCluster`: a head and worker nodes in this machine's processes (demo, tests).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from workers.cluster import tasks
from workers.cluster.tasks import node_gpus
from workers.errors import RayUnavailableError

__all__ = [
    "LocalCluster",
    "alive_cpu_nodes",
    "alive_node_resources",
    "calibrate_nodes",
    "connected",
    "ensure_ray",
    "find_node_with_resource",
    "gcs_problem",
    "node_endpoints",
    "node_gpus",
    "ray_health",
    "refresh_auth_token",
    "round_trip",
    "shutdown_ray",
    "use_loopback_only",
]
log = logging.getLogger(__name__)
CALIBRATION_TIMEOUT_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 15.0
"""Default bound on connecting to a Ray cluster (``PROVERPOOL_RAY_CONNECT_TIMEOUT_SECONDS``)."""
HEALTH_TIMEOUT_SECONDS = 2.0
HEALTH_CACHE_SECONDS = 2.0
LOOPBACK = "127.0.0.1"
LOOPBACK_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
NODE_LOOKUP_TIMEOUT_SECONDS = 5.0
_connect_lock = threading.Lock()
DRIVER_BIND_ENV, SHIM_BIND_ENV = "PP_RAY_DRIVER_BIND", "PP_RAY_BIND_ADDRESS"  # ray_bind's


def ensure_ray(
    address: str | None = None, timeout_seconds: float = CONNECT_TIMEOUT_SECONDS
) -> None:
    """This process's Ray driver, connected once per process.

    * No ``address``: a private local Ray of this process alone (``address="local"``),
      never a cluster another program runs on this host (whatever ``RAY_ADDRESS`` or
      ``/tmp/ray`` say); it listens on loopback only, its GCS on a port the system picks
      (never Redis's 6379), without a dashboard, and it ends with the driver.
    * An ``address`` (``host:port`` of a GCS, or ``ray://`` for Ray Client): it must answer
      within ``timeout_seconds``, else :class:`~workers.errors.RayUnavailableError` saying
      which address and why; nothing waits longer than that for an unreachable cluster.
    """
    with _connect_lock:  # the runner's thread and an API request may both connect
        _ensure_ray(address, timeout_seconds)


def _ensure_ray(address: str | None, timeout_seconds: float) -> None:
    if ray.is_initialized():
        return
    options = {
        "include_dashboard": False,
        "ignore_reinit_error": True,
        "log_to_driver": False,
        "configure_logging": False,
    }
    if not address:
        use_loopback_only()
        ray.init(address="local", _node_ip_address=LOOPBACK, **options)
        return
    problem = gcs_problem(address, timeout_seconds)
    if problem is not None:
        raise RayUnavailableError(f"the Ray cluster at {address} does not answer: {problem}")
    # Under pool_api.ray_bind's shim (it reads this variable at each bind): the driver's
    # own server on the Ray address only (issue 15 item 2).
    driver_bind = os.environ.get(DRIVER_BIND_ENV)
    if driver_bind:
        os.environ[SHIM_BIND_ENV] = driver_bind
    try:
        ray.init(address=address, **options)
    except Exception as exc:
        raise RayUnavailableError(
            f"connecting to the Ray cluster at {address} failed: {exc}"
        ) from exc
    finally:
        if driver_bind:
            os.environ.pop(SHIM_BIND_ENV, None)


def connected() -> bool:
    """Whether this process's Ray driver is connected (never connects)."""
    return ray.is_initialized()


def use_loopback_only() -> None:
    """Make the Ray started from now on by this process (and its subprocesses) bind to and
    advertise loopback only.

    Ray 2.60 replaces a loopback node address (``--node-ip-address 127.0.0.1``) by the
    machine's external one, and then its GCS, raylet and agents listen on every interface;
    only with multi-host clusters off (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, what Ray
    does on macOS and Windows) does a loopback node stay on loopback.  The price: no other
    host can join, and ``ray start --address`` refuses to add a worker node.
    """
    from ray._private import ray_constants

    os.environ[LOOPBACK_ONLY_ENV] = "0"  # for `ray start` and every Ray process it starts
    ray_constants.ENABLE_RAY_CLUSTER = False  # this process's Ray read it at import


def gcs_problem(address: str, timeout_seconds: float) -> str | None:
    """``None`` if the Ray GCS at ``address`` answers within ``timeout_seconds`` (a TCP
    connection, then a node-table read with the token set in the environment; for a
    ``ray://`` address the TCP connection only), else what went wrong, in words."""
    deadline = time.monotonic() + timeout_seconds
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_seconds):
            pass
    except (OSError, ValueError) as exc:
        return f"no connection to {host}:{port} ({exc})"
    if address.startswith("ray://"):
        return None
    answer: list[object] = []

    def read_nodes() -> None:
        from ray._raylet import GcsClient

        try:
            GcsClient(address=address).get_all_node_info(
                timeout=max(0.5, deadline - time.monotonic())
            )
            answer.append(None)
        except Exception as exc:
            answer.append(f"the GCS does not answer ({type(exc).__name__}: {exc})")

    reader = threading.Thread(target=read_nodes, name="proverpool-gcs-probe", daemon=True)
    reader.start()
    reader.join(max(0.5, deadline - time.monotonic()))
    if not answer:
        return f"no answer from the GCS within {timeout_seconds:g} s"
    return answer[0]  # type: ignore[return-value]


def _driver_problem() -> str | None:
    """What is wrong with this process's Ray driver's cluster (its GCS, or the raylet it is
    attached to, e.g. killed), ``None`` if both answer."""
    node = ray._private.worker.global_worker.node
    problem = gcs_problem(node.gcs_address, HEALTH_TIMEOUT_SECONDS)
    if problem is not None:
        return problem
    try:
        with socket.create_connection(
            (node.node_ip_address, node.node_manager_port), timeout=HEALTH_TIMEOUT_SECONDS
        ):
            pass
    except OSError as exc:
        return f"the raylet of this process's node does not answer ({exc})"
    return None


_health: dict[tuple[str | None, bool], tuple[float, str]] = {}


def ray_health(address: str | None, runs_jobs: bool) -> str:
    """Ray as ``/healthz`` reports it, cached for :data:`HEALTH_CACHE_SECONDS`:

    ``"ok"``; ``"not used"`` (this process runs no jobs and names no cluster);
    ``"not started"`` (it runs jobs on a private local Ray, started with the first job);
    else ``"down: <why>"``, after at most a few seconds.  Checked: the GCS at ``address``
    and, once this process has a Ray driver, that driver's GCS and raylet.
    """
    key = (address, runs_jobs)
    cached = _health.get(key)
    if cached is not None and time.monotonic() - cached[0] < HEALTH_CACHE_SECONDS:
        return cached[1]
    problem = None
    if address and ray.is_initialized():
        problem = gcs_problem(address, HEALTH_TIMEOUT_SECONDS) or _driver_problem()
    elif address:
        problem = gcs_problem(address, HEALTH_TIMEOUT_SECONDS)
    elif ray.is_initialized():
        problem = _driver_problem()
    status = f"down: {problem}" if problem else "ok"
    if not address and not ray.is_initialized():
        status = "not started" if runs_jobs else "not used"
    _health[key] = (time.monotonic(), status)
    return status


def shutdown_ray() -> bool:
    """Disconnect this process's Ray driver; whether there was one."""
    if not ray.is_initialized():
        return False
    ray.shutdown()
    return True


def alive_cpu_nodes() -> dict[str, int]:
    """Alive Ray nodes that can run a chunk → their CPU count."""
    return {
        n["NodeID"]: int(n["Resources"].get("CPU", 0))
        for n in ray.nodes()
        if n.get("Alive") and n["Resources"].get("CPU", 0) >= 1
    }


def calibrate_nodes(
    node_ids: Sequence[str],
    curve: str,
    field: str,
    timeout_seconds: float = CALIBRATION_TIMEOUT_SECONDS,
) -> dict[str, dict[str, float]]:
    """Work units per second by kernel of each node that answered within ``timeout_seconds``.

    One :func:`workers.cluster.tasks.calibrate` task pinned to each node (with the node's
    GPU where it has one and the GPU backend covers the kernels); tasks still running at
    the deadline are cancelled, failed ones logged and left out.
    """
    refs = [
        tasks.calibrate.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=n, soft=False),
            **tasks.gpu_options(n, ("msm", curve), ("ntt", field)),
        ).remote(curve, field)
        for n in node_ids
    ]
    if not refs:
        return {}
    ready, not_ready = ray.wait(refs, num_returns=len(refs), timeout=timeout_seconds)
    for ref in not_ready:
        ray.cancel(ref)
    speeds: dict[str, dict[str, float]] = {}
    for ref in ready:
        try:
            node_id, measured = ray.get(ref)
        except ray.exceptions.RayError as exc:
            log.warning("calibration failed: %s", exc)
            continue
        speeds[node_id] = measured
    return speeds


def refresh_auth_token() -> None:
    """Make an imported Ray re-read ``RAY_AUTH_MODE`` / ``RAY_AUTH_TOKEN`` from the environment."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def find_node_with_resource(address: str, resource: str, timeout_seconds: float) -> str | None:
    """The hex id of the alive node holding custom ``resource`` in the GCS at ``address``,
    or ``None`` after ``timeout_seconds`` (the token must be set before)."""
    from ray._raylet import GcsClient

    deadline = time.monotonic() + timeout_seconds
    client = GcsClient(address=address)
    while time.monotonic() < deadline:
        for node_id, info in client.get_all_node_info(timeout=5).items():
            if resource in dict(info.resources_total) and info.state == 0:  # ALIVE
                return node_id.hex()
        time.sleep(0.3)
    return None


def alive_node_resources(
    address: str | None, timeout_seconds: float = NODE_LOOKUP_TIMEOUT_SECONDS
) -> dict[str, frozenset[str]] | None:
    """Alive Ray nodes → the names of the resources each offers, or ``None`` when Ray does
    not answer.

    ``address`` ``host:port`` is read from its GCS directly (no driver needed: an API
    process that runs no jobs has none); a ``ray://`` address through this process's
    driver (connected now if need be, :func:`ensure_ray`); ``None`` (a private local Ray)
    through the driver if it is connected, else ``None``.
    The GCS must be reachable with the token set before (``RAY_AUTH_TOKEN``).
    """
    try:
        if address and "://" not in address:
            from ray._raylet import GcsClient

            # A GcsClient waits ~40 s for an unreachable GCS: knock first, briefly.
            host, _, port = address.rpartition(":")
            socket.create_connection((host.strip("[]"), int(port)), timeout=1.0).close()
            # One client per lookup, dropped at once: a client kept alive aborts the process
            # when its GCS goes away (the head stopping, or Ray dying under the API).
            client = GcsClient(address=address)
            try:
                infos = client.get_all_node_info(timeout=timeout_seconds).items()
                return {
                    node_id.hex(): frozenset(dict(info.resources_total))
                    for node_id, info in infos
                    if info.state == 0  # ALIVE
                }
            finally:
                del client
        if not ray.is_initialized():
            if not address:
                return None
            ensure_ray(address)  # Ray Client: this process's driver, connected in bounded time
        return {
            n["NodeID"]: frozenset(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")
        }
    except Exception as exc:  # any GCS failure: Ray is not answering
        log.warning("Ray node lookup at %s failed: %s", address or "the local driver", exc)
        return None


def node_endpoints(
    address: str, node_id: str, timeout_seconds: float = NODE_LOOKUP_TIMEOUT_SECONDS
) -> tuple[str, dict[str, int]] | None:
    """The address an alive node advertises and its ports others must reach
    (``{"raylet": …, "object manager": …}``), read from the GCS at ``address`` (token set
    before); ``None`` if the node is not alive there."""
    from ray._raylet import GcsClient

    client = GcsClient(address=address)
    try:
        for found, info in client.get_all_node_info(timeout=timeout_seconds).items():
            if found.hex() == node_id and info.state == 0:  # ALIVE
                ports = ("raylet", "object manager")
                values = (info.node_manager_port, info.object_manager_port)
                return info.node_manager_address, dict(zip(ports, values, strict=True))
        return None
    finally:
        del client


def round_trip(node_id: str, timeout_seconds: float) -> str | None:
    """``None`` if a tiny task pinned to ``node_id`` (no CPU asked: a busy node answers too;
    defined here, so it travels by value) returns within ``timeout_seconds``, else why not."""

    @ray.remote(num_cpus=0, max_retries=0)
    def echo(value: int) -> int:
        return value

    strategy = NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
    ref = echo.options(scheduling_strategy=strategy).remote(7)
    ready, _ = ray.wait([ref], timeout=timeout_seconds)
    if not ready:
        ray.cancel(ref, force=True)
        return f"no task result within {timeout_seconds:g} s"
    try:
        return None if ray.get(ref) == 7 else "a wrong task result"
    except ray.exceptions.RayError as exc:
        return f"the task failed ({type(exc).__name__})"


class LocalCluster:
    """A Ray head without CPUs and ``len(cpus_per_node)`` worker nodes, in local processes
    (``ray.cluster_utils.Cluster``), with this process connected as the driver."""

    def __init__(
        self,
        cpus_per_node: Sequence[int],
        node_resources: Sequence[dict[str, float]] | None = None,
    ) -> None:
        """``node_resources[i]``: custom resources of worker node ``i`` (e.g. its
        registration resource, docs/architecture.md §6)."""
        from ray.cluster_utils import Cluster

        self._cluster = Cluster(
            initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
        )
        extra = list(node_resources or [{} for _ in cpus_per_node])
        self.node_ids = [
            self._cluster.add_node(num_cpus=c, resources=r).node_id
            for c, r in zip(cpus_per_node, extra, strict=True)
        ]
        self._cluster.wait_for_nodes()
        self.address: str = self._cluster.address
        ray.init(address=self.address, log_to_driver=False, configure_logging=False)

    def shutdown(self) -> None:
        # ray.shutdown() even when the driver already lost the cluster (a Ctrl-C that
        # reached Ray's processes first): it forgets the head node, which
        # Cluster.shutdown otherwise refuses to remove.
        ray.shutdown()
        self._cluster.shutdown()

"""The pool's one door to Ray outside the chunk tasks: connect, look at nodes, calibrate them,
read tokens, find a joining node, start a local cluster.

``pool_api`` never imports Ray (``docs/architecture.md`` §2); everything it needs of the
cluster goes through this module, :mod:`~workers.cluster.dispatch` (running a planned job)
and :mod:`~workers.cluster.tasks` (the remote functions).

* :func:`ensure_ray` / :func:`shutdown_ray`: this process's Ray driver.
* :func:`alive_cpu_nodes`, :func:`node_gpus`: what the cluster offers right now;
  :func:`alive_node_resources`: which nodes are alive and what they advertise (node
  registration checks a node's registration resource with it, docs/architecture.md §6).
* :func:`calibrate_nodes`: the calibration task (:func:`workers.cluster.tasks.calibrate`)
  pinned to each given node, with a deadline.
* :func:`refresh_auth_token`, :func:`find_node_with_resource`: Ray's token authentication
  and the GCS lookup ``proverpool join`` uses to find the node it started.
* :class:`LocalCluster`: a head and worker nodes in this machine's processes (demo, tests).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Sequence

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from workers.cluster import tasks
from workers.cluster.tasks import node_gpus

__all__ = [
    "LocalCluster",
    "alive_cpu_nodes",
    "alive_node_resources",
    "calibrate_nodes",
    "ensure_ray",
    "find_node_with_resource",
    "node_gpus",
    "refresh_auth_token",
    "shutdown_ray",
]
log = logging.getLogger(__name__)
CALIBRATION_TIMEOUT_SECONDS = 60.0
NODE_LOOKUP_TIMEOUT_SECONDS = 5.0
_gcs_clients: dict[str, object] = {}
"""One GCS client per address for :func:`alive_node_resources`."""


def ensure_ray(address: str | None = None) -> None:
    """Connect to the Ray cluster at ``address`` (or start a local one), once per process."""
    if ray.is_initialized():
        return
    ray.init(
        address=address or None,
        include_dashboard=False,
        ignore_reinit_error=True,
        log_to_driver=False,
        configure_logging=False,
    )


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

            client = _gcs_clients.get(address)
            if client is None:
                # A GcsClient waits ~40 s for an unreachable GCS: knock first, briefly.
                host, _, port = address.rpartition(":")
                socket.create_connection((host.strip("[]"), int(port)), timeout=1.0).close()
                client = _gcs_clients.setdefault(address, GcsClient(address=address))
            infos = client.get_all_node_info(timeout=timeout_seconds).items()
            return {
                node_id.hex(): frozenset(dict(info.resources_total))
                for node_id, info in infos
                if info.state == 0  # ALIVE
            }
        if not ray.is_initialized():
            if not address:
                return None
            ensure_ray(address)  # Ray Client: this process's driver, connected in bounded time
        return {
            n["NodeID"]: frozenset(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")
        }
    except Exception as exc:  # any GCS failure: Ray is not answering
        _gcs_clients.pop(address or "", None)
        log.warning("Ray node lookup at %s failed: %s", address or "the local driver", exc)
        return None


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
        shutdown_ray()
        self._cluster.shutdown()

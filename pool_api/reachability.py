"""Which address a contributor's node advertises, and whether the pool reaches it (issue 15
items 2 and 3).

Ray needs the head to open connections to every node (its raylet, its object manager,
the ports of its worker processes): a node behind NAT or a firewall joins the GCS, then
drops out silently a minute later.  ``proverpool join`` asks instead, right after
``ray start``:

* :func:`node_address` (contributor side): the address this machine reaches the pool's
  Ray from (a UDP socket "connected" towards the GCS: no packet is sent, the kernel
  picks the source address), advertised as ``--node-ip-address`` unless the contributor
  names one.
* :func:`probe_node` (pool side, ``POST /v1/nodes/reachability``): TCP connections from
  the pool to the node's raylet and object manager ports (from the GCS), then — where
  the API process runs jobs, so has a Ray driver — a tiny task pinned to the node whose
  result must come back (which also needs the node's worker ports).  The answer is one
  line naming the address and ports the pool could not reach and what to do.
* :func:`require_reachable` (contributor side): asks, and raises
  :class:`~pool_api.errors.JoinError` with that line; ``join`` then stops its Ray node
  and exits 2, before the node is registered (unregistered nodes get no chunks).
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from pool_api.errors import JoinError, UnavailableError
from workers.errors import RayUnavailableError

if TYPE_CHECKING:
    from pool_api.cli.join import PoolClient
    from pool_api.settings import Settings

CONNECT_TIMEOUT_SECONDS = 3.0
ROUND_TRIP_TIMEOUT_SECONDS = 25.0
"""Long enough for a loaded node to start its first worker process."""
WORKER_PORTS = "10002-19999"
"""Ray's default worker ports (``ray start --min-worker-port/--max-worker-port``)."""
OVERLAY_RECIPE = "deploy/wireguard/README.md"


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    return host.strip("[]"), int(port)


def node_address(ray_address: str, pool_host: str) -> str:
    """The address this machine reaches the pool's Ray (GCS at ``ray_address``) from;
    loopback when the pool's URL is on loopback (a pool on this very machine)."""
    from pool_api.membership import is_loopback

    if is_loopback(pool_host):
        return "127.0.0.1"
    host, port = _host_port(ray_address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))  # no packet is sent: the kernel picks the route
            return probe.getsockname()[0]
    except OSError as exc:
        raise JoinError(
            f"no route from this machine to the pool's Ray at {ray_address} ({exc}); "
            "name this machine's address with --node-ip-address"
        ) from exc


def _connect_problem(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS):
            return None
    except TimeoutError:
        return "no answer"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def probe_node(settings: Settings, node_id: str) -> dict[str, object]:
    """Whether this pool reaches Ray node ``node_id``: ``{"reachable", "address", "ports",
    "problem", "seconds"}`` (``problem`` is the one line ``join`` prints, or ``None``);
    :class:`~pool_api.errors.UnavailableError` (503) when the pool's own Ray does not
    answer."""
    from workers.cluster import runtime

    started = time.monotonic()
    assert settings.ray_address is not None
    pool_host, _ = _host_port(settings.ray_address)
    try:
        found = runtime.node_endpoints(settings.ray_address, node_id)
    except Exception as exc:  # the GCS does not answer: a 503, never a 500
        raise UnavailableError(f"the pool's Ray cluster does not answer ({exc}); retry") from exc
    if found is None:
        return _answer(started, None, {}, f"Ray node {node_id} is not alive in the pool")
    host, ports = found
    with ThreadPoolExecutor(len(ports)) as pool:
        answers = pool.map(lambda port: _connect_problem(host, port), ports.values())
        problems = dict(zip(ports, answers, strict=True))
    failed = {name: why for name, why in problems.items() if why is not None}
    if failed:
        named = " and ".join(f"{name} port {ports[name]}" for name in failed)
        why = "; ".join(sorted(set(failed.values())))
        return _answer(
            started,
            host,
            ports,
            f"the pool ({pool_host}) cannot reach this node at {host}: {named} ({why}); "
            f"open TCP ports {', '.join(str(ports[n]) for n in ports)} and {WORKER_PORTS} "
            f"of {host} to {pool_host}, or join over the WireGuard overlay ({OVERLAY_RECIPE})",
        )
    if settings.api_runs_jobs:  # this process has (or would start) a Ray driver anyway
        try:
            runtime.ensure_ray(settings.ray_address, settings.ray_connect_timeout_seconds)
        except RayUnavailableError as exc:
            raise UnavailableError(f"{exc}; retry shortly") from exc
        problem = runtime.round_trip(node_id, ROUND_TRIP_TIMEOUT_SECONDS)
        if problem is not None:
            return _answer(
                started,
                host,
                ports,
                f"the pool ({pool_host}) reaches this node's raylet at {host} but a task on "
                f"it failed: {problem}; open TCP ports {WORKER_PORTS} (Ray's workers) of "
                f"{host} to {pool_host}, or join over the WireGuard overlay ({OVERLAY_RECIPE})",
            )
    return _answer(started, host, ports, None)


def _answer(
    started: float, host: str | None, ports: dict[str, int], problem: str | None
) -> dict[str, object]:
    return {
        "reachable": problem is None,
        "address": host,
        "ports": ports,
        "problem": problem,
        "seconds": round(time.monotonic() - started, 3),
    }


def require_reachable(client: PoolClient, node_id: str, secret: str) -> float:
    """Ask the pool whether it reaches this machine's new Ray node; the seconds it took,
    or :class:`JoinError` with the pool's one-line answer."""
    body = {"ray_node_id": node_id, "registration_secret": secret}
    answer = client.call("POST", "/v1/nodes/reachability", json=body).json()
    if not answer.get("reachable"):
        problem = str(answer.get("problem") or "the pool cannot reach this node")
        raise JoinError(problem, exit_code=3)  # pool_api.cli.exit_codes.UNREACHABLE
    return float(answer.get("seconds") or 0.0)

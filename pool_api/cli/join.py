"""``proverpool join`` and ``proverpool leave``: a contributor's machine in the pool (issue 7 §2).

``join``: check the pool's version → redeem the invite (or reuse the API key saved
in ``DATA_DIR/join.json``, 0600) → detect a GPU (CuPy) → calibrate (progress bar)
→ get the Ray address and token (``GET /v1/cluster``) → a fresh registration secret
(kept in the state file) → ``ray start --address`` with the custom resource
``proverpool_node_<sha256 of the secret>`` → find that node's id in the GCS by it →
register it with the secret (``POST /v1/nodes``: the pool checks the node advertises
the secret's hash, so nobody else can claim it) → heartbeat in a thread and show
work and earnings until Ctrl-C / SIGTERM, which stops the Ray node (Ray drains it:
in-flight chunks are handed back and the runner re-runs them elsewhere).  ``leave``:
stop the running ``join`` (SIGTERM) and deregister the node (``DELETE /v1/nodes/{id}``).

One ``join`` per data directory: it holds ``DATA_DIR/join.lock`` (``flock``, released
when the process ends, however it ends) from before it contacts the pool; a second one
is refused ("already joined (pid N)", exit 4) instead of orphaning the first.  On a
terminal the panel shows the node, its work and work per minute, the last job it worked
on, your work, earnings and balance; without one (a service, a log file) the same is one
line every ``STATUS_LINE_SECONDS``.

Every failure is one line on stderr, with the exit code of :mod:`pool_api.cli.exit_codes`
(2 bad input, 3 pool unreachable, 4 refused, 5 timed out).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import httpx
import typer

from pool_api.cli import exit_codes
from pool_api.cli.join_status import show_status
from pool_api.errors import JoinError

HTTP_TIMEOUT_SECONDS = 15.0
LOCK_FILE = "join.lock"
DataDir = Annotated[
    Path | None, typer.Option(help="Where the API key and node id are kept (PROVERPOOL_DATA_DIR).")
]


def _data_dir(data_dir: Path | None) -> Path:
    if data_dir is not None:
        return data_dir
    return Path(os.environ.get("PROVERPOOL_DATA_DIR") or Path.home() / ".proverpool")


class PoolClient:
    """The pool's HTTP API, every failure a :class:`JoinError` with a clear message."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise JoinError(f"{url!r} is not a pool URL (expected http(s)://host:port)")
        self.url = url.rstrip("/")
        self.host = parts.hostname
        self.api_key = api_key
        self.http = httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT_SECONDS)

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = self.http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            raise JoinError(
                f"the pool at {self.url} did not answer in time: {exc}", exit_codes.TIMED_OUT
            ) from exc
        except httpx.HTTPError as exc:
            raise JoinError(
                f"cannot reach the pool at {self.url}: {exc}", exit_codes.UNREACHABLE
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = None
            if response.status_code == 404 and (detail is None or path == "/v1/version"):
                raise JoinError(f"{self.url} is not a proverpool pool ({path}: 404)")
            raise JoinError(
                f"the pool refused {method} {path}: {detail or response.status_code}",
                exit_codes.for_http_status(response.status_code),
            )
        return response

    def check_version(self) -> str:
        from pool_api.membership import pool_version

        try:
            info = self.call("GET", "/v1/version").json()
        except ValueError as exc:
            raise JoinError(f"{self.url} is not a proverpool pool (no JSON)") from exc
        if not isinstance(info, dict) or info.get("name") != "proverpool":
            raise JoinError(f"{self.url} is not a proverpool pool")
        mine = pool_version()
        if info.get("version") != mine:
            raise JoinError(
                f"version mismatch: the pool runs proverpool {info.get('version')}, "
                f"this machine {mine}; install the pool's version",
                exit_codes.REFUSED,
            )
        return mine


def join(
    pool_url: Annotated[str, typer.Argument(help="The pool's URL, e.g. http://pool.example:8000")],
    invite: Annotated[
        str, typer.Option(help="Single-use invite from the operator (not needed once joined).")
    ] = "",
    name: Annotated[str | None, typer.Option(help="Your public name (default: host name).")] = None,
    payout: Annotated[str | None, typer.Option(help="Payout address for your earnings.")] = None,
    num_cpus: Annotated[
        int | None, typer.Option(min=1, help="CPUs to contribute (default: all).")
    ] = None,
    no_gpu: Annotated[bool, typer.Option("--no-gpu", help="Do not offer a GPU.")] = False,
    data_dir: DataDir = None,
    node_ip_address: Annotated[
        str | None,
        typer.Option(
            help="Address the pool reaches this machine at (default: the one "
            "this machine reaches the pool from)."
        ),
    ] = None,
) -> None:
    """Join a pool with this machine and earn a share of its rewards (Ctrl-C stops)."""
    directory = _data_dir(data_dir)
    try:
        lock = _lock_join(directory)
        try:
            _join(pool_url, invite, name, payout, num_cpus, no_gpu, directory, node_ip_address)
        finally:
            os.close(lock)
    except JoinError as exc:
        _fail("join", str(exc), exc.exit_code)


def _lock_join(data_dir: Path) -> int:
    """Hold ``DATA_DIR/join.lock`` for this process (its pid written in it); a
    :class:`JoinError` naming the pid of the ``join`` that holds it."""
    from pool_api.private_files import ensure_private_dir

    ensure_private_dir(data_dir)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise JoinError(
            f"already joined (pid {holder}); run `proverpool leave` first", exit_codes.REFUSED
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _credentials(
    client: PoolClient, state: dict, invite: str, name: str | None, payout: str | None
) -> dict:
    if state.get("pool_url") == client.url and state.get("api_key"):
        typer.echo(f"reusing the saved API key of contributor {state['contributor_id']}")
        return state
    if not invite.strip():
        raise JoinError("an invite is required (--invite TOKEN from the pool's operator)")
    body = {
        "invite": invite.strip(),
        "name": name or f"{socket.gethostname()}-{secrets.token_hex(2)}",
        "payout_address": payout,
    }
    created = client.call("POST", "/v1/contributors", json=body).json()
    typer.echo(f"joined as contributor {created['id']} ({created['name']})")
    return {"pool_url": client.url, "contributor_id": created["id"], "api_key": created["api_key"]}


def _join(
    url: str,
    invite: str,
    name: str | None,
    payout: str | None,
    num_cpus: int | None,
    no_gpu: bool,
    data_dir: Path,
    node_ip: str | None = None,
) -> None:
    from pool_api import membership, ray_bind, reachability

    client = PoolClient(url)
    client.check_version()
    state = _credentials(client, membership.load_state(data_dir), invite, name, payout)
    membership.save_state(data_dir, state)
    client.api_key = state["api_key"]
    _forget_previous_node(client, state, data_dir)
    gpu_model, gpu_memory = (None, None) if no_gpu else membership.detect_gpu()
    speeds = _calibrate(membership, gpu=gpu_model is not None)
    cluster = client.call("GET", "/v1/cluster").json()
    membership.use_ray_token(cluster.get("ray_auth_token"))
    cpus = num_cpus or os.cpu_count() or 1
    # A fresh secret per node, kept in the 0600 state file: the node advertises only its
    # hash (a Ray resource, visible to every member); the secret goes in the POST body.
    state["registration_secret"] = membership.new_registration_secret()
    membership.save_state(data_dir, state)
    marker = membership.registration_resource(state["registration_secret"])
    args = ["--address", cluster["ray_address"], "--num-cpus", str(cpus)]
    args += ["--num-gpus", "1" if gpu_model else "0"]
    args += ["--resources", json.dumps({marker: 1})]
    node_ip = node_ip or reachability.node_address(cluster["ray_address"], client.host)
    args += ["--node-ip-address", node_ip]  # and Ray binds there only (issue 15 item 2)
    bind_env, warning = ray_bind.bind_environment(node_ip)
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    typer.echo(f"starting a Ray node ({cpus} CPUs, GPU: {gpu_model or 'none'}) ...")
    node = membership.RayProcess(
        args, cluster.get("ray_auth_token"), prefix="pp-join-", extra_env=bind_env
    )
    try:
        node.wait_started(120)
        node_id = membership.find_ray_node(cluster["ray_address"], marker, 60)
        reachability.require_reachable(client, node_id, state["registration_secret"])
        registered = {
            "ray_node_id": node_id,
            "registration_secret": state["registration_secret"],
            "cpu_cores": cpus,
            "gpu_model": gpu_model,
            "gpu_memory_bytes": gpu_memory,
            "speeds": speeds,
        }
        client.call("POST", "/v1/nodes", json=registered)
        state.update(ray_node_id=node_id, join_pid=os.getpid())
        membership.save_state(data_dir, state)
        typer.echo(f"node {node_id[:12]}… registered; Ctrl-C to stop, `proverpool leave` to leave")
        beats = threading.Thread(target=_heartbeats, args=(client, node_id, stop), daemon=True)
        beats.start()
        show_status(client, state, node_id, stop)
    finally:
        typer.echo("\nstopping the Ray node (in-flight chunks go back to the pool) ...")
        node.stop()
        state.pop("join_pid", None)
        membership.save_state(data_dir, state)
    typer.echo("stopped")


def _forget_previous_node(client: PoolClient, state: dict, data_dir: Path) -> None:
    """Deregister the node a previous ``join`` left registered (it stopped without
    ``leave``: its Ray node is gone), so stale nodes do not use up
    ``PROVERPOOL_MAX_NODES_PER_CONTRIBUTOR``; no other ``join`` runs (this one holds the
    lock)."""
    from pool_api import membership

    previous = state.get("ray_node_id")
    if not previous:
        return
    # Already deregistered, or refused (a banned contributor's nodes stay fenced): fine.
    with contextlib.suppress(JoinError):
        client.call("DELETE", f"/v1/nodes/{previous}")
    state.pop("ray_node_id", None)
    membership.save_state(data_dir, state)


def _calibrate(membership, gpu: bool) -> dict[str, float]:  # noqa: ANN001
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("calibrating (MSM, NTT)", total=4)
        speeds = membership.calibrate(lambda _step: progress.advance(task), gpu=gpu)
    typer.echo(
        "calibrated: " + ", ".join(f"{k} {v:,.0f} work units/s" for k, v in sorted(speeds.items()))
    )
    return speeds


def _heartbeats(client: PoolClient, node_id: str, stop: threading.Event) -> None:
    interval = 5.0
    while not stop.is_set():
        try:
            ttl = client.call("POST", f"/v1/nodes/{node_id}/heartbeat").json()["ttl_seconds"]
            interval = max(1.0, min(10.0, ttl / 3))
        except (JoinError, ValueError, KeyError):
            pass  # the pool is restarting or briefly unreachable: the next beat retries
        stop.wait(interval)


def leave(data_dir: DataDir = None) -> None:
    """Stop this machine's `proverpool join` (its chunks go back) and deregister the node."""
    from pool_api import membership

    directory = _data_dir(data_dir)
    try:
        state = membership.load_state(directory)
        if not state.get("ray_node_id"):
            raise JoinError(f"this machine has no node in a pool (no node id in {directory})")
        pid = state.get("join_pid")
        if pid and _alive(pid):
            typer.echo(f"stopping `proverpool join` (pid {pid}) ...")
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 90
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.3)
            if _alive(pid):
                raise JoinError(f"`proverpool join` (pid {pid}) did not stop within 90 s")
        client = PoolClient(state["pool_url"], state["api_key"])
        client.call("DELETE", f"/v1/nodes/{state['ray_node_id']}")
        state.pop("ray_node_id", None)
        state.pop("join_pid", None)
        membership.save_state(directory, state)
    except JoinError as exc:
        _fail("leave", str(exc), exc.exit_code)
    typer.echo("left the pool: the node is deregistered (your API key and earnings stay)")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, counts as stopped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _fail(command: str, message: str, exit_code: int = exit_codes.USAGE) -> None:
    exit_codes.fail(command, message, exit_code)

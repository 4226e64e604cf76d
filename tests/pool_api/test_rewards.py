"""Reward schemes chosen in settings (PROP, PPLNS) and the operator's decision on held rewards."""

from __future__ import annotations

from sqlmodel import Session

import accounting
from pool_api.store.models import Job, JobStatus


def _done_job(pool, job_id: str, credits: dict[int, int]) -> None:
    with Session(pool.state.engine) as session:
        session.add(
            Job(
                id=job_id,
                kind="ntt",
                field="bn254_fr",
                size=4,
                input_sha256="0" * 64,
                status=JobStatus.done,
            )
        )
        session.commit()
    for contributor_id, units in credits.items():
        with Session(pool.state.engine) as session:
            accounting.credit_work(
                session,
                credit_id=f"{job_id}:{contributor_id}",
                contributor_id=contributor_id,
                job_ref=job_id,
                work_units=units,
            )
            session.commit()  # the ledger's writers leave the commit to their caller


def _reward(pool, job_id: str, amount_units: int, key: str):
    body = {"amount_units": amount_units, "idempotency_key": key}
    return pool.client.post(f"/v1/jobs/{job_id}/reward", json=body, headers=pool.operator)


def _balances(pool) -> dict[int, int]:
    return {row["id"]: row["balance_units"] for row in pool.client.get("/v1/contributors").json()}


def test_pplns_splits_by_the_last_n_work_units(pool):
    alice = pool.add_contributor("alice")["id"]
    bob = pool.add_contributor("bob")["id"]
    _done_job(pool, "jobA", {alice: 100})
    _done_job(pool, "jobB", {bob: 300})
    pool.state.settings.reward_scheme = "pplns"
    pool.state.settings.pplns_window_units = 350  # bob's 300, then 50 of alice's 100
    posted = _reward(pool, "jobB", 70_000, "r1")
    assert posted.status_code == 201, posted.text
    body = posted.json()
    shares = {s["contributor_id"]: s["amount_units"] for s in body["shares"]}
    fee = 70_000 * pool.settings.fee_bps // 10_000
    assert body["fee_units"] == fee
    assert shares == {bob: (70_000 - fee) * 300 // 350, alice: (70_000 - fee) * 50 // 350}
    assert sum(shares.values()) + fee == 70_000


def test_held_reward_is_released_by_the_operator(pool):
    alice = pool.add_contributor("alice")["id"]
    _done_job(pool, "empty", {})
    held = _reward(pool, "empty", 10_000, "r-held").json()
    assert held["shares"] == [] and held["held_units"] == 10_000 - held["fee_units"]
    assert _balances(pool)[alice] == 0

    release = {"release_id": "decision-1", "to": alice}
    url = "/v1/rewards/r-held/release"
    assert pool.client.post(url, json=release).status_code == 401
    first = pool.client.post(url, json=release, headers=pool.operator)
    assert first.status_code == 201, first.text
    assert _balances(pool)[alice] == held["held_units"]
    again = pool.client.post(url, json=release, headers=pool.operator)
    assert again.status_code == 200 and again.json()["status"] == "exists"
    assert _balances(pool)[alice] == held["held_units"]
    other = pool.client.post(
        url, json={"release_id": "decision-2", "to": "operator"}, headers=pool.operator
    )
    assert other.status_code == 409
    unknown = pool.client.post(url, json={"release_id": "d3", "to": 999}, headers=pool.operator)
    assert unknown.status_code == 404
    bad = pool.client.post(url, json={"release_id": "d4", "to": "nobody"}, headers=pool.operator)
    assert bad.status_code == 422
    audit = pool.client.get("/v1/ledger/audit", headers=pool.operator).json()
    assert audit == {"ok": True, "violations": []}

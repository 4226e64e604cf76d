"""The ledger over HTTP: balances, statements, withdrawals, payout batches, the audit."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

import accounting

MIN = 1000  # the default PROVERPOOL_WITHDRAWAL_MIN_UNITS
ALICE = "0x" + "a11ce" * 8  # payout addresses: 0x + 40 hex digits
BOB = "0x" + "b0b" * 13 + "0"


def add(pool, name: str, address: str | None = None) -> dict:
    body = {"name": name} | ({"payout_address": address} if address else {})
    created = pool.client.post("/v1/contributors", json=body, headers=pool.operator)
    assert created.status_code == 201, created.text
    contributor = created.json()
    contributor["auth"] = {"Authorization": f"Bearer {contributor['api_key']}"}
    return contributor


def fund(pool, job: str, amount: int, work: dict[int, int]) -> None:
    """Credit ``work`` units per contributor on ``job`` and split ``amount`` (no fee)."""
    with Session(pool.state.engine) as session:
        for cid, units in work.items():
            accounting.credit_work(
                session, credit_id=f"{job}:{cid}", contributor_id=cid, job_ref=job, work_units=units
            )
        accounting.post_reward(
            session, reward_id=f"{job}:reward", job_ref=job, amount_units=amount, fee_bps=0
        )
        session.commit()  # the ledger's writers leave the commit to their caller


def balance(pool, contributor: dict) -> dict:
    got = pool.client.get(
        f"/v1/contributors/{contributor['id']}/balance", headers=contributor["auth"]
    )
    assert got.status_code == 200, got.text
    return got.json()


def withdraw(pool, contributor: dict, amount: int, key: str):
    return pool.client.post(
        "/v1/withdrawals",
        json={"amount_units": amount, "idempotency_key": key},
        headers=contributor["auth"],
    )


def audit_ok(pool) -> None:
    report = pool.client.get("/v1/ledger/audit", headers=pool.operator)
    assert report.status_code == 200, report.text
    assert report.json() == {"ok": True, "violations": []}


def test_balance_and_statement(pool):
    alice, bob = add(pool, "alice"), add(pool, "bob")
    fund(pool, "job-1", 10_000, {alice["id"]: 3, bob["id"]: 1})

    assert balance(pool, alice) == {
        "contributor_id": alice["id"],
        "balance_units": 7_500,
        "work_units": 3,
        "pending_withdrawal_units": 0,
    }
    by_operator = pool.client.get(f"/v1/contributors/{bob['id']}/balance", headers=pool.operator)
    assert by_operator.status_code == 200
    assert by_operator.json()["balance_units"] == 2_500
    assert isinstance(by_operator.json()["balance_units"], int)
    missing = pool.client.get("/v1/contributors/999999/balance", headers=pool.operator)
    assert missing.status_code == 404

    statement = pool.client.get(f"/v1/contributors/{alice['id']}/statement", headers=alice["auth"])
    assert statement.status_code == 200, statement.text
    [line] = statement.json()
    assert line["amount_units"] == 7_500
    assert line["balance_units"] == 7_500
    assert line["job_ref"] == "job-1"
    assert line["reward_id"] == "job-1:reward"

    as_csv = pool.client.get(
        f"/v1/contributors/{alice['id']}/statement",
        params={"format": "csv"},
        headers=pool.operator,
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert row["amount_units"] == "7500"
    assert row["balance_units"] == "7500"

    bad_format = pool.client.get(
        f"/v1/contributors/{alice['id']}/statement", params={"format": "xml"}, headers=alice["auth"]
    )
    assert bad_format.status_code == 422


@pytest.mark.parametrize("endpoint", ["balance", "statement"])
def test_contributor_endpoints_refuse_other_keys(pool, endpoint):
    alice, bob = add(pool, "alice"), add(pool, "bob")
    url = f"/v1/contributors/{alice['id']}/{endpoint}"
    assert pool.client.get(url).status_code == 401
    assert pool.client.get(url, headers=bob["auth"]).status_code == 403
    wrong = {"Authorization": "Bearer pp_not-a-key"}
    assert pool.client.get(url, headers=wrong).status_code == 403
    assert pool.client.get(url, headers=alice["auth"]).status_code == 200


def test_withdrawal_batch_export_paid_and_failed(pool):
    alice = add(pool, "alice", ALICE)
    bob = add(pool, "bob", BOB)
    fund(pool, "job-1", 20_000, {alice["id"]: 1, bob["id"]: 1})

    first = withdraw(pool, alice, 6_000, "w-1")
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["status"] == "created"
    assert created["state"] == "pending"
    assert created["amount_units"] == 6_000
    again = withdraw(pool, alice, 6_000, "w-1")
    assert again.status_code == 200
    assert again.json()["status"] == "exists"
    assert again.json()["withdrawal_id"] == created["withdrawal_id"]
    other_amount = withdraw(pool, alice, 5_000, "w-1")
    assert other_amount.status_code == 409
    below = withdraw(pool, alice, MIN - 1, "w-small")
    assert below.status_code == 422
    assert "minimum" in below.text
    # Keys are per contributor: bob may use the same one.
    bobs = withdraw(pool, bob, 4_000, "w-1")
    assert bobs.status_code == 201, bobs.text

    assert balance(pool, alice) | {"work_units": 0} == {
        "contributor_id": alice["id"],
        "balance_units": 4_000,
        "work_units": 0,
        "pending_withdrawal_units": 6_000,
    }

    batch = pool.client.post("/v1/payout-batches", json={"batch_id": "b-1"}, headers=pool.operator)
    assert batch.status_code == 201, batch.text
    info = batch.json()
    assert info["status"] == "created"
    assert sorted(info["withdrawal_ids"]) == sorted(
        [created["withdrawal_id"], bobs.json()["withdrawal_id"]]
    )
    assert info["total_units"] == 10_000
    repeat = pool.client.post("/v1/payout-batches", json={"batch_id": "b-1"}, headers=pool.operator)
    assert repeat.status_code == 200
    assert repeat.json()["status"] == "exists"
    assert repeat.json()["total_units"] == 10_000

    exported = pool.client.get("/v1/payout-batches/b-1/export", headers=pool.operator)
    assert exported.status_code == 200, exported.text
    rows = {r["contributor_id"]: r for r in exported.json()}
    assert rows[alice["id"]] == {
        "batch_id": "b-1",
        "withdrawal_id": created["withdrawal_id"],
        "contributor_id": alice["id"],
        "address": ALICE,
        "amount_units": 6_000,
    }
    assert rows[bob["id"]]["address"] == BOB
    assert rows[bob["id"]]["amount_units"] == 4_000
    as_csv = pool.client.get(
        "/v1/payout-batches/b-1/export", params={"format": "csv"}, headers=pool.operator
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    csv_rows = {r["address"]: r for r in csv.DictReader(io.StringIO(as_csv.text))}
    assert csv_rows[ALICE]["amount_units"] == "6000"
    assert csv_rows[ALICE]["withdrawal_id"] == created["withdrawal_id"]
    assert csv_rows[BOB]["amount_units"] == "4000"

    def mark(withdrawal_id: str, outcome: str):
        return pool.client.post(
            f"/v1/payout-batches/b-1/withdrawals/{withdrawal_id}",
            json={"outcome": outcome},
            headers=pool.operator,
        )

    paid = mark(created["withdrawal_id"], "paid")
    assert paid.status_code == 200, paid.text
    assert paid.json() | {"status": None} == {
        "status": None,
        "batch_id": "b-1",
        "withdrawal_id": created["withdrawal_id"],
        "outcome": "paid",
        "amount_units": 6_000,
    }
    assert paid.json()["status"] == "created"
    assert mark(created["withdrawal_id"], "paid").json()["status"] == "exists"
    assert mark(created["withdrawal_id"], "failed").status_code == 409
    failed = mark(bobs.json()["withdrawal_id"], "failed")
    assert failed.status_code == 200, failed.text

    after_alice, after_bob = balance(pool, alice), balance(pool, bob)
    assert (after_alice["balance_units"], after_alice["pending_withdrawal_units"]) == (4_000, 0)
    # A failed payout returns the amount.
    assert (after_bob["balance_units"], after_bob["pending_withdrawal_units"]) == (10_000, 0)
    codes = [
        line["code"]
        for line in pool.client.get(
            f"/v1/contributors/{bob['id']}/statement", headers=bob["auth"]
        ).json()
    ]
    assert codes[-1] == accounting.TransferCode.PAYOUT_FAILED.value
    # Nothing is left to pay in the batch.
    assert pool.client.get("/v1/payout-batches/b-1/export", headers=pool.operator).json() == []

    not_in_batch = pool.client.post(
        "/v1/payout-batches/b-1/withdrawals/c1:nope",
        json={"outcome": "paid"},
        headers=pool.operator,
    )
    assert not_in_batch.status_code == 409
    no_batch = pool.client.get("/v1/payout-batches/b-404/export", headers=pool.operator)
    assert no_batch.status_code == 404
    bad_outcome = pool.client.post(
        f"/v1/payout-batches/b-1/withdrawals/{created['withdrawal_id']}",
        json={"outcome": "lost"},
        headers=pool.operator,
    )
    assert bad_outcome.status_code == 422
    audit_ok(pool)


def test_over_balance_withdrawal_is_409_and_changes_nothing(pool):
    alice = add(pool, "alice")
    fund(pool, "job-1", 2_500, {alice["id"]: 1})
    before = balance(pool, alice)
    statement_before = pool.client.get(
        f"/v1/contributors/{alice['id']}/statement", headers=alice["auth"]
    ).json()

    refused = withdraw(pool, alice, 2_501, "too-much")
    assert refused.status_code == 409, refused.text
    assert "insufficient funds" in refused.json()["detail"]

    assert balance(pool, alice) == before
    assert (
        pool.client.get(f"/v1/contributors/{alice['id']}/statement", headers=alice["auth"]).json()
        == statement_before
    )
    with Session(pool.state.engine) as session:
        assert session.exec(select(accounting.Withdrawal)).all() == []
    # The same key works afterwards with an amount that fits.
    assert withdraw(pool, alice, 2_500, "too-much").status_code == 201
    assert balance(pool, alice)["balance_units"] == 0
    audit_ok(pool)


def test_batch_export_needs_payout_addresses(pool):
    alice = add(pool, "alice")  # no payout address
    fund(pool, "job-1", 5_000, {alice["id"]: 1})
    assert withdraw(pool, alice, 5_000, "w").status_code == 201
    pool.client.post("/v1/payout-batches", json={"batch_id": "b"}, headers=pool.operator)
    exported = pool.client.get("/v1/payout-batches/b/export", headers=pool.operator)
    assert exported.status_code == 409
    assert "payout address" in exported.json()["detail"]


def test_operator_endpoints_refuse_without_the_operator_token(pool):
    alice = add(pool, "alice", ALICE)
    calls = [
        ("post", "/v1/payout-batches", {"batch_id": "b"}),
        ("get", "/v1/payout-batches/b/export", None),
        ("post", "/v1/payout-batches/b/withdrawals/w", {"outcome": "paid"}),
        ("get", "/v1/ledger/audit", None),
    ]
    wrong = {"Authorization": "Bearer not-the-operator-token"}
    for method, url, body in calls:
        kwargs = {"json": body} if body is not None else {}
        assert getattr(pool.client, method)(url, **kwargs).status_code == 401, url
        assert getattr(pool.client, method)(url, headers=wrong, **kwargs).status_code == 403, url
        refused = getattr(pool.client, method)(url, headers=alice["auth"], **kwargs)
        assert refused.status_code == 403, url
    # Withdrawals are the contributor's own: no key → 401, the operator token is no key.
    body = {"amount_units": MIN, "idempotency_key": "k"}
    assert pool.client.post("/v1/withdrawals", json=body).status_code == 401
    assert pool.client.post("/v1/withdrawals", json=body, headers=pool.operator).status_code == 403


def test_audit_reports_a_corrupted_ledger(pool):
    alice = add(pool, "alice")
    fund(pool, "job-1", 5_000, {alice["id"]: 1})
    audit_ok(pool)
    with pool.state.engine.begin() as connection:
        connection.execute(
            text("UPDATE account SET balance_units = '4999' WHERE contributor_id = :cid"),
            {"cid": alice["id"]},
        )
    report = pool.client.get("/v1/ledger/audit", headers=pool.operator).json()
    assert report["ok"] is False
    assert any("sum to" in v for v in report["violations"]), report

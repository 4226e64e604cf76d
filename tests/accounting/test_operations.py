"""Penalties, PPLNS, held releases, payouts, statements and the extended audit."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlmodel import Session

from accounting import (
    AccountKind,
    ConflictError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidInputError,
    InvalidStateError,
    account_balance,
    audit,
    balances,
    create_payout_batch,
    credit_work,
    export_payout_batch,
    mark_payout,
    payout_rows_csv,
    payout_rows_json,
    post_penalty,
    post_reward,
    pplns_weights,
    release_held,
    request_withdrawal,
    split_largest_remainder,
    statement,
    statement_csv,
    statement_json,
)


def credit(session: Session, credit_id: str, cid: int, units: int, job: str = "job") -> None:
    assert credit_work(
        session, credit_id=credit_id, contributor_id=cid, job_ref=job, work_units=units
    )


def fund(session: Session, cid: int, amount: int, rid: str = "fund") -> None:
    credit(session, f"{rid}:c{cid}", cid, 1, job=f"{rid}-job")
    post_reward(session, reward_id=rid, job_ref=f"{rid}-job", amount_units=amount, fee_bps=0)


# --------------------------------------------------------------------------- PPLNS


def test_pplns_counts_the_last_n_units_with_a_partial_edge(session):
    credit(session, "a", 1, 10, job="old")
    credit(session, "b", 2, 10, job="j1")
    credit(session, "c", 3, 5, job="j2")
    # last 12 units: 5 of contributor 3, 7 of contributor 2 (partial), none of 1
    assert pplns_weights(session, 12) == {2: 7, 3: 5}
    posting = post_reward(
        session,
        reward_id="r",
        job_ref="j2",
        amount_units=1200,
        fee_bps=0,
        scheme="pplns",
        pplns_window_units=12,
    )
    assert posting.shares == {2: 700, 3: 500} and posting.window_units == 12
    # a credit after the reward does not change its repeat
    credit(session, "d", 1, 100, job="j3")
    again = post_reward(
        session,
        reward_id="r",
        job_ref="j2",
        amount_units=1200,
        fee_bps=0,
        scheme="pplns",
        pplns_window_units=12,
    )
    assert again.status == "exists" and again.shares == posting.shares
    with pytest.raises(ConflictError):
        post_reward(session, reward_id="r", job_ref="j2", amount_units=1200, fee_bps=0)
    # window larger than all work: everything counts
    assert pplns_weights(session, 10**6) == {1: 110, 2: 10, 3: 5}
    assert audit(session) == []


def test_pplns_without_any_credit_holds_the_reward(session):
    posting = post_reward(
        session,
        reward_id="r",
        job_ref="j",
        amount_units=100,
        fee_bps=100,
        scheme="pplns",
        pplns_window_units=5,
    )
    assert posting.held_units == 99 and posting.shares == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scheme": "pps"},
        {"scheme": "prop", "pplns_window_units": 5},
        {"scheme": "pplns"},
        {"scheme": "pplns", "pplns_window_units": 0},
        {"scheme": "pplns", "pplns_window_units": 1.5},
    ],
)
def test_bad_scheme_arguments(session, kwargs):
    with pytest.raises(InvalidInputError):
        post_reward(session, reward_id="r", job_ref="j", amount_units=1, fee_bps=0, **kwargs)


# --------------------------------------------------------------------------- penalties, held


def test_penalty_is_a_posting_and_never_overdraws(session):
    fund(session, 1, 100)
    args = dict(penalty_id="p", contributor_id=1, job_ref="j", amount_units=30, reason="strike")
    assert post_penalty(session, **args) == "created"
    assert post_penalty(session, **args) == "exists"
    with pytest.raises(ConflictError):
        post_penalty(session, **{**args, "amount_units": 31})
    with pytest.raises(InsufficientFundsError):
        post_penalty(session, **{**args, "penalty_id": "p2", "amount_units": 71})
    assert balances(session) == {1: 70}
    assert account_balance(session, AccountKind.PENALTIES) == 30
    assert audit(session) == []


def test_release_held_to_operator_or_contributor(session):
    post_reward(session, reward_id="r1", job_ref="nowork", amount_units=100, fee_bps=1000)
    post_reward(session, reward_id="r2", job_ref="nowork", amount_units=50, fee_bps=0)
    assert account_balance(session, AccountKind.HELD) == 140
    assert release_held(session, release_id="x1", reward_id="r1", to=7) == "created"
    assert release_held(session, release_id="x1", reward_id="r1", to=7) == "exists"
    with pytest.raises(ConflictError):
        release_held(session, release_id="x1", reward_id="r1", to="operator")
    with pytest.raises(InvalidStateError):
        release_held(session, release_id="x2", reward_id="r1", to="operator")
    with pytest.raises(InvalidStateError):
        release_held(session, release_id="x3", reward_id="missing", to="operator")
    assert release_held(session, release_id="x4", reward_id="r2", to="operator") == "created"
    assert balances(session) == {7: 90}
    assert account_balance(session, AccountKind.OPERATOR_FEE) == 60
    assert account_balance(session, AccountKind.HELD) == 0
    assert audit(session) == []


# --------------------------------------------------------------------------- payouts


def test_withdrawal_batch_export_and_outcomes(session):
    fund(session, 1, 1000, "f1")
    fund(session, 2, 500, "f2")
    w = dict(withdrawal_id="w1", contributor_id=1, amount_units=400, min_units=100)
    assert request_withdrawal(session, **w) == "created"
    assert request_withdrawal(session, **w) == "exists"
    with pytest.raises(ConflictError):
        request_withdrawal(session, **{**w, "amount_units": 401})
    with pytest.raises(InvalidAmountError):
        request_withdrawal(session, **{**w, "withdrawal_id": "small", "amount_units": 99})
    with pytest.raises(InsufficientFundsError):
        request_withdrawal(session, **{**w, "withdrawal_id": "big", "amount_units": 601})
    assert request_withdrawal(
        session, withdrawal_id="w2", contributor_id=2, amount_units=500, min_units=100
    )
    assert balances(session) == {1: 600, 2: 0}
    with pytest.raises(InvalidStateError):
        mark_payout(session, batch_id="b1", withdrawal_id="w1", outcome="paid")
    batch = create_payout_batch(session, batch_id="b1")
    assert (batch.status, batch.withdrawal_ids, batch.total_units) == ("created", ("w1", "w2"), 900)
    assert create_payout_batch(session, batch_id="b1").status == "exists"
    assert create_payout_batch(session, batch_id="b2").withdrawal_ids == ()
    with pytest.raises(InvalidInputError):
        export_payout_batch(session, "b1", {1: "0xaa"})
    rows = export_payout_batch(session, "b1", {1: "0xaa", 2: "0xbb"})
    assert [(r["withdrawal_id"], r["address"], r["amount_units"]) for r in rows] == [
        ("w1", "0xaa", 400),
        ("w2", "0xbb", 500),
    ]
    assert payout_rows_csv(rows).splitlines()[1] == "b1,w1,1,0xaa,400"
    assert json.loads(payout_rows_json(rows))[1]["amount_units"] == "500"
    assert mark_payout(session, batch_id="b1", withdrawal_id="w1", outcome="paid") == "created"
    assert mark_payout(session, batch_id="b1", withdrawal_id="w1", outcome="paid") == "exists"
    with pytest.raises(ConflictError):
        mark_payout(session, batch_id="b1", withdrawal_id="w1", outcome="failed")
    assert mark_payout(session, batch_id="b1", withdrawal_id="w2", outcome="failed") == "created"
    with pytest.raises(InvalidStateError):
        mark_payout(session, batch_id="b2", withdrawal_id="w2", outcome="failed")
    assert balances(session) == {1: 600, 2: 500}
    assert account_balance(session, AccountKind.PAYOUTS) == 400
    assert account_balance(session, AccountKind.PAYOUT_PENDING) == 0
    assert export_payout_batch(session, "b1", {}) == []
    assert audit(session) == []

    lines = statement(session, 1)
    assert [(ln.code, ln.amount_units, ln.balance_units) for ln in lines] == [
        ("reward_share", 1000, 1000),
        ("withdrawal", -400, 600),
    ]
    assert lines[1].counterparty == "payout_pending"
    assert [ln.code for ln in statement(session, 2)][-1] == "payout_failed"
    assert statement_csv(lines).splitlines()[0].startswith("transfer_id,created_at,code")
    assert json.loads(statement_json(lines))[1]["balance_units"] == "600"
    assert statement(session, 99) == []


# --------------------------------------------------------------------------- audit


@pytest.mark.parametrize(
    ("sql", "expect"),
    [
        ("UPDATE withdrawal SET status = 'paid' WHERE id = 'w1'", "expected payout_paid"),
        ("DELETE FROM transfer WHERE id = 'p:penalty'", "expected penalty of 5"),
        ("UPDATE penalty SET amount_units = '3' WHERE id = 'p'", "penalties balance"),
        ("UPDATE withdrawal SET batch_id = NULL", "status batched with batch None"),
    ],
)
def test_audit_catches_corrupted_records(session, sql, expect):
    fund(session, 1, 100)
    credit(session, "extra", 2, 3)
    post_penalty(session, penalty_id="p", contributor_id=1, job_ref="j", amount_units=5, reason="x")
    request_withdrawal(session, withdrawal_id="w1", contributor_id=1, amount_units=50, min_units=1)
    create_payout_batch(session, batch_id="b")
    assert audit(session) == []
    if "amount_units = '3'" in sql and session.get_bind().dialect.name == "postgresql":
        sql = sql.replace("'3'", "3")
    session.execute(text(sql))
    session.commit()
    problems = audit(session)
    assert any(expect in p for p in problems), problems


def test_split_helper_matches_posting(session):
    credit(session, "a", 1, 1)
    credit(session, "b", 2, 2)
    posting = post_reward(session, reward_id="r", job_ref="job", amount_units=10, fee_bps=0)
    assert posting.shares == split_largest_remainder(10, {1: 1, 2: 2})

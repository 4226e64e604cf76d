"""The ledger on SQLite and PostgreSQL: idempotency, exact splits, audits, races.

The writers never commit (the caller owns the transaction): the tests commit where
what they wrote must outlive the transaction or be seen by another session.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, bindparam, event, select, text
from sqlalchemy.exc import StatementError
from sqlmodel import Session

import accounting.ledger as ledger_module
from accounting import (
    Account,
    AccountKind,
    ConflictError,
    Credit,
    ImmutableRecordError,
    InvalidAmountError,
    InvalidFeeError,
    InvalidIdError,
    Reward,
    Transfer,
    TransferCode,
    Units,
    WorkCredit,
    account_balance,
    audit,
    balances,
    credit_work,
    credit_work_many,
    fee_units,
    post_reward,
    split_largest_remainder,
    work_units_by_contributor,
)

from ledger_tables import clear_tables

# --------------------------------------------------------------------------- helpers


def snapshot(session: Session) -> tuple:
    """Everything the ledger holds, as the session's transaction sees it (no ORM identity map).

    It does not end the transaction: comparing two snapshots around a failed call checks
    that the call left nothing behind in the caller's transaction either.
    """
    accounts = sorted(
        (str(kind), cid if cid is not None else -1, units)
        for kind, cid, units in session.execute(
            select(Account.kind, Account.contributor_id, Account.balance_units)
        )
    )
    transfers = sorted(
        tuple(row)
        for row in session.execute(
            select(
                Transfer.id,
                Transfer.debit_account_id,
                Transfer.credit_account_id,
                Transfer.amount_units,
                Transfer.code,
                Transfer.reward_id,
            )
        )
    )
    rewards = sorted(
        tuple(row)
        for row in session.execute(
            select(Reward.id, Reward.job_ref, Reward.amount_units, Reward.fee_bps)
        )
    )
    credits = sorted(
        tuple(row)
        for row in session.execute(
            select(
                WorkCredit.id, WorkCredit.contributor_id, WorkCredit.job_ref, WorkCredit.work_units
            )
        )
    )
    return accounts, transfers, rewards, credits


def total_balance(session: Session) -> int:
    return sum(session.scalars(select(Account.balance_units)).all())


def clear_ledger(engine: Engine) -> None:
    clear_tables(engine, {"transfer", "reward", "work_credit", "account"})


def require_postgres(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent writers are exercised on PostgreSQL only")


def credit_job(session: Session, job: str, work: dict[int, int]) -> None:
    """Credit ``work`` (``{contributor: units}``) on ``job``, one call each, and commit."""
    for cid, units in work.items():
        assert (
            credit_work(
                session, credit_id=f"{job}:{cid}", contributor_id=cid, job_ref=job, work_units=units
            )
            == "created"
        )
    session.commit()


def committed(session: Session, result: object) -> object:
    """``result`` of a writer called on ``session``, after committing the session."""
    session.commit()
    return result


# --------------------------------------------------------------------------- work credits


def test_credit_work_is_idempotent(session):
    args = dict(credit_id="job1:0", contributor_id=3, job_ref="job1", work_units=1000)
    assert credit_work(session, **args) == "created"
    session.commit()
    before = snapshot(session)
    assert credit_work(session, **args) == "exists"
    assert snapshot(session) == before
    assert work_units_by_contributor(session, "job1") == {3: 1000}


@pytest.mark.parametrize(
    "change", [{"contributor_id": 4}, {"job_ref": "job2"}, {"work_units": 999}]
)
def test_credit_work_conflict_changes_nothing(session, change):
    args = dict(credit_id="job1:0", contributor_id=3, job_ref="job1", work_units=1000)
    credit_work(session, **args)
    session.commit()
    before = snapshot(session)
    with pytest.raises(ConflictError) as info:
        credit_work(session, **{**args, **change})
    assert set(info.value.differences) == set(change)
    assert info.value.record_id == "job1:0"
    assert snapshot(session) == before
    session.commit()
    assert snapshot(session) == before


def test_work_units_summed_per_contributor(session):
    credit_work(session, credit_id="a:0", contributor_id=1, job_ref="a", work_units=5)
    credit_work(session, credit_id="a:1", contributor_id=1, job_ref="a", work_units=7)
    credit_work(session, credit_id="a:2", contributor_id=2, job_ref="a", work_units=1)
    credit_work(session, credit_id="b:0", contributor_id=2, job_ref="b", work_units=2**40)
    assert work_units_by_contributor(session, "a") == {1: 12, 2: 1}
    assert work_units_by_contributor(session, "b") == {2: 2**40}
    assert work_units_by_contributor(session) == {1: 12, 2: 1 + 2**40}
    assert work_units_by_contributor(session, "nope") == {}
    # Ascending contributor ids, whatever order the credits came in.
    for cid in (9, 3, 12, 0):
        credit_work(session, credit_id=f"c:{cid}", contributor_id=cid, job_ref="c", work_units=1)
    assert list(work_units_by_contributor(session, "c")) == [0, 3, 9, 12]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"work_units": 0}, InvalidAmountError),
        ({"work_units": -5}, InvalidAmountError),
        ({"work_units": 1.0}, InvalidAmountError),
        ({"work_units": True}, InvalidAmountError),
        ({"work_units": 2**63}, InvalidAmountError),
        ({"credit_id": ""}, InvalidIdError),
        ({"credit_id": "x" * 201}, InvalidIdError),
        ({"job_ref": 5}, InvalidIdError),
        ({"contributor_id": "3"}, InvalidIdError),
        ({"contributor_id": -1}, InvalidIdError),
    ],
)
def test_credit_work_rejects_bad_input(session, kwargs, error):
    args = dict(credit_id="j:0", contributor_id=3, job_ref="j", work_units=10)
    with pytest.raises(error):
        credit_work(session, **{**args, **kwargs})
    assert snapshot(session)[3] == []


# --------------------------------------------------------------------------- rewards


def test_reward_split_is_exact(session):
    credit_job(session, "job", {1: 1, 2: 1, 3: 1})
    credit_work(session, credit_id="job:extra", contributor_id=3, job_ref="job", work_units=1)
    posting = post_reward(session, reward_id="r1", job_ref="job", amount_units=1001, fee_bps=250)
    assert posting.status == "created"
    assert posting.fee_units == 1001 * 250 // 10_000 == 25
    # rest 976 split 1:1:2 → 244, 244, 488 exactly
    assert posting.shares == {1: 244, 2: 244, 3: 488}
    assert posting.held_units == 0
    assert posting.fee_units + sum(posting.shares.values()) + posting.held_units == 1001
    assert balances(session) == posting.shares
    assert account_balance(session, AccountKind.OPERATOR_FEE) == 25
    assert account_balance(session, "pool_income") == -1001
    assert account_balance(session, AccountKind.HELD) == 0
    assert account_balance(session, "contributor", 3) == 488
    assert total_balance(session) == 0
    assert audit(session) == []
    ids = set(session.scalars(select(Transfer.id)).all())
    assert ids == {"r1:fee", "r1:share:1", "r1:share:2", "r1:share:3"}


def test_remainder_goes_by_largest_fraction(session):
    credit_job(session, "job", {10: 1, 20: 1, 30: 1})
    posting = post_reward(session, reward_id="r", job_ref="job", amount_units=10, fee_bps=0)
    assert posting.shares == {10: 4, 20: 3, 30: 3}
    assert posting.fee_units == 0
    assert session.get(Transfer, "r:fee") is None


def test_zero_shares_get_no_transfer(session):
    credit_job(session, "job", {1: 10**9, 2: 1})
    posting = post_reward(session, reward_id="r", job_ref="job", amount_units=100, fee_bps=0)
    assert posting.shares == {1: 100}
    assert session.get(Transfer, "r:share:2") is None
    assert audit(session) == []


def test_full_fee_leaves_nothing_to_share(session):
    credit_job(session, "job", {1: 5})
    posting = post_reward(session, reward_id="r", job_ref="job", amount_units=77, fee_bps=10_000)
    assert (posting.fee_units, posting.shares, posting.held_units) == (77, {}, 0)
    assert audit(session) == []


def test_repeated_reward_is_a_noop(session):
    credit_job(session, "job", {1: 3, 2: 5})
    first = post_reward(session, reward_id="r", job_ref="job", amount_units=10**6, fee_bps=100)
    # Work credited after the reward must not change what a repeat reports.
    credit_work(session, credit_id="late", contributor_id=9, job_ref="job", work_units=100)
    session.commit()
    before = snapshot(session)
    again = post_reward(session, reward_id="r", job_ref="job", amount_units=10**6, fee_bps=100)
    assert again.status == "exists"
    assert (again.fee_units, again.shares, again.held_units) == (
        first.fee_units,
        first.shares,
        first.held_units,
    )
    assert snapshot(session) == before
    assert audit(session) == []


@pytest.mark.parametrize(
    "change", [{"amount_units": 10**6 + 1}, {"fee_bps": 101}, {"job_ref": "other"}]
)
def test_conflicting_repost_is_an_error_and_changes_nothing(session, change):
    credit_job(session, "job", {1: 3, 2: 5})
    args = dict(reward_id="r", job_ref="job", amount_units=10**6, fee_bps=100)
    post_reward(session, **args)
    session.commit()
    before = snapshot(session)
    with pytest.raises(ConflictError) as info:
        post_reward(session, **{**args, **change})
    assert set(info.value.differences) == set(change)
    assert snapshot(session) == before
    # the session (and its transaction) is still usable afterwards
    assert post_reward(session, **args).status == "exists"
    session.commit()
    assert snapshot(session) == before


def test_reward_without_work_goes_to_held(session):
    posting = post_reward(session, reward_id="r", job_ref="idle", amount_units=999, fee_bps=1000)
    assert posting.fee_units == 99
    assert posting.shares == {}
    assert posting.held_units == 900
    assert account_balance(session, AccountKind.HELD) == 900
    assert balances(session) == {}
    held = session.get(Transfer, "r:held")
    assert held is not None and held.code == TransferCode.REWARD_HELD
    assert held.amount_units == 900
    assert audit(session) == []
    again = post_reward(session, reward_id="r", job_ref="idle", amount_units=999, fee_bps=1000)
    assert (again.status, again.held_units, again.fee_units) == ("exists", 900, 99)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"amount_units": 0}, InvalidAmountError),
        ({"amount_units": -1}, InvalidAmountError),
        ({"amount_units": 1.0}, InvalidAmountError),
        ({"amount_units": Decimal("1.5")}, InvalidAmountError),
        ({"amount_units": True}, InvalidAmountError),
        ({"amount_units": 10**78}, InvalidAmountError),
        ({"fee_bps": -1}, InvalidFeeError),
        ({"fee_bps": 10_001}, InvalidFeeError),
        ({"fee_bps": 2.5}, InvalidFeeError),
        ({"reward_id": ""}, InvalidIdError),
        ({"job_ref": None}, InvalidIdError),
    ],
)
def test_post_reward_rejects_bad_input(session, kwargs, error):
    credit_job(session, "job", {1: 1})
    before = snapshot(session)
    args = dict(reward_id="r", job_ref="job", amount_units=100, fee_bps=0)
    with pytest.raises(error) as info:
        post_reward(session, **{**args, **kwargs})
    assert isinstance(info.value, ValueError)
    assert snapshot(session) == before


def test_failure_midway_writes_nothing(session, monkeypatch):
    credit_job(session, "job", {1: 1, 2: 2})
    post_reward(session, reward_id="r0", job_ref="job", amount_units=10, fee_bps=0)
    session.commit()
    before = snapshot(session)
    real = ledger_module._apply_transfers

    def explode(*args, **kwargs):
        real(*args, **kwargs)  # transfers and balances flushed, then a crash
        raise RuntimeError("power cut")

    monkeypatch.setattr(ledger_module, "_apply_transfers", explode)
    with pytest.raises(RuntimeError, match="power cut"):
        post_reward(session, reward_id="r1", job_ref="job", amount_units=1000, fee_bps=500)
    assert snapshot(session) == before
    monkeypatch.undo()
    assert post_reward(session, reward_id="r1", job_ref="job", amount_units=1000, fee_bps=500)
    session.commit()
    assert audit(session) == []


def test_amounts_beyond_64_bits_round_trip_exactly(engine):
    amount = 2**64 * 3 + 12_345
    huge = 2**255 + 1
    with Session(engine) as s:
        credit_job(s, "job", {1: 1, 2: 2})
        p1 = post_reward(s, reward_id="r1", job_ref="job", amount_units=amount, fee_bps=333)
        p2 = post_reward(s, reward_id="r2", job_ref="job", amount_units=huge, fee_bps=1)
        s.commit()
    expected_fee = fee_units(amount, 333) + fee_units(huge, 1)
    with Session(engine) as s:
        assert s.get(Reward, "r1").amount_units == amount
        assert s.get(Reward, "r2").amount_units == huge
        assert isinstance(s.get(Reward, "r2").amount_units, int)
        assert account_balance(s, AccountKind.POOL_INCOME) == -(amount + huge)
        assert account_balance(s, AccountKind.OPERATOR_FEE) == expected_fee
        shares = split_largest_remainder(amount - fee_units(amount, 333), {1: 1, 2: 2})
        assert p1.shares == shares
        assert balances(s) == {c: p1.shares[c] + p2.shares[c] for c in (1, 2)}
        assert post_reward(s, reward_id="r2", job_ref="job", amount_units=huge, fee_bps=1) == (
            p2.__class__(**{**_fields(p2), "status": "exists"})
        )
        assert audit(s) == []


def _fields(posting) -> dict:
    return {name: getattr(posting, name) for name in posting.__dataclass_fields__}


def test_units_column_rejects_inexact_values(session):
    credit_job(session, "job", {1: 1})
    post_reward(session, reward_id="r", job_ref="job", amount_units=5, fee_bps=0)
    session.commit()
    account = session.scalars(select(Account).where(Account.contributor_id == 1)).one()
    for bad in (1.5, 2.0, True, Decimal("0.1"), "7"):
        account.balance_units = bad
        with pytest.raises(StatementError) as info:
            session.flush()
        assert isinstance(info.value.orig, InvalidAmountError)
        session.rollback()
        account = session.scalars(select(Account).where(Account.contributor_id == 1)).one()
    assert account.balance_units == 5
    # negative and maximal values round-trip too
    stmt = text("SELECT :v AS v").bindparams(bindparam("v", type_=Units())).columns(v=Units())
    for value in (-(2**200), 0, 10**78 - 1, Decimal(2**70)):
        assert session.execute(stmt, {"v": value}).scalar_one() == int(value)


def test_transfers_are_immutable(session):
    credit_job(session, "job", {1: 1})
    post_reward(session, reward_id="r", job_ref="job", amount_units=5, fee_bps=0)
    session.commit()
    transfer = session.get(Transfer, "r:share:1")
    transfer.amount_units = 6
    with pytest.raises(ImmutableRecordError):
        session.commit()
    session.rollback()
    session.delete(session.get(WorkCredit, "job:1"))
    with pytest.raises(ImmutableRecordError):
        session.commit()
    session.rollback()
    assert audit(session) == []


# --------------------------------------------------------------------------- audit


def _set_units(session: Session, sql: str, **params: object) -> None:
    stmt = text(sql).bindparams(*(bindparam(k, type_=Units()) for k in params if k == "v"))
    session.execute(stmt, params)
    session.commit()


def test_audit_reports_a_corrupted_balance(session):
    credit_job(session, "job", {1: 1, 2: 1})
    post_reward(session, reward_id="r", job_ref="job", amount_units=1000, fee_bps=100)
    assert audit(session) == []
    _set_units(
        session,
        "UPDATE account SET balance_units = :v WHERE kind = 'contributor' AND contributor_id = 2",
        v=496,
    )
    problems = audit(session)
    assert any("sum to 1, not 0" in p for p in problems), problems
    assert any("contributor 2" in p and "495 from its transfers" in p for p in problems), problems


def test_audit_reports_a_corrupted_transfer(session):
    credit_job(session, "job", {1: 1})
    post_reward(session, reward_id="r", job_ref="job", amount_units=1000, fee_bps=0)
    _set_units(session, "UPDATE transfer SET amount_units = :v WHERE id = 'r:share:1'", v=999)
    problems = audit(session)
    assert any("reward 'r'" in p and "999" in p for p in problems), problems
    assert any("pool_income" in p for p in problems), problems


def test_audit_reports_a_negative_contributor_balance(session):
    credit_job(session, "job", {1: 1, 2: 1})
    post_reward(session, reward_id="r", job_ref="job", amount_units=10, fee_bps=0)
    _set_units(
        session,
        "UPDATE account SET balance_units = :v WHERE kind = 'contributor' AND contributor_id = 1",
        v=-5,
    )
    assert any("negative balance -5" in p for p in audit(session))


def test_audit_of_an_empty_ledger_is_clean(session):
    assert audit(session) == []
    assert balances(session) == {}
    assert account_balance(session, AccountKind.POOL_INCOME) == 0


def test_account_balance_checks_its_key(session):
    with pytest.raises(InvalidIdError):
        account_balance(session, AccountKind.CONTRIBUTOR)
    with pytest.raises(InvalidIdError):
        account_balance(session, AccountKind.HELD, 3)
    with pytest.raises(InvalidIdError):
        account_balance(session, "savings")


# --------------------------------------------------------------------------- property test

credit_ops = st.tuples(
    st.just("credit"),
    st.integers(0, 7),  # credit id: repeats and conflicts happen
    st.integers(1, 4),  # contributor
    st.integers(0, 2),  # job
    st.integers(1, 1000),  # work units
)
reward_ops = st.tuples(
    st.just("reward"),
    st.integers(0, 4),  # reward id
    st.integers(0, 3),  # job (job 3 never gets work → held)
    st.one_of(st.integers(1, 10**6), st.integers(2**64, 2**80)),
    st.sampled_from([0, 1, 250, 9_999, 10_000]),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(st.one_of(credit_ops, reward_ops), min_size=1, max_size=14))
def test_random_histories_conserve_and_allocate_exactly(engine, ops):
    clear_ledger(engine)
    credits: dict[str, tuple[int, str, int]] = {}
    rewards: dict[str, tuple[str, int, int]] = {}
    postings = {}
    with Session(engine) as s:
        for op in ops:
            if op[0] == "credit":
                _, idx, cid, job, units = op
                key, contents = f"c{idx}", (cid, f"job{job}", units)
                if key in credits and credits[key] != contents:
                    with pytest.raises(ConflictError):
                        credit_work(
                            s,
                            credit_id=key,
                            contributor_id=cid,
                            job_ref=f"job{job}",
                            work_units=units,
                        )
                else:
                    status = credit_work(
                        s, credit_id=key, contributor_id=cid, job_ref=f"job{job}", work_units=units
                    )
                    assert status == ("exists" if key in credits else "created")
                    credits[key] = contents
            else:
                _, idx, job, amount, bps = op
                key, contents = f"r{idx}", (f"job{job}", amount, bps)
                args = dict(reward_id=key, job_ref=f"job{job}", amount_units=amount, fee_bps=bps)
                if key in rewards and rewards[key] != contents:
                    with pytest.raises(ConflictError):
                        post_reward(s, **args)
                    continue
                posting = post_reward(s, **args)
                assert posting.fee_units + sum(posting.shares.values()) + posting.held_units == (
                    amount
                )
                if key in rewards:
                    assert posting.status == "exists"
                    old = postings[key]
                    assert (posting.fee_units, posting.shares, posting.held_units) == (
                        old.fee_units,
                        old.shares,
                        old.held_units,
                    )
                else:
                    assert posting.status == "created"
                    weights: dict[int, int] = defaultdict(int)
                    for cid, jref, units in credits.values():
                        if jref == f"job{job}":
                            weights[cid] += units
                    rest = amount - fee_units(amount, bps)
                    if weights:
                        expect = split_largest_remainder(rest, weights)
                        assert posting.shares == {c: u for c, u in expect.items() if u}
                        assert posting.held_units == 0
                    else:
                        assert posting.shares == {} and posting.held_units == rest
                    rewards[key] = contents
                    postings[key] = posting
            assert total_balance(s) == 0
            s.commit()
        assert audit(s) == []
        owed: dict[int, int] = defaultdict(int)
        for posting in postings.values():
            for cid, units in posting.shares.items():
                owed[cid] += units
        assert {c: u for c, u in balances(s).items() if u} == dict(owed)
        assert account_balance(s, AccountKind.POOL_INCOME) == -sum(
            a for _, a, _ in rewards.values()
        )


# --------------------------------------------------------------------------- concurrency


def _wait_for_blocked_backend(engine: Engine, timeout: float = 10.0) -> None:
    """Wait until some backend of this database waits on a lock."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second writer never blocked on the first")


def _race(engine: Engine, first, second) -> tuple[object, object]:
    """Run ``first`` until just before its commit, start ``second`` (which must block), let go."""
    results: dict[str, object] = {}
    ready, go = threading.Event(), threading.Event()

    def run(name: str, fn, hold: bool) -> None:
        with Session(engine) as s:
            if hold:

                @event.listens_for(s, "before_commit")
                def _hold(_session: Session) -> None:
                    ready.set()
                    go.wait(20)

            try:
                results[name] = fn(s)
            except Exception as exc:
                results[name] = exc

    a = threading.Thread(target=run, args=("a", first, True))
    a.start()
    assert ready.wait(20)
    b = threading.Thread(target=run, args=("b", second, False))
    b.start()
    try:
        _wait_for_blocked_backend(engine)
    finally:
        go.set()
        a.join(30)
        b.join(30)
    return results["a"], results["b"]


@pytest.mark.parametrize("same", [True, False], ids=["same-contents", "other-contents"])
def test_concurrent_post_of_one_reward_id(engine, same):
    require_postgres(engine)
    with Session(engine) as s:
        credit_job(s, "job", {1: 2, 2: 3})
    a, b = _race(
        engine,
        lambda s: committed(
            s, post_reward(s, reward_id="r", job_ref="job", amount_units=10**20, fee_bps=50)
        ),
        lambda s: committed(
            s,
            post_reward(
                s, reward_id="r", job_ref="job", amount_units=10**20 if same else 5, fee_bps=50
            ),
        ),
    )
    assert a.status == "created"
    if same:
        assert b.status == "exists"
        assert (b.fee_units, b.shares, b.held_units) == (a.fee_units, a.shares, a.held_units)
    else:
        assert isinstance(b, ConflictError)
    with Session(engine) as s:
        assert account_balance(s, AccountKind.POOL_INCOME) == -(10**20)
        assert audit(s) == []


@pytest.mark.parametrize("same", [True, False], ids=["same-contents", "other-contents"])
def test_concurrent_credit_of_one_id(engine, same):
    require_postgres(engine)
    a, b = _race(
        engine,
        lambda s: committed(
            s, credit_work(s, credit_id="c", contributor_id=1, job_ref="j", work_units=10)
        ),
        lambda s: committed(
            s,
            credit_work(
                s, credit_id="c", contributor_id=1, job_ref="j", work_units=10 if same else 11
            ),
        ),
    )
    assert a == "created"
    assert b == "exists" if same else isinstance(b, ConflictError)
    with Session(engine) as s:
        assert work_units_by_contributor(s) == {1: 10}


@pytest.mark.parametrize("same", [True, False], ids=["same-contents", "other-contents"])
def test_concurrent_bulk_credits_overlapping(engine, same):
    """The second batch's plain INSERT waits for the first's rows, fails on the key once
    they commit, and is made again with ON CONFLICT: the overlap is compared, not doubled."""
    require_postgres(engine)
    first = [Credit(f"c{i}", i, "j", 10) for i in range(3)]
    second = [Credit(f"c{i}", i, "j", 10 if same or i != 2 else 11) for i in range(1, 4)]
    a, b = _race(
        engine,
        lambda s: committed(s, credit_work_many(s, first)),
        lambda s: committed(s, credit_work_many(s, second)),
    )
    assert a == ["created"] * 3
    if same:
        assert b == ["exists", "exists", "created"]
        expected = {0: 10, 1: 10, 2: 10, 3: 10}
    else:
        assert isinstance(b, ConflictError) and b.record_id == "c2"
        expected = {0: 10, 1: 10, 2: 10}
    with Session(engine) as s:
        assert work_units_by_contributor(s) == expected


def test_concurrent_rewards_lose_no_update(engine):
    require_postgres(engine)
    with Session(engine) as s:
        credit_job(s, "job", {1: 1, 2: 2, 3: 3})
    threads, per_thread, amount = 6, 5, 2**65 + 1
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            with Session(engine) as s:
                for i in range(per_thread):
                    post_reward(
                        s, reward_id=f"r{t}.{i}", job_ref="job", amount_units=amount, fee_bps=100
                    )
                    s.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(60)
    assert errors == []
    n = threads * per_thread
    fee = fee_units(amount, 100)
    share = split_largest_remainder(amount - fee, {1: 1, 2: 2, 3: 3})
    with Session(engine) as s:
        assert balances(s) == {c: n * u for c, u in share.items()}
        assert account_balance(s, AccountKind.OPERATOR_FEE) == n * fee
        assert account_balance(s, AccountKind.POOL_INCOME) == -n * amount
        assert audit(s) == []


def test_concurrent_rewards_creating_overlapping_accounts(engine):
    require_postgres(engine)
    threads, contributors = 8, 12
    jobs = {t: {(t * 5 + k) % contributors: k + 1 for k in range(6)} for t in range(threads)}
    with Session(engine) as s:
        for t, work in jobs.items():
            credit_job(s, f"job{t}", work)
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker(t: int) -> None:
        try:
            with Session(engine) as s:
                start.wait(10)
                for i in range(3):
                    post_reward(
                        s, reward_id=f"r{t}.{i}", job_ref=f"job{t}", amount_units=10**9, fee_bps=7
                    )
                    s.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(60)
    assert errors == []
    owed: dict[int, int] = defaultdict(int)
    rest = 10**9 - fee_units(10**9, 7)
    for work in jobs.values():
        for cid, units in split_largest_remainder(rest, work).items():
            owed[cid] += 3 * units
    with Session(engine) as s:
        assert balances(s) == dict(owed)
        assert audit(s) == []
        # one row per account, whatever the races
        assert len(s.scalars(select(Account)).all()) == contributors + 2


def test_reward_creating_an_account_a_concurrent_reward_is_creating(engine):
    """The plain INSERT of new accounts meets the other writer's row: it waits, then retries.

    The second reward probes before the first commits (contributor 2 has no account
    yet), its INSERT of contributors 2 and 3 blocks on the first's uncommitted row for
    2 and fails on the unique index once the first commits; the savepoint is rolled
    back, ``ON CONFLICT DO NOTHING`` creates 3, and 2 is locked and added to.
    """
    require_postgres(engine)
    with Session(engine) as s:
        credit_job(s, "job-a", {1: 1, 2: 1})
        credit_job(s, "job-b", {2: 1, 3: 3})
    a, b = _race(
        engine,
        lambda s: committed(
            s, post_reward(s, reward_id="ra", job_ref="job-a", amount_units=100, fee_bps=0)
        ),
        lambda s: committed(
            s, post_reward(s, reward_id="rb", job_ref="job-b", amount_units=1000, fee_bps=0)
        ),
    )
    assert a.shares == {1: 50, 2: 50} and b.shares == {2: 250, 3: 750}
    with Session(engine) as s:
        assert balances(s) == {1: 50, 2: 300, 3: 750}
        assert len(s.scalars(select(Account)).all()) == 3 + 1  # and pool_income
        assert audit(s) == []


@pytest.mark.parametrize("odd", ["tab\there", "back\\slash", "new\nline", "cr\rhere", "\\N"])
def test_post_reward_stores_ids_with_copy_special_characters(session, odd):
    """Ids with COPY's special characters (tab, backslash, newlines, ``\\N``) round-trip."""
    for contributor_id in (1, 2, 3):
        credit_work(
            session,
            credit_id=f"{odd}:{contributor_id}",
            contributor_id=contributor_id,
            job_ref=odd,
            work_units=contributor_id,
        )
    posting = post_reward(session, reward_id=odd, job_ref=odd, amount_units=6_000, fee_bps=100)
    assert posting.shares == {1: 990, 2: 1980, 3: 2970}
    stored = session.exec(
        select(Transfer.id, Transfer.job_ref, Transfer.reward_id).order_by(Transfer.id)
    ).all()
    assert sorted(stored) == sorted(
        [(f"{odd}:fee", odd, odd)] + [(f"{odd}:share:{c}", odd, odd) for c in (1, 2, 3)]
    )
    again = post_reward(session, reward_id=odd, job_ref=odd, amount_units=6_000, fee_bps=100)
    assert again.status == "exists" and again.shares == posting.shares
    assert audit(session) == []

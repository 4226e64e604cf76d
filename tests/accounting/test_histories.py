"""Random histories of every ledger operation, checked against a plain-Python model.

The writers never commit: a history commits after the operations it draws to, so
that several writers (failed ones included) share one transaction in between.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session

from accounting import (
    AccountKind,
    ConflictError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidStateError,
    account_balance,
    audit,
    balances,
    create_payout_batch,
    credit_work,
    fee_units,
    mark_payout,
    post_penalty,
    post_reward,
    release_held,
    request_withdrawal,
    split_largest_remainder,
    statement,
)

from ledger_tables import clear_tables

MIN_UNITS = 5
LEDGER_TABLES = {
    "transfer",
    "reward",
    "work_credit",
    "account",
    "penalty",
    "held_release",
    "withdrawal",
    "payout_batch",
}


def clear_ledger(engine: Engine) -> None:
    clear_tables(engine, LEDGER_TABLES)


cids = st.integers(1, 3)
ops = st.one_of(
    st.tuples(st.just("credit"), st.integers(0, 6), cids, st.integers(0, 1), st.integers(1, 50)),
    st.tuples(
        st.just("reward"),
        st.integers(0, 4),
        st.integers(0, 2),  # job 2 never gets work
        st.integers(1, 10**4),
        st.sampled_from([0, 250, 10_000]),
        st.sampled_from([None, 1, 7, 60, 10**6]),  # None: PROP, else the PPLNS window
    ),
    st.tuples(st.just("penalty"), st.integers(0, 3), cids, st.integers(1, 3000)),
    st.tuples(st.just("withdraw"), st.integers(0, 4), cids, st.integers(1, 3000)),
    st.tuples(st.just("batch"), st.integers(0, 2)),
    st.tuples(st.just("mark"), st.integers(0, 4), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("release"), st.integers(0, 2), st.integers(0, 4), st.integers(0, 3)),
)


class Model:
    """What the ledger should hold, computed without it."""

    def __init__(self) -> None:
        self.credits: dict[str, tuple[int, str, int]] = {}  # insertion order = seq order
        self.rewards: dict[str, tuple] = {}
        self.postings: dict[str, object] = {}
        self.held: dict[str, int] = {}
        self.released: dict[str, tuple[str, int | None]] = {}  # release id → (reward, to)
        self.penalties: dict[str, tuple] = {}
        self.withdrawals: dict[str, tuple[int, int]] = {}
        self.status: dict[str, str] = {}
        self.batch_of: dict[str, str] = {}
        self.batches: set[str] = set()
        self.bal: dict[int, int] = defaultdict(int)
        self.system: dict[AccountKind, int] = defaultdict(int)

    def weights(self, job: str, window: int | None) -> dict[int, int]:
        out: dict[int, int] = defaultdict(int)
        if window is None:
            for cid, jref, units in self.credits.values():
                if jref == job:
                    out[cid] += units
            return dict(out)
        left = window
        for cid, _, units in reversed(list(self.credits.values())):
            take = min(left, units)
            out[cid] += take
            left -= take
            if not left:
                break
        return dict(out)


def run_op(s: Session, m: Model, op: tuple) -> None:
    kind = op[0]
    if kind == "credit":
        _, i, cid, job, units = op
        key, contents = f"c{i}", (cid, f"job{job}", units)
        args = dict(credit_id=key, contributor_id=cid, job_ref=f"job{job}", work_units=units)
        if key in m.credits and m.credits[key] != contents:
            with pytest.raises(ConflictError):
                credit_work(s, **args)
            return
        assert credit_work(s, **args) == ("exists" if key in m.credits else "created")
        m.credits.setdefault(key, contents)
    elif kind == "reward":
        _, i, job, amount, bps, window = op
        key, contents = f"r{i}", (f"job{job}", amount, bps, window)
        args = dict(reward_id=key, job_ref=f"job{job}", amount_units=amount, fee_bps=bps)
        if window is not None:
            args.update(scheme="pplns", pplns_window_units=window)
        if key in m.rewards and m.rewards[key] != contents:
            with pytest.raises(ConflictError):
                post_reward(s, **args)
            return
        p = post_reward(s, **args)
        assert p.fee_units + sum(p.shares.values()) + p.held_units == amount
        if key in m.rewards:
            old = m.postings[key]
            assert p.status == "exists"
            assert (p.fee_units, p.shares, p.held_units) == (
                old.fee_units,
                old.shares,
                old.held_units,
            )
            return
        assert p.status == "created"
        fee, weights = fee_units(amount, bps), m.weights(f"job{job}", window)
        rest = amount - fee
        split = split_largest_remainder(rest, weights) if weights else {}
        assert p.shares == {c: u for c, u in split.items() if u}
        assert p.held_units == (0 if weights else rest)
        m.rewards[key], m.postings[key] = contents, p
        m.system[AccountKind.OPERATOR_FEE] += fee
        for c, u in p.shares.items():
            m.bal[c] += u
        if p.held_units:
            m.held[key] = p.held_units
            m.system[AccountKind.HELD] += p.held_units
    elif kind == "penalty":
        _, i, cid, amount = op
        key, contents = f"p{i}", (cid, amount)
        args = dict(
            penalty_id=key, contributor_id=cid, job_ref="j", amount_units=amount, reason="r"
        )
        if key in m.penalties:
            if m.penalties[key] != contents:
                with pytest.raises(ConflictError):
                    post_penalty(s, **args)
            else:
                assert post_penalty(s, **args) == "exists"
        elif amount > m.bal[cid]:
            with pytest.raises(InsufficientFundsError):
                post_penalty(s, **args)
        else:
            assert post_penalty(s, **args) == "created"
            m.penalties[key] = contents
            m.bal[cid] -= amount
            m.system[AccountKind.PENALTIES] += amount
    elif kind == "withdraw":
        _, i, cid, amount = op
        key, contents = f"w{i}", (cid, amount)
        args = dict(withdrawal_id=key, contributor_id=cid, amount_units=amount, min_units=MIN_UNITS)
        if key in m.withdrawals:
            if m.withdrawals[key] != contents:
                with pytest.raises(ConflictError):
                    request_withdrawal(s, **args)
            else:
                assert request_withdrawal(s, **args) == "exists"
        elif amount < MIN_UNITS:
            with pytest.raises(InvalidAmountError):
                request_withdrawal(s, **args)
        elif amount > m.bal[cid]:
            with pytest.raises(InsufficientFundsError):
                request_withdrawal(s, **args)
        else:
            assert request_withdrawal(s, **args) == "created"
            m.withdrawals[key], m.status[key] = contents, "pending"
            m.bal[cid] -= amount
            m.system[AccountKind.PAYOUT_PENDING] += amount
    elif kind == "batch":
        key = f"b{op[1]}"
        info = create_payout_batch(s, batch_id=key)
        if key in m.batches:
            assert info.status == "exists"
        else:
            assert info.status == "created"
            gathered = sorted(w for w, st_ in m.status.items() if st_ == "pending")
            assert list(info.withdrawal_ids) == gathered
            for w in gathered:
                m.status[w], m.batch_of[w] = "batched", key
            m.batches.add(key)
        assert list(info.withdrawal_ids) == sorted(w for w, b in m.batch_of.items() if b == key)
    elif kind == "mark":
        _, i, b, paid = op
        key, batch, outcome = f"w{i}", f"b{b}", "paid" if paid else "failed"
        args = dict(batch_id=batch, withdrawal_id=key, outcome=outcome)
        if m.batch_of.get(key) != batch:
            with pytest.raises(InvalidStateError):
                mark_payout(s, **args)
        elif m.status[key] == outcome:
            assert mark_payout(s, **args) == "exists"
        elif m.status[key] != "batched":
            with pytest.raises(ConflictError):
                mark_payout(s, **args)
        else:
            assert mark_payout(s, **args) == "created"
            m.status[key] = outcome
            cid, amount = m.withdrawals[key]
            m.system[AccountKind.PAYOUT_PENDING] -= amount
            if paid:
                m.system[AccountKind.PAYOUTS] += amount
            else:
                m.bal[cid] += amount
    else:
        _, i, r, to = op
        key, reward, target = f"x{i}", f"r{r}", None if to == 0 else to
        args = dict(release_id=key, reward_id=reward, to="operator" if to == 0 else to)
        if key in m.released:
            if m.released[key] != (reward, target):
                with pytest.raises(ConflictError):
                    release_held(s, **args)
            else:
                assert release_held(s, **args) == "exists"
        elif reward not in m.held or reward in {rw for rw, _ in m.released.values()}:
            with pytest.raises(InvalidStateError):
                release_held(s, **args)
        else:
            assert release_held(s, **args) == "created"
            m.released[key] = (reward, target)
            amount = m.held[reward]
            m.system[AccountKind.HELD] -= amount
            if target is None:
                m.system[AccountKind.OPERATOR_FEE] += amount
            else:
                m.bal[target] += amount


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=st.lists(ops, min_size=1, max_size=25),
    commits=st.lists(st.booleans(), min_size=25, max_size=25),
)
def test_random_histories_of_every_operation(engine, history, commits):
    clear_ledger(engine)
    m = Model()
    with Session(engine) as s:
        for op, commit in zip(history, commits, strict=False):
            run_op(s, m, op)
            assert all(u >= 0 for u in balances(s).values())
            if commit:
                s.commit()
        s.commit()
        assert audit(s) == []
        assert {c: u for c, u in balances(s).items() if u} == {c: u for c, u in m.bal.items() if u}
        for kind, units in m.system.items():
            assert account_balance(s, kind) == units, kind
        assert account_balance(s, AccountKind.POOL_INCOME) == -sum(r[1] for r in m.rewards.values())
        for cid in (1, 2, 3):
            lines = statement(s, cid)
            assert (lines[-1].balance_units if lines else 0) == m.bal[cid]


# --------------------------------------------------------------------------- parallel


def test_parallel_withdrawals_and_rewards_on_one_contributor(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers are exercised on PostgreSQL only")
    with Session(engine) as s:
        credit_work(s, credit_id="c", contributor_id=1, job_ref="job", work_units=1)
        post_reward(s, reward_id="seed", job_ref="job", amount_units=1000, fee_bps=0)
        s.commit()
    threads, per_thread, reward, withdraw = 8, 12, 7, 100
    outcome: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker(t: int) -> None:
        try:
            with Session(engine) as s:
                start.wait(10)
                for i in range(per_thread):
                    if (t + i) % 2:
                        post_reward(
                            s,
                            reward_id=f"r{t}.{i}",
                            job_ref="job",
                            amount_units=reward,
                            fee_bps=0,
                        )
                        s.commit()
                        with lock:
                            outcome["rewards"] += 1
                    else:
                        try:
                            request_withdrawal(
                                s,
                                withdrawal_id=f"w{t}.{i}",
                                contributor_id=1,
                                amount_units=withdraw,
                                min_units=1,
                            )
                            s.commit()
                            with lock:
                                outcome["withdrawals"] += 1
                        except InsufficientFundsError:
                            s.rollback()
                            with lock:
                                outcome["refused"] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(60)
    assert errors == []
    assert outcome["withdrawals"] + outcome["refused"] == threads * per_thread // 2
    assert outcome["withdrawals"] >= 1000 // withdraw
    expected = 1000 + outcome["rewards"] * reward - outcome["withdrawals"] * withdraw
    with Session(engine) as s:
        assert balances(s) == {1: expected}
        assert expected >= 0
        assert account_balance(s, AccountKind.PAYOUT_PENDING) == outcome["withdrawals"] * withdraw
        lines = statement(s, 1)
        assert lines[-1].balance_units == expected
        assert audit(s) == []

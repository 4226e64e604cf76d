"""The caller owns the transaction: writers never commit; bulk credits with ``credit_work_many``.

On SQLite and PostgreSQL: nothing a writer did is visible to another session until
the caller commits, and a rollback undoes it; a writer commits together with the
caller's own writes; a failed writer undoes only its own writes (its savepoint), the
caller's transaction stays usable.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from accounting import (
    ConflictError,
    Credit,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidIdError,
    WorkCredit,
    audit,
    balances,
    create_payout_batch,
    credit_work,
    credit_work_many,
    mark_payout,
    post_penalty,
    post_reward,
    release_held,
    request_withdrawal,
    work_units_by_contributor,
)
from pool_api.store.models import Contributor


def credits_seen(engine: Engine) -> list[tuple[str, int]]:
    """The work credits another session sees (committed ones), by ``seq``."""
    with Session(engine) as other:
        return [
            (credit_id, int(seq))
            for credit_id, seq in other.execute(
                select(WorkCredit.id, WorkCredit.seq).order_by(WorkCredit.seq)
            )
        ]


def reward_count(engine: Engine) -> int:
    with Session(engine) as other:
        return int(other.execute(text("SELECT count(*) FROM reward")).scalar_one())


# --------------------------------------------------------------------------- no commit inside


def test_writers_do_not_commit(engine):
    with Session(engine) as s:
        assert credit_work(s, credit_id="j:0", contributor_id=1, job_ref="j", work_units=3)
        assert credit_work_many(s, [Credit("j:1", 2, "j", 1)]) == ["created"]
        post_reward(s, reward_id="r", job_ref="j", amount_units=100, fee_bps=0)
        assert credits_seen(engine) == [] and reward_count(engine) == 0
        s.rollback()
        assert work_units_by_contributor(s) == {} and balances(s) == {}
    with Session(engine) as s:
        credit_work_many(s, [Credit("j:0", 1, "j", 3), Credit("j:1", 2, "j", 1)])
        post_reward(s, reward_id="r", job_ref="j", amount_units=100, fee_bps=0)
        s.commit()
    assert [cid for cid, _ in credits_seen(engine)] == ["j:0", "j:1"]
    with Session(engine) as s:
        assert balances(s) == {1: 75, 2: 25}
        assert audit(s) == []


def test_every_writer_leaves_the_commit_to_the_caller(engine):
    with Session(engine) as s:
        credit_work(s, credit_id="j:0", contributor_id=1, job_ref="j", work_units=1)
        post_reward(s, reward_id="r", job_ref="j", amount_units=1000, fee_bps=0)
        post_reward(s, reward_id="idle", job_ref="nobody", amount_units=10, fee_bps=0)
        s.commit()
    writers = [
        lambda s: post_penalty(
            s, penalty_id="p", contributor_id=1, job_ref="j", amount_units=5, reason="strike"
        ),
        lambda s: release_held(s, release_id="x", reward_id="idle", to="operator"),
        lambda s: request_withdrawal(
            s, withdrawal_id="w", contributor_id=1, amount_units=100, min_units=1
        ),
        lambda s: create_payout_batch(s, batch_id="b"),
        lambda s: mark_payout(s, batch_id="b", withdrawal_id="w", outcome="paid"),
    ]
    tables = ("penalty", "held_release", "withdrawal", "payout_batch", "transfer")

    def counts() -> dict[str, int]:
        with Session(engine) as other:
            return {
                t: int(other.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in tables
            }

    for write in writers:
        before = counts()
        with Session(engine) as s:
            write(s)
            assert counts() == before  # not visible to others: not committed
            s.commit()
        assert counts() != before
    with Session(engine) as s:
        assert audit(s) == []


def test_a_writer_commits_together_with_the_callers_writes(engine):
    with Session(engine) as s:
        s.add(Contributor(name="ada", api_key_hash="a" * 64))
        credit_work(s, credit_id="j:0", contributor_id=1, job_ref="j", work_units=1)
        s.rollback()
    with Session(engine) as other:
        assert other.execute(select(Contributor)).all() == []
    assert credits_seen(engine) == []
    with Session(engine) as s:
        s.add(Contributor(name="ada", api_key_hash="a" * 64))
        s.flush()
        credit_work(s, credit_id="j:0", contributor_id=1, job_ref="j", work_units=1)
        s.commit()
    with Session(engine) as other:
        assert len(other.execute(select(Contributor)).all()) == 1
    assert [cid for cid, _ in credits_seen(engine)] == ["j:0"]


def test_a_failed_writer_undoes_only_its_own_writes(engine):
    with Session(engine) as s:
        s.add(Contributor(name="ada", api_key_hash="a" * 64))
        s.flush()
        credit_work(s, credit_id="j:0", contributor_id=1, job_ref="j", work_units=1)
        with pytest.raises(ConflictError):
            credit_work_many(s, [Credit("j:1", 1, "j", 1), Credit("j:0", 1, "j", 2)])
        with pytest.raises(InsufficientFundsError):
            post_penalty(
                s, penalty_id="p", contributor_id=1, job_ref="j", amount_units=1, reason="x"
            )
        post_reward(s, reward_id="r", job_ref="j", amount_units=10, fee_bps=0)
        s.commit()
    assert [cid for cid, _ in credits_seen(engine)] == ["j:0"]
    with Session(engine) as s:
        assert len(s.execute(select(Contributor)).all()) == 1
        assert balances(s) == {1: 10}
        assert audit(s) == []


# --------------------------------------------------------------------------- credit_work_many


def test_credit_work_many_statuses_and_seq_order(session):
    first = [Credit("j:2", 7, "j", 5), ("j:0", 3, "j", 1), Credit("j:1", 7, "j", 2)]
    assert credit_work_many(session, first) == ["created"] * 3
    session.commit()
    again = [Credit("j:1", 7, "j", 2), Credit("j:3", 4, "j", 9), Credit("j:3", 4, "j", 9)]
    assert credit_work_many(session, again) == ["exists", "created", "exists"]
    assert credit_work_many(session, []) == []
    session.commit()
    stored = session.execute(select(WorkCredit.id, WorkCredit.seq).order_by(WorkCredit.seq)).all()
    assert [credit_id for credit_id, _ in stored] == ["j:2", "j:0", "j:1", "j:3"]
    assert [seq for _, seq in stored] == sorted({seq for _, seq in stored})
    assert work_units_by_contributor(session, "j") == {3: 1, 4: 9, 7: 7}
    # a single credit_work continues the same numbering
    assert credit_work(session, credit_id="k:0", contributor_id=1, job_ref="k", work_units=1)
    session.commit()
    assert session.get(WorkCredit, "k:0").seq > max(seq for _, seq in stored)


@pytest.mark.parametrize(
    "clash",
    [Credit("j:0", 9, "j", 1), Credit("j:0", 3, "other", 1), Credit("j:0", 3, "j", 2)],
    ids=["contributor", "job", "units"],
)
def test_credit_work_many_conflict_writes_nothing(session, clash):
    credit_work_many(session, [Credit("j:0", 3, "j", 1)])
    session.commit()
    with pytest.raises(ConflictError) as info:
        credit_work_many(session, [Credit("new:0", 1, "new", 1), clash])
    assert info.value.record_id == "j:0" and len(info.value.differences) == 1
    # within one call too: the first occurrence is what the later ones must match
    with pytest.raises(ConflictError):
        credit_work_many(session, [Credit("new:1", 1, "new", 1), Credit("new:1", 1, "new", 2)])
    session.commit()
    assert session.execute(select(WorkCredit.id)).scalars().all() == ["j:0"]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (Credit("", 1, "j", 1), InvalidIdError),
        (Credit("j:1", -1, "j", 1), InvalidIdError),
        (Credit("j:1", 1, "", 1), InvalidIdError),
        (Credit("j:1", 1, "j", 0), InvalidAmountError),
        (Credit("j:1", 1, "j", 2**63), InvalidAmountError),
        (Credit("j:1", 1, "j", True), InvalidAmountError),
    ],
)
def test_credit_work_many_rejects_bad_input_and_writes_nothing(session, bad, error):
    with pytest.raises(error):
        credit_work_many(session, [Credit("j:0", 1, "j", 1), bad])
    session.commit()
    assert session.execute(select(WorkCredit.id)).scalars().all() == []


def test_credit_work_many_writes_a_large_batch(session):
    """More ids than one SQLite ``IN (...)`` holds; ids with COPY's special characters."""
    n = 25_000
    credits = [Credit(f"big\t{i}\\", i % 100, "big\njob", 1 + i % 7) for i in range(n)]
    assert credit_work_many(session, credits) == ["created"] * n
    session.commit()
    assert credit_work_many(session, credits[::-1]) == ["exists"] * n
    expected: dict[int, int] = {}
    for credit in credits:
        expected[credit.contributor_id] = expected.get(credit.contributor_id, 0) + credit.work_units
    assert work_units_by_contributor(session, "big\njob") == expected
    first, last = session.get(WorkCredit, "big\t0\\"), session.get(WorkCredit, f"big\t{n - 1}\\")
    assert last.seq - first.seq == n - 1

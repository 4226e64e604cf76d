"""The dashboard's reads of one job (its chunks, strikes, reward) and of the pool's health.

Amounts (``Units`` columns) are read as Python ints and summed in Python, never in SQL
(they are text on SQLite, see :mod:`accounting.types`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from accounting import (
    Account,
    AccountKind,
    Reward,
    Transfer,
    TransferCode,
    Withdrawal,
    WithdrawalStatus,
)
from pool_api.store.models import ChunkRecord, Contributor, Job, JobReward, JobStatus, Strike, Zkey


def recent_jobs(session: Session, *, limit: int) -> tuple[int, list[Job]]:
    """``(total, jobs)``: the newest ``limit`` jobs, newest first."""
    total = session.exec(select(func.count()).select_from(Job)).one()
    rows = session.exec(select(Job).order_by(col(Job.created_at).desc(), Job.id).limit(limit)).all()
    return int(total), list(rows)


def zkeys_by_id(session: Session, ids: Iterable[str]) -> dict[str, Zkey]:
    """The proving keys of these ids (unknown ids are absent)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {z.id: z for z in session.exec(select(Zkey).where(col(Zkey.id).in_(wanted)))}


def chunk_records(session: Session, *, job_id: str, limit: int) -> tuple[int, list[ChunkRecord]]:
    """``(count, records)``: the job's chunk records by index (at most ``limit``)."""
    count = session.exec(
        select(func.count()).select_from(ChunkRecord).where(ChunkRecord.job_id == job_id)
    ).one()
    rows = session.exec(
        select(ChunkRecord)
        .where(ChunkRecord.job_id == job_id)
        .order_by(col(ChunkRecord.chunk_index))
        .limit(limit)
    ).all()
    return int(count), list(rows)


def verification_counts(session: Session, *, job_id: str) -> dict[str, int]:
    """``{verification: chunks}`` of the job's records (``checked``, ``audited``, …)."""
    rows = session.exec(
        select(ChunkRecord.verification, func.count())
        .where(ChunkRecord.job_id == job_id)
        .group_by(ChunkRecord.verification)
    )
    return {str(kind): int(count) for kind, count in rows}


def strikes_of_job(session: Session, *, job_id: str) -> list[Strike]:
    """The strikes handed out in the job, oldest first."""
    return list(
        session.exec(select(Strike).where(Strike.job_id == job_id).order_by(col(Strike.id))).all()
    )


def names_of(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """``{contributor_id: name}`` of these contributors."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.exec(
        select(Contributor.id, Contributor.name).where(col(Contributor.id).in_(wanted))
    )
    return {int(cid): name for cid, name in rows if cid is not None}


def reward_of_job(session: Session, *, job_id: str) -> Reward | None:
    """The job's one reward (:class:`JobReward`), or ``None`` before it is posted."""
    link = session.get(JobReward, job_id)
    return None if link is None else session.get(Reward, link.reward_id)


def reward_transfers(session: Session, *, reward_id: str) -> list[tuple[str, int, int | None]]:
    """``(code, amount_units, credited contributor or None)`` of every transfer of the reward
    (they all debit ``pool_income``, which the (debit, reward) index finds)."""
    pool_income = (
        select(Account.id)
        .where(Account.kind == AccountKind.POOL_INCOME, col(Account.contributor_id).is_(None))
        .scalar_subquery()
    )
    rows = session.exec(
        select(Transfer.code, Transfer.amount_units, Account.contributor_id)
        .join(Account, Account.id == Transfer.credit_account_id)
        .where(Transfer.debit_account_id == pool_income, Transfer.reward_id == reward_id)
    )
    return [
        (TransferCode(code).value, int(amount), None if cid is None else int(cid))
        for code, amount, cid in rows
    ]


def pending_withdrawals(session: Session, *, contributor_id: int) -> list[Withdrawal]:
    """The contributor's withdrawals neither paid nor failed, oldest first."""
    in_flight = [WithdrawalStatus.PENDING, WithdrawalStatus.BATCHED]
    return list(
        session.exec(
            select(Withdrawal)
            .where(
                Withdrawal.contributor_id == contributor_id,
                col(Withdrawal.status).in_(in_flight),
            )
            .order_by(col(Withdrawal.created_at))
        ).all()
    )


def payout_address_of(session: Session, *, contributor_id: int) -> str | None:
    """The contributor's payout address, or ``None``."""
    row = session.get(Contributor, contributor_id)
    return None if row is None else row.payout_address


# --------------------------------------------------------------------------- pool health


def jobs_finished_since(session: Session, *, since: datetime) -> dict[str, int]:
    """``{status: jobs}`` of the done, failed and cancelled jobs last updated since ``since``."""
    finished = [JobStatus.done, JobStatus.failed, JobStatus.cancelled]
    rows = session.exec(
        select(Job.status, func.count())
        .where(col(Job.status).in_(finished), Job.updated_at >= since)
        .group_by(Job.status)
    )
    return {JobStatus(status).value: int(count) for status, count in rows}


def chunk_spans_of_done_jobs(
    session: Session, *, since: datetime
) -> list[tuple[str, str, float, datetime]]:
    """``(job_id, ray_node_id, duration_seconds, finished_at)`` of every chunk of the jobs
    done since ``since``."""
    done = select(Job.id).where(Job.status == JobStatus.done, Job.updated_at >= since)
    rows = session.exec(
        select(
            ChunkRecord.job_id,
            ChunkRecord.ray_node_id,
            ChunkRecord.duration_seconds,
            ChunkRecord.finished_at,
        ).where(col(ChunkRecord.job_id).in_(done))
    )
    return [(job_id, node, float(seconds), at) for job_id, node, seconds, at in rows]


def strike_count(session: Session, *, since: datetime | None = None) -> int:
    """Strikes handed out (since ``since``, or ever)."""
    query = select(func.count()).select_from(Strike)
    if since is not None:
        query = query.where(Strike.created_at >= since)
    return int(session.exec(query).one())


def banned_count(session: Session) -> int:
    """Contributors banned (``max_strikes`` reached)."""
    query = select(func.count()).select_from(Contributor)
    return int(session.exec(query.where(col(Contributor.banned_at).is_not(None))).one())

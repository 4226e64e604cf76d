"""Jobs: lookups, the paged list, the polled status row, the conditional cancel and the
job's one reward."""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from pool_api.store.models import Job, JobReward, JobStatus, utcnow

#: Statuses a job can still be cancelled from.
CANCELLABLE = (JobStatus.queued, JobStatus.running)


def job_by_id(session: Session, *, job_id: str) -> Job | None:
    """The job, or ``None``."""
    return session.get(Job, job_id)


def job_by_idempotency_key(session: Session, *, key: str) -> Job | None:
    """The job first submitted with this ``Idempotency-Key``, or ``None``."""
    return session.exec(select(Job).where(Job.idempotency_key == key)).first()


def job_page(
    session: Session,
    *,
    status: JobStatus | None,
    kind: str | None,
    offset: int,
    limit: int,
) -> tuple[int, list[Job]]:
    """``(total, jobs)``: the jobs matching the filters (``None``: any), newest first."""
    conditions = []
    if status is not None:
        conditions.append(Job.status == status)
    if kind is not None:
        conditions.append(Job.kind == kind)
    total = session.exec(select(func.count()).select_from(Job).where(*conditions)).one()
    rows = session.exec(
        select(Job)
        .where(*conditions)
        .order_by(col(Job.created_at).desc(), Job.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return int(total), list(rows)


# The path clients poll: one prebuilt Core statement, no ORM objects.
_JOB_STATUS = select(
    Job.id,
    Job.kind,
    Job.curve,
    Job.field,
    Job.status,
    Job.chunks_done,
    Job.chunks_total,
    Job.result_sha256,
    Job.error,
).where(Job.id == bindparam("job_id"))


def job_status_row(connection: Connection, *, job_id: str) -> Row | None:
    """The polled fields of a job (``id, kind, curve, field, status, chunks_done,
    chunks_total, result_sha256, error``) on a read-engine connection, or ``None``."""
    return connection.execute(_JOB_STATUS, {"job_id": job_id}).first()


def cancel_job(session: Session, *, job_id: str) -> bool:
    """Turn the job ``cancelled`` if it is queued or running; whether it did.

    One conditional ``UPDATE``: it cannot overwrite a status another transaction set
    meanwhile (a runner's ``running → done`` flip waits for it, or it waits for that
    flip and then matches nothing).
    """
    cancelled = session.execute(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.status).in_(CANCELLABLE))
        .values(status=JobStatus.cancelled, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return cancelled == 1


def reward_of_job(session: Session, *, job_id: str) -> JobReward | None:
    """The job's one reward (its idempotency key), read fresh from the database, or ``None``."""
    query = select(JobReward).where(JobReward.job_id == job_id)
    return session.exec(query.execution_options(populate_existing=True)).first()


def job_of_reward(session: Session, *, reward_id: str) -> str | None:
    """The job that reward ``reward_id`` was posted for, or ``None``."""
    return session.exec(select(JobReward.job_id).where(JobReward.reward_id == reward_id)).first()


def claim_reward(session: Session, *, job_id: str, reward_id: str) -> bool:
    """Make ``reward_id`` the job's one reward (in a savepoint, not committed); ``False``
    when the job or the key is taken (the database's constraint decides, whatever the
    timing: a concurrent claim waits for the other transaction and then fails)."""
    if session.get_bind().dialect.name == "sqlite":
        # sqlite3 opens no transaction before DML, and a SAVEPOINT outside one would commit
        # at its RELEASE: take the write lock first (as ``accounting`` does).
        driver = session.connection().connection.driver_connection
        if not driver.in_transaction:  # type: ignore[union-attr]
            driver.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
    try:
        with session.begin_nested():
            session.add(JobReward(job_id=job_id, reward_id=reward_id))
            session.flush()
    except IntegrityError:
        return False
    return True

"""``/v1/jobs``: submit proving jobs, follow them, report their rewards."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

import accounting
from pool_api.codec import (
    decode_field_elements,
    encode_field_elements,
    encode_msm_input,
    parse_numbers,
    parse_points,
)
from pool_api.deps import OperatorAuth, Pool, SessionDep
from pool_api.errors import NotFoundError, StateConflictError
from pool_api.models import Job, JobStatus
from pool_api.schemas import (
    JobCreate,
    JobCreated,
    JobPage,
    JobPublic,
    JobSummary,
    MsmJobCreate,
    Progress,
    RewardCreate,
    RewardPublic,
    Share,
)
from workers.api import validate_msm_input, validate_ntt_input
from workers.encoding import limbs_to_ints

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="Retrying with the same key and body returns the first job (200).",
    ),
]


def _same_request(stored: Job, job: Job) -> bool:
    fields = ("kind", "curve", "field", "inverse", "size", "input_sha256")
    return all(getattr(stored, name) == getattr(job, name) for name in fields)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobCreated,
    responses={
        200: {"description": "a retry: the job first created with this Idempotency-Key"},
        409: {"description": "the Idempotency-Key was used for a different request"},
    },
)
def submit_job(
    body: JobCreate,
    pool: Pool,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobCreated:
    """Validate the whole input, store it once (content-addressed), queue the job."""
    job_id = uuid.uuid4().hex
    if isinstance(body, MsmJobCreate):
        points = parse_points(body.points)
        scalars = parse_numbers(body.scalars, "scalars")
        validate_msm_input(body.curve, points, scalars)
        blob = encode_msm_input(points, scalars)
        job = Job(id=job_id, kind="msm", curve=body.curve, size=len(points), input_sha256="")
    else:
        values = parse_numbers(body.values, "values")
        validate_ntt_input(body.field, values)
        blob = encode_field_elements(values)
        job = Job(
            id=job_id,
            kind="ntt",
            field=body.field,
            inverse=body.inverse,
            size=len(values),
            input_sha256="",
        )
    job.input_sha256 = pool.blobs.put(blob)
    job.idempotency_key = idempotency_key
    if idempotency_key is not None:
        stored = _job_with_key(session, idempotency_key)
        if stored is not None:
            return _retry(stored, job, response)
    session.add(job)
    try:
        session.commit()
    except IntegrityError:  # a concurrent retry with the same key won the race
        session.rollback()
        stored = _job_with_key(session, idempotency_key or "")
        if stored is None:
            raise
        return _retry(stored, job, response)
    pool.metrics.jobs_submitted.labels(job.kind).inc()
    pool.events.publish("job.queued", job_id=job_id, kind=job.kind, size=job.size)
    pool.runner.wake()
    return JobCreated(id=job_id)


def _job_with_key(session: Session, key: str) -> Job | None:
    return session.exec(select(Job).where(Job.idempotency_key == key)).first()


def _retry(stored: Job, job: Job, response: Response) -> JobCreated:
    if not _same_request(stored, job):
        raise StateConflictError("this Idempotency-Key was used for a different job request")
    response.status_code = status.HTTP_200_OK
    return JobCreated(id=stored.id)


@router.get("", response_model=JobPage)
def list_jobs(
    session: SessionDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    kind: Annotated[Literal["msm", "ntt"] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobPage:
    """Jobs, newest first, filtered by status and kind, a page at a time."""
    conditions = []
    if status_filter is not None:
        conditions.append(Job.status == status_filter)
    if kind is not None:
        conditions.append(Job.kind == kind)
    total = session.exec(select(func.count()).select_from(Job).where(*conditions)).one()
    rows = session.exec(
        select(Job)
        .where(*conditions)
        .order_by(Job.created_at.desc(), Job.id)
        .offset(offset)
        .limit(limit)
    ).all()
    items = [
        JobSummary(
            id=j.id,
            kind=j.kind,
            curve=j.curve,
            field=j.field,
            size=j.size,
            status=j.status,
            progress=Progress(chunks_done=j.chunks_done, chunks_total=j.chunks_total),
            created_at=j.created_at,
        )
        for j in rows
    ]
    return JobPage(items=items, total=total, offset=offset, limit=limit)


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: str, pool: Pool, session: SessionDep) -> JobPublic:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r}")
    result = None
    if job.status == JobStatus.done and job.result_sha256:
        result = [
            str(v) for v in limbs_to_ints(decode_field_elements(pool.blobs.get(job.result_sha256)))
        ]
    return JobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=Progress(chunks_done=job.chunks_done, chunks_total=job.chunks_total),
        result=result,
        error=job.error,
    )


@router.post(
    "/{job_id}/reward",
    status_code=status.HTTP_201_CREATED,
    response_model=RewardPublic,
    dependencies=[OperatorAuth],
    responses={200: {"description": "already posted under this idempotency key"}},
)
def report_reward(
    job_id: str, body: RewardCreate, pool: Pool, session: SessionDep, response: Response
) -> RewardPublic:
    """Split a job's reward by the pool's scheme (``PROVERPOOL_REWARD_SCHEME``: PROP or PPLNS)
    with the operator fee ``PROVERPOOL_FEE_BPS``; idempotent by key."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r}")
    if job.status != JobStatus.done:
        raise StateConflictError(f"job {job_id} is {job.status.value}; only done jobs earn rewards")
    posting = accounting.post_reward(
        session,
        reward_id=body.idempotency_key,
        job_ref=job_id,
        amount_units=body.amount_units,
        fee_bps=pool.settings.fee_bps,
        scheme=pool.settings.reward_scheme,
        pplns_window_units=(
            pool.settings.pplns_window_units if pool.settings.reward_scheme == "pplns" else None
        ),
    )
    if posting.status == "exists":
        response.status_code = status.HTTP_200_OK
    if posting.status == "created":
        pool.metrics.reward_units.inc(body.amount_units)
        pool.events.publish("reward.posted", job_id=job_id, amount_units=str(body.amount_units))
    return RewardPublic(
        status=posting.status,
        job_id=job_id,
        amount_units=body.amount_units,
        fee_bps=pool.settings.fee_bps,
        fee_units=posting.fee_units,
        held_units=posting.held_units,
        shares=[Share(contributor_id=c, amount_units=u) for c, u in sorted(posting.shares.items())],
    )

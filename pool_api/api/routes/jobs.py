"""``/v1/jobs``: submit proving jobs, follow them, report their rewards."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

import accounting
from pool_api.api.deps import OperatorAuth, Pool, SessionDep, SubmitAuth
from pool_api.api.job_bodies import (
    REQUEST_BODY_OPENAPI,
    binary_result,
    check_declared_size,
    parse_binary_job,
    parse_json_job,
    read_body,
    result_json,
)
from pool_api.api.schemas import (
    JobCreated,
    JobPage,
    JobPublic,
    JobSummary,
    Progress,
    RewardCreate,
    RewardPublic,
    Share,
)
from pool_api.errors import NotFoundError, StateConflictError, UnsupportedMediaTypeError
from pool_api.live.story import tell_reward
from pool_api.state import PoolState
from pool_api.store.models import Job, JobStatus
from pool_api.store.queries import jobs as job_queries
from pool_api.store.zkeys import parse_groth16_job

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
    fields = ("kind", "curve", "field", "inverse", "size", "input_sha256", "zkey_sha256")
    return all(getattr(stored, name) == getattr(job, name) for name in fields)


JSON_OR_BINARY = ("application/json", "application/octet-stream")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobCreated,
    openapi_extra=REQUEST_BODY_OPENAPI,
    dependencies=[SubmitAuth],
    responses={
        200: {"description": "a retry: the job first created with this Idempotency-Key"},
        409: {"description": "the Idempotency-Key was used for a different request"},
        413: {
            "description": "body over PROVERPOOL_MAX_BODY_BYTES, or more elements than "
            "PROVERPOOL_MAX_JOB_ELEMENTS"
        },
        415: {"description": "neither application/json nor application/octet-stream"},
    },
)
async def submit_job(
    request: Request,
    pool: Pool,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    kind: Annotated[
        Literal["msm", "ntt", "groth16"] | None,
        Query(description="Binary bodies only: the job kind."),
    ] = None,
    curve: Annotated[
        str | None, Query(max_length=32, description="Binary MSM only: the curve.")
    ] = None,
    field: Annotated[
        str | None, Query(max_length=32, description="Binary NTT only: the field.")
    ] = None,
    inverse: Annotated[bool, Query(description="Binary NTT only: inverse transform.")] = False,
    zkey: Annotated[
        str | None,
        Query(
            pattern="^[0-9a-f]{64}$",
            description="groth16 only: SHA-256 of the proving key (POST /v1/zkeys); "
            "the body is the .wtns witness.",
        ),
    ] = None,
) -> JobCreated:
    """Validate the whole input, store it once (content-addressed), queue the job.

    The body is JSON (``Content-Type: application/json``; numbers as decimal strings) or
    binary (``application/octet-stream``, docs/architecture.md §4, parameters ``kind``, ``curve`` /
    ``field``, ``inverse`` in the query string; layout in :mod:`pool_api.api.job_bodies`).
    A Groth16 job is binary: ``?kind=groth16&zkey=<sha256>`` with the ``.wtns`` as body
    (404 for an unknown key, 422 for a witness that does not fit it).
    """
    content_type = request.headers.get("content-type", "application/json")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in JSON_OR_BINARY:
        raise UnsupportedMediaTypeError(
            f"Content-Type {media_type!r} not supported; use one of {list(JSON_OR_BINARY)}"
        )
    max_elements = pool.settings.max_job_elements
    binary = media_type != "application/json" and kind != "groth16"
    if binary:
        check_declared_size(request, kind, curve, field, max_elements)
    raw = await read_body(request)
    job: Job
    blob: bytes | bytearray
    if media_type == "application/json":
        job, blob = await run_in_threadpool(parse_json_job, raw, max_elements)
    elif kind == "groth16":
        job, blob = await run_in_threadpool(
            parse_groth16_job, pool.engine, pool.blobs, bytes(raw), zkey
        )
    else:
        job, blob = await run_in_threadpool(
            parse_binary_job, raw, kind, curve, field, inverse, max_elements
        )
    return await run_in_threadpool(_store_job, pool, job, blob, response, idempotency_key)


def _store_job(
    pool: PoolState,
    job: Job,
    blob: bytes | bytearray,
    response: Response,
    idempotency_key: str | None,
) -> JobCreated:
    job.id = uuid.uuid4().hex
    job.input_sha256 = pool.blobs.put(blob)
    job.idempotency_key = idempotency_key
    with Session(pool.engine) as session:
        if idempotency_key is not None:
            stored = job_queries.job_by_idempotency_key(session, key=idempotency_key)
            if stored is not None:
                return _retry(stored, job, response)
        session.add(job)
        try:
            session.commit()
        except IntegrityError:  # a concurrent retry with the same key won the race
            session.rollback()
            stored = job_queries.job_by_idempotency_key(session, key=idempotency_key or "")
            if stored is None:
                raise
            return _retry(stored, job, response)
        job_id, kind, size = job.id, job.kind, job.size
    pool.metrics.jobs_submitted.labels(kind).inc()
    pool.events.publish("job.submitted", job_id=job_id, kind=kind, size=size)
    pool.runner.wake()
    return JobCreated(id=job_id)


def _retry(stored: Job, job: Job, response: Response) -> JobCreated:
    if not _same_request(stored, job):
        raise StateConflictError("this Idempotency-Key was used for a different job request")
    response.status_code = status.HTTP_200_OK
    return JobCreated(id=stored.id)


@router.get("", response_model=JobPage)
def list_jobs(
    session: SessionDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    kind: Annotated[Literal["msm", "ntt", "groth16"] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobPage:
    """Jobs, newest first, filtered by status and kind, a page at a time."""
    total, rows = job_queries.job_page(
        session, status=status_filter, kind=kind, offset=offset, limit=limit
    )
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


_BINARY = "application/octet-stream"


@router.get(
    "/{job_id}",
    response_model=JobPublic,
    responses={
        200: {"content": {_BINARY: {"schema": {"type": "string", "format": "binary"}}}},
        409: {"description": "binary result asked of a job that is not done"},
    },
)
async def get_job(
    job_id: Annotated[str, Path(max_length=64)],
    pool: Pool,
    request: Request,
    format: Annotated[
        Literal["json", "binary"] | None,
        Query(description="Result format; default: by the Accept header, else JSON."),
    ] = None,
) -> JobPublic | Response:
    """The job's status and progress, with its result once done: JSON (decimal strings),
    or the bare result in docs/architecture.md §4 binary (``?format=binary`` or
    ``Accept: application/octet-stream``)."""
    if format is None:
        accept = request.headers.get("accept", "")
        format = "binary" if _BINARY in accept and "application/json" not in accept else "json"
    return await run_in_threadpool(_read_job, pool, job_id, format)


def _read_job(pool: PoolState, job_id: str, format: str) -> JobPublic | Response:
    with pool.read_engine.connect() as connection:
        job = job_queries.job_status_row(connection, job_id=job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r}")
    done = job.status == JobStatus.done and job.result_sha256
    if job.kind == "groth16":  # the result is snarkjs' files, at /v1/jobs/{id}/proof
        if format == "binary":
            raise StateConflictError(f"job {job_id} is a groth16 job: GET /v1/jobs/{job_id}/proof")
        done = False
    if format == "binary":
        if not done:
            raise StateConflictError(f"job {job_id} is {job.status.value}; no result yet")
        blob = pool.blobs.get(job.result_sha256)
        return Response(binary_result(job.kind, job.curve, job.field, blob), media_type=_BINARY)
    result = None
    if done:
        result = result_json(job.kind, job.curve, job.field, pool.blobs.get(job.result_sha256))
    return JobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=Progress(chunks_done=job.chunks_done, chunks_total=job.chunks_total),
        result=result,
        error=job.error,
    )


@router.post(
    "/{job_id}/cancel",
    response_model=JobPublic,
    dependencies=[OperatorAuth],
    responses={409: {"description": "the job already finished"}},
)
def cancel_job(
    job_id: Annotated[str, Path(max_length=64)], pool: Pool, session: SessionDep
) -> JobPublic:
    """Cancel a queued or running job: its status becomes ``cancelled`` at once; a running
    job's runner stops at the next chunk boundary.  A job whose runner turned it ``done``
    first (its credits committed with it) is not cancelled: 409."""
    if not job_queries.cancel_job(session, job_id=job_id):
        session.rollback()
        job = job_queries.job_by_id(session, job_id=job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r}")
        raise StateConflictError(f"job {job_id} is already {job.status.value}")
    session.commit()
    job = job_queries.job_by_id(session, job_id=job_id)
    assert job is not None
    pool.events.publish(
        "job.progress",
        job_id=job.id,
        chunks_done=job.chunks_done,
        chunks_total=job.chunks_total,
        status=job.status.value,
    )
    return JobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=Progress(chunks_done=job.chunks_done, chunks_total=job.chunks_total),
    )


@router.post(
    "/{job_id}/reward",
    status_code=status.HTTP_201_CREATED,
    response_model=RewardPublic,
    dependencies=[OperatorAuth],
    responses={
        200: {"description": "already posted under this idempotency key"},
        409: {"description": "the job has another reward, or is not done"},
    },
)
def report_reward(
    job_id: str, body: RewardCreate, pool: Pool, session: SessionDep, response: Response
) -> RewardPublic:
    """Split a job's reward by the pool's scheme (``PROVERPOOL_REWARD_SCHEME``: PROP or PPLNS)
    with the operator fee ``PROVERPOOL_FEE_BPS``; idempotent by key.  A job has at most one
    reward: another key for a rewarded job is 409, naming the first."""
    job = job_queries.job_by_id(session, job_id=job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r}")
    if job.status != JobStatus.done:
        raise StateConflictError(f"job {job_id} is {job.status.value}; only done jobs earn rewards")
    _one_reward(session, job_id, body.idempotency_key)
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
    session.commit()
    if posting.status == "exists":
        response.status_code = status.HTTP_200_OK
    if posting.status == "created":
        pool.metrics.reward_units.inc(body.amount_units)
        pool.events.publish("reward.posted", job_id=job_id, amount_units=str(body.amount_units))
        tell_reward(
            job_id, body.amount_units, posting.fee_units, posting.held_units, posting.shares
        )
    return RewardPublic(
        status=posting.status,
        job_id=job_id,
        amount_units=body.amount_units,
        fee_bps=pool.settings.fee_bps,
        fee_units=posting.fee_units,
        held_units=posting.held_units,
        shares=[Share(contributor_id=c, amount_units=u) for c, u in sorted(posting.shares.items())],
    )


def _one_reward(session: Session, job_id: str, key: str) -> None:
    """Bind reward ``key`` to the job (in the caller's transaction), or 409 when the job
    has another reward or ``key`` is another job's; the job's own key passes (idempotent)."""
    if job_queries.claim_reward(session, job_id=job_id, reward_id=key):
        return
    first = job_queries.reward_of_job(session, job_id=job_id)
    if first is not None and first.reward_id == key:
        return
    if first is not None:
        raise StateConflictError(
            f"job {job_id} already has a reward (idempotency key {first.reward_id!r}); "
            "a job is rewarded once"
        )
    other = job_queries.job_of_reward(session, reward_id=key)
    raise StateConflictError(
        f"idempotency key {key!r} is already the reward of job {other}"
        if other
        else f"the reward of job {job_id} was posted at the same moment; retry to see it"
    )

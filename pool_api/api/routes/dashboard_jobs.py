"""``/v1/stats/jobs…``, ``/v1/stats/health``, ``/v1/stats/display``: the dashboard's job
list, job page and pool-health panel (issue 17 items 11 and 13; architecture §8).

Public and read-only like the rest of ``/v1/stats``: job parameters, chunk timings, the
nodes (Ray ids, public to members) and contributors (names, as on the leaderboard) that
computed them, credits, the reward split and how each chunk was verified. Nothing here
reveals a key, a secret, an input or a result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import Session

import accounting
from pool_api.api.deps import Pool, SessionDep
from pool_api.api.schemas_dashboard import (
    ChunkSpan,
    Circuit,
    CreditLine,
    DashboardJob,
    DashboardJobPage,
    Display,
    JobDetail,
    NodeShare,
    PoolHealth,
    RewardSplit,
    StrikeLine,
    Verification,
)
from pool_api.errors import NotFoundError
from pool_api.store.models import Job, JobStatus, Zkey
from pool_api.store.queries import dashboard as dashboard_queries
from pool_api.store.queries import dashboard_jobs as queries

router = APIRouter()

#: Chunks listed on a job page (a job has a few per node; the counts stay exact beyond).
MAX_CHUNKS = 2000
#: The longest window of the range picker (7 days), in minutes.
MAX_WINDOW_MINUTES = 7 * 24 * 60


def aware(moment: datetime) -> datetime:
    """A naive timestamp from the database is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _circuit(zkey: Zkey | None) -> Circuit | None:
    if zkey is None:
        return None
    return Circuit(
        zkey_sha256=zkey.id,
        domain_size=zkey.domain_size,
        n_vars=zkey.n_vars,
        n_public=zkey.n_public,
    )


def _summary(job: Job, zkeys: dict[str, Zkey]) -> DashboardJob:
    return DashboardJob(
        id=job.id,
        kind=job.kind,
        curve=job.curve,
        field=job.field,
        inverse=job.inverse,
        size=job.size,
        status=JobStatus(job.status).value,
        chunks_done=job.chunks_done,
        chunks_total=job.chunks_total,
        created_at=aware(job.created_at),
        updated_at=aware(job.updated_at),
        circuit=_circuit(zkeys.get(job.zkey_sha256)) if job.zkey_sha256 else None,
    )


def span_efficiency(spans: Iterable[tuple[str, float, datetime]]) -> tuple[float, float]:
    """``(busy node-seconds, nodes × span seconds)`` of one job's chunks, each given as
    ``(node, duration_seconds, finished_at)``; their ratio is the parallel efficiency."""
    spans = list(spans)
    if not spans:
        return 0.0, 0.0
    start = min(aware(at) - timedelta(seconds=seconds) for _, seconds, at in spans)
    end = max(aware(at) for _, _, at in spans)
    nodes = len({node for node, _, _ in spans})
    busy = sum(seconds for _, seconds, _ in spans)
    return busy, nodes * max(0.0, (end - start).total_seconds())


def _ratio(busy: float, capacity: float) -> float | None:
    return round(min(1.0, busy / capacity), 4) if capacity > 0 else None


@router.get("/display", response_model=Display)
def display(pool: Pool) -> Display:
    """The unit the dashboard shows amounts in (display only; amounts stay base units)."""
    return Display(unit_name=pool.settings.unit_name, unit_decimals=pool.settings.unit_decimals)


@router.get("/jobs", response_model=DashboardJobPage)
def recent_jobs(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Jobs to return.")] = 20,
) -> DashboardJobPage:
    """The newest jobs with their progress, and a Groth16 job's circuit (size and key)."""
    total, jobs = queries.recent_jobs(session, limit=limit)
    zkeys = queries.zkeys_by_id(session, (j.zkey_sha256 for j in jobs if j.zkey_sha256))
    return DashboardJobPage(items=[_summary(j, zkeys) for j in jobs], total=total)


@router.get("/jobs/{job_id}", response_model=JobDetail)
def job_detail(
    session: SessionDep,
    job_id: Annotated[str, Path(min_length=1, max_length=32, pattern="^[0-9a-f]+$")],
) -> JobDetail:
    """One job's page: its chunks per node over time, who was credited how much, the
    reward and its split, and how its results were verified."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r}")
    zkeys = queries.zkeys_by_id(session, [job.zkey_sha256] if job.zkey_sha256 else [])
    recorded, records = queries.chunk_records(session, job_id=job_id, limit=MAX_CHUNKS)
    chunks = [
        ChunkSpan(
            chunk_index=r.chunk_index,
            phase=r.phase,
            ray_node_id=r.ray_node_id,
            contributor_id=r.contributor_id,
            started_at=aware(r.finished_at) - timedelta(seconds=r.duration_seconds),
            finished_at=aware(r.finished_at),
            duration_seconds=r.duration_seconds,
            work_units=r.work_units,
            verification=r.verification,
        )
        for r in records
    ]
    nodes: dict[str, NodeShare] = {}
    for c in chunks:
        share = nodes.setdefault(
            c.ray_node_id,
            NodeShare(
                ray_node_id=c.ray_node_id,
                contributor_id=c.contributor_id,
                contributor_name=None,
                chunks=0,
                work_units=0,
                busy_seconds=0.0,
            ),
        )
        share.chunks += 1
        share.work_units += c.work_units
        share.busy_seconds += c.duration_seconds
    busy, capacity = span_efficiency(
        (c.ray_node_id, c.duration_seconds, c.finished_at) for c in chunks
    )
    started = min((c.started_at for c in chunks), default=None)
    finished = max((c.finished_at for c in chunks), default=None)
    if job.status in (JobStatus.done, JobStatus.failed, JobStatus.cancelled):
        finished = aware(job.updated_at) if started else None
    reward, shares = _reward(session, job_id)
    work = accounting.work_units_by_contributor(session, job_id)
    strikes = queries.strikes_of_job(session, job_id=job_id)
    names = queries.names_of(
        session,
        [*work, *shares, *(s.contributor_id for s in strikes), *(c.contributor_id for c in chunks)],
    )
    for share in nodes.values():
        share.contributor_name = names.get(share.contributor_id) if share.contributor_id else None
    credits = [
        CreditLine(
            contributor_id=cid,
            name=names.get(cid, f"#{cid}"),
            work_units=work.get(cid, 0),
            share_units=shares.get(cid, 0),
        )
        for cid in sorted(set(work) | set(shares), key=lambda c: (-work.get(c, 0), c))
    ]
    return JobDetail(
        job=_summary(job, zkeys),
        error=job.error,
        started_at=started,
        finished_at=finished,
        duration_seconds=(finished - started).total_seconds() if started and finished else None,
        parallel_efficiency=_ratio(busy, capacity),
        chunks_recorded=recorded,
        chunks=chunks,
        nodes=sorted(nodes.values(), key=lambda n: (-n.work_units, n.ray_node_id)),
        credits=credits,
        reward=reward,
        verification=Verification(
            chunks_by_check=queries.verification_counts(session, job_id=job_id),
            strikes=[
                StrikeLine(
                    contributor_id=s.contributor_id,
                    name=names.get(s.contributor_id, f"#{s.contributor_id}"),
                    ray_node_id=s.ray_node_id,
                    chunk_index=s.chunk_index,
                    reason=s.reason,
                )
                for s in strikes
            ],
            pairing=_pairing(job),
        ),
    )


def _pairing(job: Job) -> str | None:
    """A Groth16 job is ``done`` only after its proof passed the pairing check."""
    if job.kind != "groth16":
        return None
    if job.status == JobStatus.done:
        return "passed"
    if job.status == JobStatus.failed and "pairing" in (job.error or ""):
        return "failed"
    if job.status in (JobStatus.queued, JobStatus.running):
        return "pending"
    return "not reached"


def _reward(session: Session, job_id: str) -> tuple[RewardSplit | None, dict[int, int]]:
    """The job's reward split and ``{contributor_id: share}``, or ``(None, {})``."""
    reward = queries.reward_of_job(session, job_id=job_id)
    if reward is None:
        return None, {}
    fee = held = 0
    shares: dict[int, int] = defaultdict(int)
    for code, amount, contributor_id in queries.reward_transfers(session, reward_id=reward.id):
        if code == accounting.TransferCode.REWARD_FEE:
            fee += amount
        elif code == accounting.TransferCode.REWARD_HELD:
            held += amount
        elif code == accounting.TransferCode.REWARD_SHARE and contributor_id is not None:
            shares[contributor_id] += amount
    split = RewardSplit(
        amount_units=int(reward.amount_units),
        fee_bps=reward.fee_bps,
        fee_units=fee,
        held_units=held,
        shares_units=sum(shares.values()),
        scheme=accounting.RewardScheme(reward.scheme).value,
        window_units=reward.window_units,
        posted_at=aware(reward.created_at),
        contributors=len(shares),
    )
    return split, dict(shares)


@router.get("/health", response_model=PoolHealth)
def pool_health(
    session: SessionDep,
    window_minutes: Annotated[
        int, Query(ge=1, le=MAX_WINDOW_MINUTES, description="The window, in minutes.")
    ] = 60,
) -> PoolHealth:
    """The pool's health over the window: queue, finished jobs, parallel efficiency of the
    jobs done, verification failures (strikes), strikes and bans."""
    since = datetime.now(UTC) - timedelta(minutes=window_minutes)
    by_status = dashboard_queries.jobs_by_status(session)
    per_job: dict[str, list[tuple[str, float, datetime]]] = defaultdict(list)
    for job_id, node, seconds, finished_at in queries.chunk_spans_of_done_jobs(
        session, since=since
    ):
        per_job[job_id].append((node, seconds, finished_at))
    busy = capacity = 0.0
    for spans in per_job.values():
        job_busy, job_capacity = span_efficiency(spans)
        busy += job_busy
        capacity += job_capacity
    finished = {"done": 0, "failed": 0, "cancelled": 0}
    finished.update(queries.jobs_finished_since(session, since=since))
    return PoolHealth(
        window_minutes=window_minutes,
        queue_length=by_status.get("queued", 0),
        jobs_running=by_status.get("running", 0),
        jobs_finished=finished,
        parallel_efficiency=_ratio(busy, capacity),
        verification_failures=queries.strike_count(session, since=since),
        strikes_total=queries.strike_count(session),
        banned_contributors=queries.banned_count(session),
    )

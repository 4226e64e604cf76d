"""``/v1/stats/…``: public, read-only aggregates for the dashboard (issue 6 §5, architecture §8).

Nothing here needs a token: it shows what the leaderboard already shows (names,
work units, amounts) and counts. Amounts are summed on Python ints (``Units``
columns are text on SQLite, see :mod:`accounting.types`), never in SQL or floats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlmodel import Session

import accounting
from accounting import AccountKind, TransferCode
from pool_api.api.deps import Pool, SessionDep
from pool_api.api.routes import dashboard_jobs
from pool_api.api.routes.dashboard_jobs import MAX_WINDOW_MINUTES
from pool_api.api.schemas_dashboard import (
    ContributorStats,
    EarningPoint,
    LeaderboardRow,
    Overview,
    PendingWithdrawal,
    ThroughputPoint,
)
from pool_api.errors import NotFoundError
from pool_api.live import presence
from pool_api.membership import alive_ray_nodes
from pool_api.store.queries import contributors as contributor_queries
from pool_api.store.queries import dashboard as queries
from pool_api.store.queries import dashboard_jobs as detail_queries

router = APIRouter(prefix="/v1/stats", tags=["dashboard"])
router.include_router(dashboard_jobs.router)

#: Transfer codes that count as a contributor's earnings when they credit its account.
EARNING_CODES = (TransferCode.REWARD_SHARE, TransferCode.HELD_RELEASE)
EVENT_STREAM_PATH = "/v1/events"


_aware = dashboard_jobs.aware


def bucket_minutes_for(window_minutes: int) -> int:
    """Throughput bucket for a window: at most ~180 bars (1 min up to 3 h, then 5 and 15
    min, then an hour: 15 min → 15 bars, 1 h → 60, 24 h → 96, 7 d → 168)."""
    for bucket in (1, 5, 15, 60):
        if window_minutes <= 180 * bucket:
            return bucket
    return 60 * 24


def _throughput(
    session: Session, now: datetime, window_minutes: int, bucket_minutes: int
) -> list[ThroughputPoint]:
    """Work units per bucket of ``ChunkRecord.finished_at`` (buckets aligned on multiples of
    ``bucket_minutes`` since the epoch), zero-filled, the current bucket last."""
    bucket = timedelta(minutes=bucket_minutes)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    end = epoch + ((now - epoch) // bucket + 1) * bucket
    count = -(-window_minutes // bucket_minutes)
    start = end - count * bucket
    buckets = [0] * count
    for finished_at, work_units in queries.chunk_work_since(session, since=start):
        index = (_aware(finished_at) - start) // bucket
        if 0 <= index < count:
            buckets[index] += work_units
    return [
        ThroughputPoint(minute_start=start + i * bucket, work_units=units)
        for i, units in enumerate(buckets)
    ]


def _node_counts(pool: Pool, session: Session) -> tuple[int, int, int, int]:
    """Registered nodes, online ones (a live heartbeat, :mod:`pool_api.live.presence`, alive
    in the pool's Ray cluster, and an owner who is not banned), and the same two counts for
    nodes that reported a GPU."""
    nodes = queries.nodes_gpus_bans(session)
    seen = presence.last_seen(pool.events.client, [node_id for node_id, _, _ in nodes])
    alive = alive_ray_nodes(pool.settings.ray_address) if seen else frozenset()
    online = {
        node_id
        for node_id, _, banned_at in nodes
        if node_id in seen and node_id in alive and banned_at is None
    }
    gpu_nodes = [node_id for node_id, gpu_model, _ in nodes if gpu_model]
    return len(nodes), len(online), len(gpu_nodes), len(online.intersection(gpu_nodes))


@router.get("/overview", response_model=Overview)
def overview(
    request: Request,
    pool: Pool,
    session: SessionDep,
    window_minutes: Annotated[
        int, Query(ge=1, le=MAX_WINDOW_MINUTES, description="Throughput window, in minutes.")
    ] = 60,
) -> Overview:
    """Pool at a glance: nodes, GPUs, jobs by status, throughput over the window (per
    minute up to 3 hours, then per 5 or 15 minutes or per hour: ``bucket_minutes``)."""
    now = datetime.now(UTC)
    bucket_minutes = bucket_minutes_for(window_minutes)
    jobs_by_status = queries.jobs_by_status(session)
    nodes_registered, nodes_online, gpus_registered, gpus_online = _node_counts(pool, session)
    serves_events = EVENT_STREAM_PATH in request.app.openapi().get("paths", {})
    return Overview(
        generated_at=now,
        nodes_registered=nodes_registered,
        nodes_online=nodes_online,
        gpus_registered=gpus_registered,
        gpus_online=gpus_online,
        contributors=queries.contributor_count(session),
        jobs_by_status=jobs_by_status,
        work_units_total=queries.total_work_units(session),
        window_minutes=window_minutes,
        bucket_minutes=bucket_minutes,
        throughput=_throughput(session, now, window_minutes, bucket_minutes),
        event_stream_path=EVENT_STREAM_PATH if serves_events else None,
    )


@router.get("/leaderboard", response_model=list[LeaderboardRow])
def leaderboard(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows to return.")] = 100,
) -> list[LeaderboardRow]:
    """Contributors by verified work units (then earnings), with earnings and balances."""
    work = accounting.work_units_by_contributor(session)
    balances = accounting.balances(session)
    earned = queries.earned_by_contributor(session, codes=EARNING_CODES)
    nodes = queries.node_count_by_contributor(session)
    contributors = queries.contributor_names(session)
    contributors.sort(key=lambda c: (-work.get(c[0], 0), -earned.get(c[0], 0), c[0]))
    return [
        LeaderboardRow(
            rank=rank,
            contributor_id=cid,
            name=name,
            work_units=work.get(cid, 0),
            earned_units=earned.get(cid, 0),
            balance_units=balances.get(cid, 0),
            nodes=nodes.get(cid, 0),
        )
        for rank, (cid, name) in enumerate(contributors[:limit], start=1)
    ]


@router.get("/contributors/{contributor_id}", response_model=ContributorStats)
def contributor_stats(
    session: SessionDep,
    contributor_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="Most recent earnings to return.")
    ] = 1000,
    window_minutes: Annotated[
        int | None,
        Query(ge=1, le=MAX_WINDOW_MINUTES, description="Only the earnings of this window."),
    ] = None,
) -> ContributorStats:
    """One contributor's work, balance, earnings over time (cumulative; within the window
    if one is given), shortened payout address and withdrawals in flight, for its page."""
    contributor = contributor_queries.contributor_by_id(session, contributor_id=contributor_id)
    if contributor is None:
        raise NotFoundError(f"no contributor {contributor_id}")
    since = (
        None if window_minutes is None else datetime.now(UTC) - timedelta(minutes=window_minutes)
    )
    points: list[EarningPoint] = []
    cumulative = before = 0
    for line in accounting.statement(session, contributor_id):
        if line.code in EARNING_CODES and line.amount_units > 0:
            cumulative += line.amount_units
            at = _aware(line.created_at)
            if since is not None and at < since:
                before = cumulative
                continue
            points.append(
                EarningPoint(
                    at=at,
                    job_ref=line.job_ref,
                    amount_units=line.amount_units,
                    cumulative_units=cumulative,
                )
            )
    node_ids = queries.node_ids_of(session, contributor_id=contributor_id)
    pending = detail_queries.pending_withdrawals(session, contributor_id=contributor_id)
    return ContributorStats(
        contributor_id=contributor_id,
        name=contributor.name,
        created_at=_aware(contributor.created_at),
        work_units=accounting.work_units_by_contributor(session).get(contributor_id, 0),
        earned_units=cumulative,
        balance_units=accounting.account_balance(session, AccountKind.CONTRIBUTOR, contributor_id),
        nodes=list(node_ids),
        earnings=points[-limit:],
        banned=contributor.banned_at is not None,
        payout_address=shorten_address(contributor.payout_address),
        pending_withdrawals=[
            PendingWithdrawal(
                amount_units=int(w.amount_units),
                status=accounting.WithdrawalStatus(w.status).value,
                requested_at=_aware(w.created_at),
            )
            for w in pending
        ],
        pending_withdrawal_units=sum(int(w.amount_units) for w in pending),
        window_minutes=window_minutes,
        earned_in_window_units=cumulative - before,
        earned_before_window_units=before,
    )


def shorten_address(address: str | None) -> str | None:
    """``0x1234…abcd``: the owner recognises it; the page does not publish it whole."""
    if not address:
        return None
    if len(address) <= 12:
        return address[:2] + "…" if len(address) > 4 else "…"
    return f"{address[:6]}…{address[-4:]}"

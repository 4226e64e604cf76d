"""The dashboard's aggregates: job counts, throughput rows, nodes, earnings.

Amounts (``Units`` columns) are read and summed on Python ints, never in SQL (they are
text on SQLite, see :mod:`accounting.types`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from accounting import Account, AccountKind, Transfer, TransferCode
from pool_api.store.models import ChunkRecord, Contributor, Job, JobStatus, Node
from pool_api.store.queries.contributors import not_submitter


def earned_by_contributor(session: Session, *, codes: Iterable[TransferCode]) -> dict[int, int]:
    """Per contributor, the sum of the transfers of ``codes`` that credited its account."""
    rows = session.exec(
        select(Account.contributor_id, Transfer.amount_units)
        .join(Account, Account.id == Transfer.credit_account_id)
        .where(Account.kind == AccountKind.CONTRIBUTOR, col(Transfer.code).in_(list(codes)))
    )
    earned: dict[int, int] = defaultdict(int)
    for contributor_id, amount_units in rows:
        earned[int(contributor_id)] += int(amount_units)
    return dict(earned)


def chunk_work_since(session: Session, *, since: datetime) -> list[tuple[datetime, int]]:
    """``(finished_at, work_units)`` of every chunk record finished at or after ``since``."""
    rows = session.exec(
        select(ChunkRecord.finished_at, ChunkRecord.work_units).where(
            ChunkRecord.finished_at >= since
        )
    )
    return [(finished_at, int(units)) for finished_at, units in rows]


def nodes_gpus_bans(session: Session) -> list[tuple[str, str | None, datetime | None]]:
    """``(ray_node_id, gpu_model, owner's banned_at)`` of every registered node."""
    rows = session.exec(
        select(Node.ray_node_id, Node.gpu_model, Contributor.banned_at).join(
            Contributor, Contributor.id == Node.contributor_id
        )
    ).all()
    return [(node_id, gpu_model, banned_at) for node_id, gpu_model, banned_at in rows]


def jobs_by_status(session: Session) -> dict[str, int]:
    """The number of jobs in each status (every status listed, zero included)."""
    counts = {status.value: 0 for status in JobStatus}
    for status, count in session.exec(select(Job.status, func.count()).group_by(Job.status)):
        counts[JobStatus(status).value] = int(count)
    return counts


def contributor_count(session: Session) -> int:
    """How many contributors there are."""
    query = select(func.count()).select_from(Contributor).where(not_submitter())
    return int(session.exec(query).one())


def total_work_units(session: Session) -> int:
    """Work units of every recorded chunk."""
    return int(session.exec(select(func.coalesce(func.sum(ChunkRecord.work_units), 0))).one())


def node_count_by_contributor(session: Session) -> dict[int, int]:
    """``{contributor_id: registered nodes}`` (contributors without a node are absent)."""
    rows = session.exec(select(Node.contributor_id, func.count()).group_by(Node.contributor_id))
    return {int(cid): int(count) for cid, count in rows}


def contributor_names(session: Session) -> list[tuple[int, str]]:
    """``(id, name)`` of every contributor (no order promised)."""
    rows = session.exec(select(Contributor.id, Contributor.name).where(not_submitter()))
    return [(int(cid), name) for cid, name in rows if cid is not None]


def node_ids_of(session: Session, *, contributor_id: int) -> list[str]:
    """The contributor's Ray node ids, oldest registration first."""
    return list(
        session.exec(
            select(Node.ray_node_id)
            .where(Node.contributor_id == contributor_id)
            .order_by(Node.registered_at)
        ).all()
    )

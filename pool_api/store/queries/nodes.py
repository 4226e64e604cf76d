"""Contributed Ray nodes: registration (with its secret digest and the per-contributor
count), listing with owners, work done, removal, the operator's own head node."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlmodel import Session, func, select

from pool_api.store.models import ChunkRecord, Contributor, Node


def node_by_id(session: Session, *, ray_node_id: str) -> Node | None:
    """The node, or ``None``."""
    return session.get(Node, ray_node_id)


def node_by_registration(session: Session, *, registration_sha256: str) -> Node | None:
    """The node bound to this registration secret digest, or ``None``."""
    return session.exec(select(Node).where(Node.registration_sha256 == registration_sha256)).first()


def owner_for_update(session: Session, *, contributor_id: int) -> Contributor | None:
    """The contributor, row-locked until the transaction ends (PostgreSQL; SQLite takes its
    write lock at the insert), so concurrent registrations count its nodes one at a time."""
    return session.exec(
        select(Contributor).where(Contributor.id == contributor_id).with_for_update()
    ).first()


def node_count(session: Session, *, contributor_id: int) -> int:
    """How many nodes ``contributor_id`` has registered."""
    return session.exec(
        select(func.count()).select_from(Node).where(Node.contributor_id == contributor_id)
    ).one()


def save_node(
    session: Session,
    *,
    node: Node | None,
    ray_node_id: str,
    contributor_id: int,
    cpu_cores: int | None,
    gpu_model: str | None,
    gpu_memory_bytes: int | None,
    speeds: Mapping[str, float],
    registration_sha256: str | None = None,
) -> Node:
    """Register the node (``node is None``) or update its hardware; flushed, not committed."""
    if node is None:
        node = Node(ray_node_id=ray_node_id, contributor_id=contributor_id)
    if registration_sha256 is not None:
        node.registration_sha256 = registration_sha256
    node.cpu_cores = cpu_cores
    node.gpu_model = gpu_model
    node.gpu_memory_bytes = gpu_memory_bytes
    node.speeds_json = json.dumps(speeds, sort_keys=True)
    session.add(node)
    session.flush()
    return node


def nodes_with_owners(
    session: Session, *, contributor_id: int | None
) -> list[tuple[Node, Contributor]]:
    """Every node (of ``contributor_id`` only, unless ``None``) with its owner, oldest first."""
    query = select(Node, Contributor).join(Contributor, Contributor.id == Node.contributor_id)
    if contributor_id is not None:
        query = query.where(Node.contributor_id == contributor_id)
    return list(session.exec(query.order_by(Node.registered_at, Node.ray_node_id)).all())


def work_units_by_node(session: Session) -> dict[str, int]:
    """Work units of the recorded chunks, per Ray node id."""
    rows = session.exec(
        select(ChunkRecord.ray_node_id, func.sum(ChunkRecord.work_units)).group_by(
            ChunkRecord.ray_node_id
        )
    ).all()
    return {node_id: int(units or 0) for node_id, units in rows}


def last_job_by_node(session: Session, *, ray_node_ids: list[str]) -> dict[str, str]:
    """The job of each node's most recently finished chunk (nodes without one are absent)."""
    if not ray_node_ids:
        return {}
    latest = (
        select(ChunkRecord.ray_node_id, func.max(ChunkRecord.finished_at).label("at"))
        .where(ChunkRecord.ray_node_id.in_(ray_node_ids))  # type: ignore[attr-defined]
        .group_by(ChunkRecord.ray_node_id)
        .subquery()
    )
    rows = session.exec(
        select(ChunkRecord.ray_node_id, ChunkRecord.job_id).join(
            latest,
            (ChunkRecord.ray_node_id == latest.c.ray_node_id)
            & (ChunkRecord.finished_at == latest.c.at),
        )
    ).all()
    return {node_id: job_id for node_id, job_id in rows}


def delete_node(session: Session, *, ray_node_id: str) -> bool:
    """Remove the node's registration (its chunk records and credits stay); whether it existed."""
    node = session.get(Node, ray_node_id)
    if node is None:
        return False
    session.delete(node)
    session.flush()
    return True


def register_operator_node(
    session: Session, *, ray_node_id: str, registration_sha256: str, cpu_cores: int
) -> Node:
    """Register the head's own Ray node (``proverpool head --head-cpus N``) to the operator's
    contributor (:func:`~pool_api.store.queries.contributors.operator_contributor`); a node
    id registered before is taken over by the operator.  Committed."""
    from pool_api.store.queries.contributors import operator_contributor

    operator = operator_contributor(session)
    assert operator.id is not None
    node = session.get(Node, ray_node_id)
    if node is None:
        node = Node(ray_node_id=ray_node_id, contributor_id=operator.id)
    node.contributor_id = operator.id
    node.registration_sha256 = registration_sha256
    node.cpu_cores = cpu_cores
    session.add(node)
    session.commit()
    return node

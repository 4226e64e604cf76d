"""``/v1/contributors`` and ``/v1/nodes``: who is in the pool and which nodes are theirs."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, status
from sqlmodel import select

import accounting
from pool_api.deps import CurrentContributor, OperatorAuth, SessionDep, hash_api_key
from pool_api.errors import StateConflictError
from pool_api.models import Contributor, Node
from pool_api.schemas import (
    ContributorCreate,
    ContributorCreated,
    ContributorPublic,
    NodeCreate,
    NodePublic,
)

router = APIRouter(tags=["contributors"])


@router.post(
    "/v1/contributors",
    status_code=status.HTTP_201_CREATED,
    response_model=ContributorCreated,
    dependencies=[OperatorAuth],
)
def create_contributor(body: ContributorCreate, session: SessionDep) -> ContributorCreated:
    """Register a contributor; its API key is shown once here and stored only hashed."""
    if session.exec(select(Contributor).where(Contributor.name == body.name)).first():
        raise StateConflictError(f"a contributor named {body.name!r} exists")
    api_key = "pp_" + secrets.token_urlsafe(32)
    contributor = Contributor(
        name=body.name, payout_address=body.payout_address, api_key_hash=hash_api_key(api_key)
    )
    session.add(contributor)
    session.commit()
    assert contributor.id is not None
    return ContributorCreated(id=contributor.id, name=contributor.name, api_key=api_key)


@router.get("/v1/contributors", response_model=list[ContributorPublic])
def leaderboard(session: SessionDep) -> list[ContributorPublic]:
    """Every contributor with verified work units and balance, most work first."""
    work = accounting.work_units_by_contributor(session)
    balances = accounting.balances(session)
    rows = [
        ContributorPublic(
            id=c.id,
            name=c.name,
            work_units=work.get(c.id, 0),
            balance_units=balances.get(c.id, 0),
        )
        for c in session.exec(select(Contributor))
        if c.id is not None
    ]
    return sorted(rows, key=lambda r: (-r.work_units, r.id))


@router.post("/v1/nodes", status_code=status.HTTP_201_CREATED, response_model=NodePublic)
def register_node(
    body: NodeCreate, contributor: CurrentContributor, session: SessionDep
) -> NodePublic:
    """Claim a Ray node for the calling contributor (chunks it runs are credited to them)."""
    node = session.get(Node, body.ray_node_id)
    assert contributor.id is not None
    if node is not None and node.contributor_id != contributor.id:
        raise StateConflictError("this Ray node belongs to another contributor")
    if node is None:
        node = Node(ray_node_id=body.ray_node_id, contributor_id=contributor.id)
        session.add(node)
        session.commit()
    return NodePublic(ray_node_id=node.ray_node_id, contributor_id=node.contributor_id)


@router.get("/v1/nodes", response_model=list[NodePublic])
def list_nodes(session: SessionDep) -> list[NodePublic]:
    return [
        NodePublic(ray_node_id=n.ray_node_id, contributor_id=n.contributor_id)
        for n in session.exec(select(Node).order_by(Node.registered_at))
    ]

"""``/v1/nodes``: contributed Ray nodes, their hardware, presence and work done.

A contributor's node registers once (Ray node id, CPU cores, GPU model and
memory, measured speeds per kernel) with the registration secret whose SHA-256 the
node advertises as its Ray resource (docs/architecture.md §6: only the machine that
started a node can claim it; at most ``PROVERPOOL_MAX_NODES_PER_CONTRIBUTOR`` each)
and heartbeats every few seconds; presence lives in Redis with the TTL
``PROVERPOOL_NODE_PRESENCE_TTL_SECONDS`` (:mod:`pool_api.live.presence`), and a node
is online while it heartbeats and is alive in Ray.  A banned contributor registers no
node and its nodes stay fenced (registered, banned).  Events: ``node.joined`` when an offline node
registers or beats, ``node.left`` when its presence expires.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.exc import IntegrityError

from pool_api.api.deps import CurrentContributor, Pool, SessionDep
from pool_api.api.node_auth import CurrentNodeOwner
from pool_api.api.node_auth import _owner_entry as owner_cache_entry
from pool_api.api.schemas import Heartbeat, NodeCreate, NodePublic, NodeStatus
from pool_api.errors import ForbiddenError, StateConflictError, UnavailableError
from pool_api.live import presence
from pool_api.membership import (
    alive_ray_nodes,
    ray_nodes,
    registration_digest,
    registration_resource,
)
from pool_api.store.models import Contributor, Node
from pool_api.store.queries import nodes as queries

router = APIRouter(prefix="/v1/nodes", tags=["nodes"])


def _is_banned(node: Node, contributor: Contributor | None) -> bool:
    """Banned nodes or contributors (strikes, issue 4) — read whatever the models hold."""
    return any(getattr(obj, "banned_at", None) is not None for obj in (node, contributor) if obj)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NodePublic,
    responses={
        200: {"description": "already registered by the caller: hardware updated"},
        403: {"description": "banned, or the node does not advertise this secret's resource"},
        409: {
            "description": "another contributor's node, a secret bound to another node, "
            "a node not alive in Ray, or PROVERPOOL_MAX_NODES_PER_CONTRIBUTOR reached"
        },
        503: {"description": "the Ray cluster does not answer"},
    },
)
def register_node(
    body: NodeCreate,
    contributor: CurrentContributor,
    pool: Pool,
    session: SessionDep,
    response: Response,
) -> NodePublic:
    """Claim a Ray node for the calling contributor (chunks it runs are credited to them).

    Only the machine that started the node can: the node must be alive in the pool's Ray
    cluster and advertise the resource ``proverpool_node_<sha256(registration_secret)>``
    (``proverpool join`` starts it so); a secret binds one node, and a re-registration by
    its owner with the same secret updates the hardware.
    """
    assert contributor.id is not None
    if contributor.banned_at is not None:
        raise ForbiddenError(f"contributor {contributor.id} is banned: it cannot register nodes")
    digest = registration_digest(body.registration_secret)
    node = queries.node_by_id(session, ray_node_id=body.ray_node_id)
    if node is not None and node.contributor_id != contributor.id:
        raise StateConflictError("this Ray node belongs to another contributor")
    if node is not None and node.registration_sha256 not in (None, digest):
        raise ForbiddenError(
            "wrong registration secret for this node: use the secret it was started with"
        )
    bound = queries.node_by_registration(session, registration_sha256=digest)
    if bound is not None and bound.ray_node_id != body.ray_node_id:
        raise StateConflictError(
            "this registration secret is already bound to another node "
            "(`proverpool join` makes a new secret for each node it starts)"
        )
    _require_advertised(pool, body.ray_node_id, body.registration_secret)
    if node is None:
        queries.owner_for_update(session, contributor_id=contributor.id)
        cap = pool.settings.max_nodes_per_contributor
        if queries.node_count(session, contributor_id=contributor.id) >= cap:
            raise StateConflictError(
                f"contributor {contributor.id} already has {cap} registered nodes, the most "
                "allowed (PROVERPOOL_MAX_NODES_PER_CONTRIBUTOR); deregister one first "
                "(`proverpool leave`)"
            )
    else:
        response.status_code = status.HTTP_200_OK
    if node is None:  # a Ray node id may come back (a restored pool): no stale owner cache
        pool.events.client.delete(owner_cache_entry(body.ray_node_id))
    try:
        node = queries.save_node(
            session,
            node=node,
            ray_node_id=body.ray_node_id,
            contributor_id=contributor.id,
            cpu_cores=body.cpu_cores,
            gpu_model=body.gpu_model,
            gpu_memory_bytes=body.gpu_memory_bytes,
            speeds=body.speeds,
            registration_sha256=digest,
        )
        session.commit()
    except IntegrityError as exc:  # a concurrent registration of this node or secret won
        session.rollback()
        raise StateConflictError(
            "this Ray node or registration secret was registered at the same moment by "
            "another request; retry to see by whom"
        ) from exc
    session.refresh(node)
    ttl = pool.settings.node_presence_ttl_seconds
    if presence.beat(pool.events.client, node.ray_node_id, ttl):
        _joined(pool, node)
    return _public(node, contributor, "online", 0, None)


def _require_advertised(pool: Pool, ray_node_id: str, secret: str) -> None:
    """The node is alive in the pool's Ray and advertises the secret's resource, or an
    :class:`~pool_api.errors.ApiError` saying which of the two it is not."""
    address = pool.settings.ray_address
    if not address:
        raise StateConflictError(
            "this pool runs a private Ray that nodes cannot join: start it with `proverpool head`"
        )
    alive = ray_nodes(address, fresh=True)
    if alive is None:
        raise UnavailableError("the pool's Ray cluster does not answer; retry shortly")
    if ray_node_id not in alive:
        raise StateConflictError(
            f"Ray node {ray_node_id} is not alive in the pool's Ray cluster: only a running "
            "node can be registered"
        )
    if registration_resource(secret) not in alive[ray_node_id]:
        raise ForbiddenError(
            f"Ray node {ray_node_id} does not advertise this registration secret's resource "
            "(proverpool_node_<sha256 of the secret>): only the machine that started a node "
            "can register it"
        )


def _joined(pool: Pool, node: Node) -> None:
    pool.events.publish(
        "node.joined", ray_node_id=node.ray_node_id, contributor_id=node.contributor_id
    )


@router.post(
    "/{ray_node_id}/heartbeat",
    response_model=Heartbeat,
    responses={401: {"description": "no API key"}, 403: {"description": "not your node"}},
)
async def heartbeat(owner: CurrentNodeOwner, pool: Pool) -> Heartbeat:
    """Keep the node online for ``PROVERPOOL_NODE_PRESENCE_TTL_SECONDS`` more seconds.

    Needs the API key of the node's owner; answers ``banned`` for a banned contributor.
    """
    ttl = pool.settings.node_presence_ttl_seconds
    if presence.beat(pool.events.client, owner.ray_node_id, ttl):
        pool.events.publish(
            "node.joined", ray_node_id=owner.ray_node_id, contributor_id=owner.contributor_id
        )
    node_status: NodeStatus = "banned" if owner.banned else "online"
    return Heartbeat(ray_node_id=owner.ray_node_id, status=node_status, ttl_seconds=ttl)


def _public(
    node: Node,
    contributor: Contributor | None,
    online: NodeStatus,
    work_units: int,
    seen: float | None,
    last_job: str | None = None,
) -> NodePublic:
    node_status: NodeStatus = "banned" if _is_banned(node, contributor) else online
    return NodePublic(
        ray_node_id=node.ray_node_id,
        contributor_id=node.contributor_id,
        status=node_status,
        cpu_cores=node.cpu_cores,
        gpu_model=node.gpu_model,
        gpu_memory_bytes=node.gpu_memory_bytes,
        speeds=json.loads(node.speeds_json) if node.speeds_json else {},
        work_units=work_units,
        last_seen_at=datetime.fromtimestamp(seen, UTC) if seen is not None else None,
        registered_at=node.registered_at,
        last_job_id=last_job,
    )


@router.get("", response_model=list[NodePublic])
def list_nodes(
    pool: Pool,
    session: SessionDep,
    status_filter: Annotated[NodeStatus | None, Query(alias="status")] = None,
    contributor_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[NodePublic]:
    """Every node with its status, hardware, speeds, work done, last heartbeat (kept when
    it goes offline) and last job: ``online`` while it heartbeats and is alive in the
    pool's Ray cluster, ``banned`` when its owner is."""
    rows = queries.nodes_with_owners(session, contributor_id=contributor_id)
    ids = [node.ray_node_id for node, _ in rows]
    work = queries.work_units_by_node(session)
    last_jobs = queries.last_job_by_node(session, ray_node_ids=ids)
    live = presence.last_seen(pool.events.client, ids)
    alive = alive_ray_nodes(pool.settings.ray_address) if rows else frozenset()
    online = {node_id for node_id in live if node_id in alive}
    seen = {**presence.last_heartbeats(pool.events.client, ids), **live}
    nodes = [
        _public(
            node,
            owner,
            "online" if node.ray_node_id in online else "offline",
            work.get(node.ray_node_id, 0),
            seen.get(node.ray_node_id),
            last_jobs.get(node.ray_node_id),
        )
        for node, owner in rows
    ]
    if status_filter is not None:
        nodes = [n for n in nodes if n.status == status_filter]
    return nodes


@router.delete(
    "/{ray_node_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        401: {"description": "no API key"},
        403: {"description": "not your node, or you are banned (your nodes stay fenced)"},
    },
)
def deregister_node(owner: CurrentNodeOwner, pool: Pool, session: SessionDep) -> Response:
    """Deregister the caller's node (``proverpool leave``): it goes offline at once; chunk
    records and credits it earned stay.  A banned contributor's nodes stay registered as
    banned (fenced: never offered work), so deregistering them is refused."""
    owner_row = session.get(Contributor, owner.contributor_id)
    if owner_row is not None and owner_row.banned_at is not None:
        raise ForbiddenError(
            f"contributor {owner.contributor_id} is banned: its nodes stay registered as "
            "banned and get no work; they cannot be deregistered"
        )
    if queries.delete_node(session, ray_node_id=owner.ray_node_id):
        session.commit()
    pool.events.client.delete(owner_cache_entry(owner.ray_node_id))
    presence.forget(pool.events.client, owner.ray_node_id)
    if presence.leave(pool.events.client, owner.ray_node_id):
        pool.events.publish(
            "node.left", ray_node_id=owner.ray_node_id, contributor_id=owner.contributor_id
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)

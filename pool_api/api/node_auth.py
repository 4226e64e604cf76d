"""The heartbeat's authentication: the caller's API key must own the path's node.

Heartbeats are the API's hottest path (every node, every few seconds), so the
two facts they need — whose key this is (and whether that contributor is
banned), and whose node this is — are cached in Redis for
``AUTH_CACHE_TTL_SECONDS`` after one SQL query on a miss.  Rotating or
revoking a key deletes its cache entry at once (:func:`forget_key`); a ban
shows in the heartbeat's answer within the TTL (scheduling reads SQL).
Node ownership never changes once registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from pool_api.api.deps import Credentials, Pool, _unauthorized, hash_api_key
from pool_api.errors import NotFoundError
from pool_api.state import PoolState
from pool_api.store.models import Contributor, Node

AUTH_CACHE_TTL_SECONDS = 30
_MISSING = "-"


@dataclass(frozen=True)
class NodeOwner:
    contributor_id: int
    ray_node_id: str
    banned: bool


def _key_entry(digest: str) -> str:
    return f"proverpool:auth:{digest}"


def _owner_entry(ray_node_id: str) -> str:
    return f"proverpool:node:{ray_node_id}:owner"


def forget_key(pool: PoolState, api_key_hash: str) -> None:
    """Drop a key's cache entry (after its rotation or revocation is committed)."""
    pool.events.client.delete(_key_entry(api_key_hash))


def _load(pool: PoolState, digest: str, ray_node_id: str) -> tuple[str, str]:
    """``(key entry, owner entry)`` from SQL, cached in Redis."""
    with pool.read_engine.connect() as connection:
        row = connection.execute(
            select(Contributor.id, Contributor.banned_at).where(
                Contributor.api_key_hash == digest,
                Contributor.api_key_revoked_at.is_(None),  # type: ignore[union-attr]
            )
        ).first()
        owner = connection.execute(
            select(Node.contributor_id).where(Node.ray_node_id == ray_node_id)
        ).scalar()
    key = _MISSING if row is None else f"{row[0]}:{int(row[1] is not None)}"
    node = _MISSING if owner is None else str(owner)
    pipe = pool.events.client.pipeline(transaction=False)
    pipe.set(_key_entry(digest), key, ex=AUTH_CACHE_TTL_SECONDS)
    if owner is not None:
        pipe.set(_owner_entry(ray_node_id), node, ex=24 * 3600)
    pipe.execute()
    return key, node


async def require_node_owner(
    ray_node_id: Annotated[str, Path(max_length=64)], pool: Pool, credentials: Credentials
) -> NodeOwner:
    """The path's node, reached with its owner's API key (one Redis round trip when cached)."""
    if credentials is None:
        raise _unauthorized("contributor API key required (Authorization: Bearer <key>)")
    digest = hash_api_key(credentials.credentials)
    cached = pool.events.client.mget([_key_entry(digest), _owner_entry(ray_node_id)])
    key, node = (v.decode() if isinstance(v, bytes) else v for v in cached)
    if key is None or node is None:
        key, node = await run_in_threadpool(_load, pool, digest, ray_node_id)
    if key == _MISSING:
        raise HTTPException(403, detail="invalid or revoked contributor API key")
    contributor_id, banned = (int(part) for part in key.split(":"))
    if node == _MISSING:
        raise NotFoundError(f"no node {ray_node_id!r}; register it with POST /v1/nodes")
    if int(node) != contributor_id:
        raise HTTPException(403, detail="this node belongs to another contributor")
    return NodeOwner(contributor_id, ray_node_id, bool(banned))


CurrentNodeOwner = Annotated[NodeOwner, Depends(require_node_owner)]

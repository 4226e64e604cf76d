"""``POST /v1/nodes/reachability``: whether the pool reaches a node ``join`` just started
(issue 15 item 3; :mod:`pool_api.reachability`).

The caller proves it started the node as for registration (the node is alive in the
pool's Ray and advertises the secret's resource); the pool then connects to the node's
raylet and object manager ports and, where this process runs jobs, runs a tiny task
pinned to it.  The answer is 200 either way: ``reachable`` and, if not, ``problem``,
the one line ``join`` prints before it stops.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from pool_api.api.deps import CurrentContributor, Pool
from pool_api.api.routes.nodes import _require_advertised
from pool_api.errors import ForbiddenError
from pool_api.reachability import probe_node

router = APIRouter(prefix="/v1/nodes", tags=["nodes"])


class ReachabilityCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ray_node_id: StrictStr = Field(pattern=r"^[0-9a-f]{56}$", description="Ray node id (hex).")
    registration_secret: StrictStr = Field(
        min_length=32,
        max_length=128,
        pattern=r"^[0-9A-Za-z_\-]+$",
        description="The secret the node was started with (as for POST /v1/nodes).",
    )


class Reachability(BaseModel):
    reachable: bool
    address: str | None = Field(description="The address the node advertises.")
    ports: dict[str, int] = Field(description="The node's ports the pool tried, by name.")
    problem: str | None = Field(description="What the pool could not reach, and what to do.")
    seconds: float = Field(description="How long the check took.")


@router.post(
    "/reachability",
    response_model=Reachability,
    responses={
        403: {"description": "banned, or the node does not advertise this secret's resource"},
        409: {"description": "the node is not alive in the pool's Ray"},
        503: {"description": "the Ray cluster does not answer"},
    },
)
def check_reachability(
    body: ReachabilityCheck, contributor: CurrentContributor, pool: Pool
) -> Reachability:
    """Whether the pool reaches the caller's freshly started Ray node (``proverpool join``
    asks before it registers the node, and stops with the answer's ``problem`` if not)."""
    if contributor.banned_at is not None:
        raise ForbiddenError(f"contributor {contributor.id} is banned")
    _require_advertised(pool, body.ray_node_id, body.registration_secret)
    return Reachability(**probe_node(pool.settings, body.ray_node_id))

"""``/v1/version`` and ``/v1/cluster``: what ``proverpool join`` needs to join the Ray cluster.

``proverpool join`` (issue 7 §2) first checks the pool's version (public), then
redeems its invite and, with the contributor's API key, asks for the Ray
address and token.  A contributor's Ray node is a full member of the cluster
(``docs/threat-model.md``), which is why the token is only handed to holders
of a valid API key.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from pool_api.api.deps import CurrentContributor, Pool
from pool_api.errors import ForbiddenError, StateConflictError
from pool_api.membership import advertised_ray_address, local_ray_auth_token, pool_version

router = APIRouter(tags=["cluster"])


class VersionInfo(BaseModel):
    name: str
    version: str


class ClusterInfo(BaseModel):
    ray_address: str = Field(description="host:port of the Ray GCS, for `ray start --address`.")
    ray_auth_token: str | None = Field(
        default=None, description="Ray's cluster token (RAY_AUTH_MODE=token); null if auth is off."
    )
    version: str


@router.get("/v1/version", response_model=VersionInfo)
def version() -> VersionInfo:
    """The pool's ``proverpool`` version: ``join`` refuses a different one."""
    return VersionInfo(name="proverpool", version=pool_version())


@router.get(
    "/v1/cluster",
    response_model=ClusterInfo,
    responses={
        403: {"description": "the contributor is banned: no cluster credentials"},
        409: {"description": "the pool runs no Ray cluster that nodes can join"},
    },
)
def cluster(contributor: CurrentContributor, pool: Pool, request: Request) -> ClusterInfo:
    """The Ray GCS address to ``ray start --address`` and the Ray auth token (or null);
    refused to a banned contributor."""
    if contributor.banned_at is not None:
        raise ForbiddenError(
            f"contributor {contributor.id} is banned: no Ray cluster credentials are given out"
        )
    address = pool.settings.ray_address
    if not address:
        raise StateConflictError(
            "this pool runs a private Ray that nodes cannot join: start it with `proverpool head`"
        )
    return ClusterInfo(
        ray_address=advertised_ray_address(address, request.url.hostname),
        ray_auth_token=local_ray_auth_token(),
        version=pool_version(),
    )

"""FastAPI dependencies as ``Annotated`` aliases: the pool state, sessions, authentication.

Operator endpoints take the operator token, contributor endpoints the
contributor's API key (docs/architecture.md §8); keys are stored as SHA-256 digests and
compared in constant time; a revoked key is refused until the key is rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from pool_api.errors import NotFoundError
from pool_api.state import PoolState
from pool_api.store.models import Contributor
from pool_api.store.queries import contributors as contributor_queries

bearer = HTTPBearer(auto_error=False)


async def get_pool(request: Request) -> PoolState:
    """The running pool (async: no thread hop for a plain attribute read)."""
    return request.app.state.pool


Pool = Annotated[PoolState, Depends(get_pool)]


def get_session(pool: Pool) -> Iterator[Session]:
    with Session(pool.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh API key and its stored digest."""
    api_key = "pp_" + secrets.token_urlsafe(32)
    return api_key, hash_api_key(api_key)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def is_operator(pool: PoolState, token: str) -> bool:
    expected = pool.settings.resolved_operator_token.encode()
    return hmac.compare_digest(token.encode(), expected)


def api_key_owner(session: Session, api_key: str) -> Contributor | None:
    """The contributor whose current, unrevoked key is ``api_key``, or ``None``."""
    digest = hash_api_key(api_key)
    found = session.exec(select(Contributor).where(Contributor.api_key_hash == digest)).first()
    # The lookup is by digest; compare again in constant time to be explicit about it.
    if found is None or not hmac.compare_digest(found.api_key_hash, digest):
        return None
    if found.api_key_revoked_at is not None or contributor_queries.is_submitter(found):
        return None  # a submitter key only submits jobs (require_submitter)
    return found


def _is_submitter_key(pool: PoolState, api_key: str) -> bool:
    digest = hash_api_key(api_key)
    with Session(pool.engine) as session:
        found = session.exec(select(Contributor).where(Contributor.api_key_hash == digest)).first()
        return (
            found is not None
            and hmac.compare_digest(found.api_key_hash, digest)
            and found.api_key_revoked_at is None
            and contributor_queries.is_submitter(found)
        )


async def require_submitter(pool: Pool, credentials: Credentials) -> None:
    """Job submission (and proving-key upload): the operator token or a submitter key
    (``POST /v1/submitters``), or anyone when ``PROVERPOOL_PUBLIC_SUBMIT`` is on."""
    if pool.settings.public_submit:
        return
    if credentials is None:
        raise _unauthorized(
            "submitting needs the operator token or a submitter key "
            "(Authorization: Bearer …); this pool does not take anonymous jobs"
        )
    if is_operator(pool, credentials.credentials):
        return
    if not await run_in_threadpool(_is_submitter_key, pool, credentials.credentials):
        raise HTTPException(
            403, detail="invalid or revoked submitter key (a contributor key cannot submit)"
        )


async def require_operator(pool: Pool, credentials: Credentials) -> None:
    if credentials is None:
        raise _unauthorized("operator token required (Authorization: Bearer <token>)")
    if not is_operator(pool, credentials.credentials):
        raise HTTPException(403, detail="invalid operator token")


def _owner_of(pool: PoolState, api_key: str) -> Contributor | None:
    with Session(pool.engine, expire_on_commit=False) as session:
        contributor = api_key_owner(session, api_key)
        if contributor is not None:
            session.expunge(contributor)
        return contributor


async def require_contributor(pool: Pool, credentials: Credentials) -> Contributor:
    """The caller's contributor (one worker-thread hop for the lookup, its own session)."""
    if credentials is None:
        raise _unauthorized("contributor API key required (Authorization: Bearer <key>)")
    contributor = await run_in_threadpool(_owner_of, pool, credentials.credentials)
    if contributor is None:
        raise HTTPException(403, detail="invalid or revoked contributor API key")
    return contributor


ContributorId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A contributor's id.")]


def require_self_or_operator(
    contributor_id: ContributorId, pool: Pool, session: SessionDep, credentials: Credentials
) -> int:
    """The path's contributor, reached with their own API key or the operator token."""
    if credentials is None:
        raise _unauthorized(
            "contributor API key or operator token required (Authorization: Bearer …)"
        )
    token = credentials.credentials
    if not is_operator(pool, token):
        owner = api_key_owner(session, token)
        if owner is None:
            raise HTTPException(403, detail="invalid or revoked API key")
        if owner.id != contributor_id:
            raise HTTPException(403, detail="this API key belongs to another contributor")
    if session.get(Contributor, contributor_id) is None:
        raise NotFoundError(f"no contributor {contributor_id}")
    return contributor_id


OperatorAuth = Depends(require_operator)
SubmitAuth = Depends(require_submitter)
CurrentContributor = Annotated[Contributor, Depends(require_contributor)]
SelfOrOperator = Annotated[int, Depends(require_self_or_operator)]

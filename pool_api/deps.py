"""FastAPI dependencies as ``Annotated`` aliases: the pool state, sessions, authentication."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, select

from pool_api.models import Contributor
from pool_api.state import PoolState

bearer = HTTPBearer(auto_error=False)


def get_pool(request: Request) -> PoolState:
    return request.app.state.pool


Pool = Annotated[PoolState, Depends(get_pool)]


def get_session(pool: Pool) -> Iterator[Session]:
    with Session(pool.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def require_operator(pool: Pool, credentials: Credentials) -> None:
    if credentials is None:
        raise _unauthorized("operator token required (Authorization: Bearer <token>)")
    expected = pool.settings.resolved_operator_token.encode()
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise HTTPException(403, detail="invalid operator token")


def require_contributor(session: SessionDep, credentials: Credentials) -> Contributor:
    if credentials is None:
        raise _unauthorized("contributor API key required (Authorization: Bearer <key>)")
    digest = hash_api_key(credentials.credentials)
    contributor = session.exec(
        select(Contributor).where(Contributor.api_key_hash == digest)
    ).first()
    # The lookup is by hash; compare again in constant time to be explicit about it.
    if contributor is None or not hmac.compare_digest(contributor.api_key_hash, digest):
        raise HTTPException(403, detail="invalid contributor API key")
    return contributor


OperatorAuth = Depends(require_operator)
CurrentContributor = Annotated[Contributor, Depends(require_contributor)]

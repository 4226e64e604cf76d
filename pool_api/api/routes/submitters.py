"""``/v1/submitters``: the operator issues and revokes submitter keys (scope ``submit``).

Submitting jobs (``POST /v1/jobs``) and uploading proving keys (``POST /v1/zkeys``)
takes the operator token or a submitter key, unless ``PROVERPOOL_PUBLIC_SUBMIT`` opens
them to anyone (:func:`pool_api.api.deps.require_submitter`).  A submitter key is
shown once, when issued, and stored as its SHA-256 digest, like a contributor's API
key; it is kept in a contributor row named ``submit:<name>``
(:data:`pool_api.store.queries.contributors.SUBMITTER_PREFIX`) that can do nothing
but submit and is left out of every contributor listing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy.exc import IntegrityError

from pool_api.api.deps import OperatorAuth, SessionDep, new_api_key
from pool_api.errors import NotFoundError, StateConflictError
from pool_api.store.queries import contributors as queries

router = APIRouter(prefix="/v1/submitters", tags=["submitters"], dependencies=[OperatorAuth])

_NAME_CHARS = 64 - len(queries.SUBMITTER_PREFIX)


class SubmitterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1, max_length=_NAME_CHARS, pattern=r"^[A-Za-z0-9_.\- ]+$")


class SubmitterCreated(BaseModel):
    id: int
    name: str
    api_key: str = Field(description="The submitter key: shown only here; stored hashed.")


class SubmitterPublic(BaseModel):
    id: int
    name: str
    created_at: datetime
    revoked: bool


SubmitterId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A submitter key's id.")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmitterCreated,
    responses={409: {"description": "the name is taken"}},
)
def issue_submitter_key(body: SubmitterCreate, session: SessionDep) -> SubmitterCreated:
    """A new submitter key: it may submit jobs and upload proving keys, nothing else."""
    api_key, digest = new_api_key()
    name = queries.SUBMITTER_PREFIX + body.name
    try:
        row = queries.add_contributor(session, name=name, payout_address=None, api_key_hash=digest)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise StateConflictError(f"a submitter named {body.name!r} exists") from exc
    assert row.id is not None
    return SubmitterCreated(id=row.id, name=body.name, api_key=api_key)


@router.get("", response_model=list[SubmitterPublic])
def list_submitter_keys(session: SessionDep) -> list[SubmitterPublic]:
    """Every submitter key ever issued (never the key itself), oldest first."""
    return [
        SubmitterPublic(
            id=row.id,
            name=row.name.removeprefix(queries.SUBMITTER_PREFIX),
            created_at=row.created_at,
            revoked=row.api_key_revoked_at is not None,
        )
        for row in queries.all_submitters(session)
        if row.id is not None
    ]


@router.post(
    "/{submitter_id}/revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "no such submitter key"}},
)
def revoke_submitter_key(submitter_id: SubmitterId, session: SessionDep) -> Response:
    """Revoke a submitter key: it stops working at once (issue a new one to resume)."""
    row = queries.contributor_by_id(session, contributor_id=submitter_id)
    if row is None or not queries.is_submitter(row):
        raise NotFoundError(f"no submitter key {submitter_id}")
    if queries.revoke_api_key(session, contributor=row):
        session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)

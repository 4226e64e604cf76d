"""``/v1/invites`` and ``/v1/contributors``: onboarding, API keys, the leaderboard.

Onboarding (issue 6 §1): the operator creates a single-use invite; a contributor
redeems it once with a name and payout address and receives an API key, shown
only then and stored as its SHA-256 digest.  Keys can be rotated (a new key;
the old one stops working) and revoked (no key works until the next rotation),
by the contributor or the operator.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

import accounting
from pool_api.api.deps import (
    Credentials,
    OperatorAuth,
    Pool,
    SelfOrOperator,
    SessionDep,
    hash_api_key,
    is_operator,
    new_api_key,
)
from pool_api.api.node_auth import forget_key
from pool_api.api.schemas import (
    ApiKeyRotated,
    ContributorCreate,
    ContributorCreated,
    ContributorPublic,
    InviteCreated,
)
from pool_api.errors import ApiError, StateConflictError
from pool_api.state import PoolState
from pool_api.store.models import Invite, utcnow
from pool_api.store.queries import contributors as queries

router = APIRouter(tags=["contributors"])


class InvalidInviteError(ApiError):
    status_code = 403


@router.post(
    "/v1/invites",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteCreated,
    dependencies=[OperatorAuth],
)
def create_invite(pool: Pool, session: SessionDep) -> InviteCreated:
    """A single-use onboarding token valid for ``PROVERPOOL_INVITE_TTL_SECONDS``."""
    token = "inv_" + secrets.token_urlsafe(24)
    invite = queries.add_invite(
        session,
        token_hash=hash_api_key(token),
        expires_at=utcnow() + timedelta(seconds=pool.settings.invite_ttl_seconds),
    )
    session.commit()
    return InviteCreated(invite=token, expires_at=invite.expires_at)


def _redeemable_invite(session: Session, token: str) -> Invite:
    digest = hash_api_key(token)
    invite = queries.invite_for_update(session, token_hash=digest)
    if invite is None or not hmac.compare_digest(invite.token_hash, digest):
        raise InvalidInviteError("unknown invite")
    if invite.used_at is not None:
        raise InvalidInviteError("this invite was already used")
    if invite.expires_at <= utcnow():
        raise InvalidInviteError("this invite has expired")
    return invite


def _check_payout_address(pool: PoolState, address: str | None) -> None:
    """422 unless ``address`` matches ``PROVERPOOL_PAYOUT_ADDRESS_PATTERN`` in full (the
    address is never echoed: it ends up in payout CSVs, so a formula must not get in)."""
    pattern = pool.settings.payout_address_pattern
    if address is not None and re.fullmatch(pattern, address) is None:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "payout_address"),
                    "msg": f"not a payout address: it must match {pattern}",
                    "type": "payout_address_pattern",
                }
            ]
        )


@router.post(
    "/v1/contributors",
    status_code=status.HTTP_201_CREATED,
    response_model=ContributorCreated,
    responses={
        401: {"description": "neither an invite nor the operator token"},
        403: {"description": "invalid, used or expired invite; or a wrong operator token"},
        409: {"description": "the name is taken"},
    },
)
def create_contributor(
    body: ContributorCreate, pool: Pool, session: SessionDep, credentials: Credentials
) -> ContributorCreated:
    """Redeem an invite (no token needed), or, without one, create a contributor as the
    operator.  The API key is shown once here and stored only hashed."""
    invite = None
    if body.invite is not None:
        invite = _redeemable_invite(session, body.invite)
    elif credentials is None:
        raise HTTPException(
            401,
            detail="an invite, or the operator token (Authorization: Bearer <token>), is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    elif not is_operator(pool, credentials.credentials):
        raise HTTPException(403, detail="invalid operator token")
    _check_payout_address(pool, body.payout_address)  # before anything is written
    if queries.contributor_named(session, name=body.name) is not None:
        raise StateConflictError(f"a contributor named {body.name!r} exists")
    api_key, digest = new_api_key()
    try:
        contributor = queries.add_contributor(
            session, name=body.name, payout_address=body.payout_address, api_key_hash=digest
        )
        assert contributor.id is not None
        if invite is not None:
            queries.use_invite(session, invite=invite, contributor_id=contributor.id)
        session.commit()
    except IntegrityError as exc:  # a concurrent request took the name first
        session.rollback()
        raise StateConflictError(f"a contributor named {body.name!r} exists") from exc
    assert contributor.id is not None
    return ContributorCreated(id=contributor.id, name=contributor.name, api_key=api_key)


@router.post("/v1/contributors/{contributor_id}/keys/rotate", response_model=ApiKeyRotated)
def rotate_key(contributor_id: SelfOrOperator, pool: Pool, session: SessionDep) -> ApiKeyRotated:
    """Issue a new API key (shown once); the previous key stops working at once."""
    contributor = queries.contributor_by_id(session, contributor_id=contributor_id)
    assert contributor is not None
    api_key, digest = new_api_key()
    old_digest = queries.replace_api_key(session, contributor=contributor, api_key_hash=digest)
    session.commit()
    forget_key(pool, old_digest)
    return ApiKeyRotated(id=contributor_id, api_key=api_key)


@router.post(
    "/v1/contributors/{contributor_id}/keys/revoke", status_code=status.HTTP_204_NO_CONTENT
)
def revoke_key(contributor_id: SelfOrOperator, pool: Pool, session: SessionDep) -> Response:
    """Revoke the current API key: nothing works with it; the operator can rotate a new one."""
    contributor = queries.contributor_by_id(session, contributor_id=contributor_id)
    assert contributor is not None
    if queries.revoke_api_key(session, contributor=contributor):
        session.commit()
    forget_key(pool, contributor.api_key_hash)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
            banned=c.banned_at is not None,
        )
        for c in queries.all_contributors(session)
        if c.id is not None
    ]
    return sorted(rows, key=lambda r: (-r.work_units, r.id))

"""Contributors, their invites and API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pool_api.store.models import Contributor, Invite, utcnow


def contributor_by_id(session: Session, *, contributor_id: int) -> Contributor | None:
    """The contributor, or ``None``."""
    return session.get(Contributor, contributor_id)


def contributor_named(session: Session, *, name: str) -> Contributor | None:
    """The contributor called ``name``, or ``None``."""
    return session.exec(select(Contributor).where(Contributor.name == name)).first()


SUBMITTER_PREFIX = "submit:"
"""Names of the rows that hold submitter keys (scope ``submit``): ``submit:<label>``.

A submitter key is a contributor row whose name carries this prefix (a contributor's
own name cannot contain ``:``); it may submit jobs and nothing else, and it is left
out of every listing of contributors."""


def is_submitter(contributor: Contributor) -> bool:
    """Whether the row holds a submitter key rather than a contributor."""
    return contributor.name.startswith(SUBMITTER_PREFIX)


def not_submitter() -> ColumnElement[bool]:
    """SQL condition: the contributor row is not a submitter key."""
    return col(Contributor.name).not_like(SUBMITTER_PREFIX + "%")


OPERATOR_NAME = "(operator)"
"""The operator's own contributor (its head node's work): a name no invite can take
(contributors' names match ``^[A-Za-z0-9_.\\- ]+$``)."""


def operator_contributor(session: Session) -> Contributor:
    """The operator's contributor, created on first use (committed) with a revoked, never
    shown API key: the operator acts through the operator token."""
    found = contributor_named(session, name=OPERATOR_NAME)
    if found is not None:
        return found
    contributor = Contributor(
        name=OPERATOR_NAME,
        api_key_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
        api_key_revoked_at=utcnow(),
    )
    session.add(contributor)
    try:
        session.commit()
    except IntegrityError:  # another process created it first
        session.rollback()
        found = contributor_named(session, name=OPERATOR_NAME)
        assert found is not None
        return found
    session.refresh(contributor)
    return contributor


def all_contributors(session: Session) -> list[Contributor]:
    """Every contributor (no order promised; submitter keys are not contributors)."""
    return list(session.exec(select(Contributor).where(not_submitter())))


def all_submitters(session: Session) -> list[Contributor]:
    """Every submitter-key row, oldest first."""
    query = select(Contributor).where(col(Contributor.name).like(SUBMITTER_PREFIX + "%"))
    return list(session.exec(query.order_by(col(Contributor.id))))


def add_invite(session: Session, *, token_hash: str, expires_at: datetime) -> Invite:
    """A new invite (flushed, not committed)."""
    invite = Invite(token_hash=token_hash, expires_at=expires_at)
    session.add(invite)
    session.flush()
    return invite


def invite_for_update(session: Session, *, token_hash: str) -> Invite | None:
    """The invite with this token digest, row-locked until the transaction ends, or ``None``."""
    return session.exec(
        select(Invite).where(Invite.token_hash == token_hash).with_for_update()
    ).first()


def add_contributor(
    session: Session, *, name: str, payout_address: str | None, api_key_hash: str
) -> Contributor:
    """A new contributor, flushed (so it has its id); ``IntegrityError`` if the name is taken."""
    contributor = Contributor(name=name, payout_address=payout_address, api_key_hash=api_key_hash)
    session.add(contributor)
    session.flush()
    return contributor


def use_invite(session: Session, *, invite: Invite, contributor_id: int) -> None:
    """Mark ``invite`` used by ``contributor_id`` (now)."""
    invite.used_at = utcnow()
    invite.contributor_id = contributor_id
    session.add(invite)
    session.flush()


def replace_api_key(session: Session, *, contributor: Contributor, api_key_hash: str) -> str:
    """Give ``contributor`` a new key digest (and lift a revocation); the old digest."""
    old = contributor.api_key_hash
    contributor.api_key_hash = api_key_hash
    contributor.api_key_revoked_at = None
    session.add(contributor)
    session.flush()
    return old


def revoke_api_key(session: Session, *, contributor: Contributor) -> bool:
    """Revoke ``contributor``'s current key unless it is revoked already; whether it was now."""
    if contributor.api_key_revoked_at is not None:
        return False
    contributor.api_key_revoked_at = utcnow()
    session.add(contributor)
    session.flush()
    return True

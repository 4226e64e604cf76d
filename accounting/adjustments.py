"""Penalties and the release of held rewards: corrections are postings, never edits.

* :func:`post_penalty` — contributor → ``penalties`` (``"<penalty_id>:penalty"``),
  e.g. for a verification strike. Refused (:class:`InsufficientFundsError`) when it
  would make the contributor's balance negative.
* :func:`release_held` — the held part of one reward (a job nobody verified work
  for) → ``operator_fee`` or a chosen contributor (``"<release_id>:release"``),
  once per reward.

Both are idempotent on their client-chosen id and all or nothing (a savepoint of the
caller's transaction); neither commits: the caller owns the transaction and commits.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlmodel import Session

from accounting._core import (
    PostStatus,
    _check_contributor_id,
    _check_positive_units,
    _check_ref,
    _post_once,
)
from accounting._transfers import _apply_transfers, _Leg
from accounting.errors import InvalidInputError, InvalidStateError
from accounting.models import (
    AccountKind,
    HeldRelease,
    Penalty,
    Reward,
    Transfer,
    TransferCode,
)

MAX_REASON_LENGTH = 1000


def post_penalty(
    session: Session,
    *,
    penalty_id: str,
    contributor_id: int,
    job_ref: str,
    amount_units: int,
    reason: str,
) -> PostStatus:
    """Take ``amount_units`` from a contributor's balance into ``penalties``.

    Returns ``"created"`` or ``"exists"`` (same id, same contents: nothing
    changes); other contents → :class:`ConflictError`; a penalty above the
    contributor's balance → :class:`InsufficientFundsError` and nothing written.

    Transaction: writes in a savepoint of the caller's transaction and does **not**
    commit; the caller commits.
    """
    penalty_id = _check_ref(penalty_id, "penalty_id")
    if not isinstance(reason, str) or not 0 < len(reason) <= MAX_REASON_LENGTH:
        raise InvalidInputError(
            f"reason must be a string of 1 to {MAX_REASON_LENGTH} characters", field="reason"
        )
    wanted = {
        "contributor_id": _check_contributor_id(contributor_id),
        "job_ref": _check_ref(job_ref, "job_ref"),
        "amount_units": _check_positive_units(amount_units),
        "reason": reason,
    }

    def create() -> None:
        session.add(Penalty(id=penalty_id, **wanted))
        session.flush()
        leg = _Leg(
            f"{penalty_id}:penalty",
            (AccountKind.CONTRIBUTOR, wanted["contributor_id"]),
            (AccountKind.PENALTIES, None),
            wanted["amount_units"],
            TransferCode.PENALTY,
        )
        _apply_transfers(session, [leg], job_ref=str(wanted["job_ref"]), reward_id=None)

    return _post_once(
        session,
        model=Penalty,
        entity="penalty",
        record_id=penalty_id,
        wanted=wanted,
        contents=lambda p: {name: getattr(p, name) for name in wanted},
        create=create,
    )


def release_held(
    session: Session,
    *,
    release_id: str,
    reward_id: str,
    to: Literal["operator"] | int,
) -> PostStatus:
    """Move the held part of reward ``reward_id`` to the operator or to contributor ``to``.

    Returns ``"created"`` or ``"exists"`` (same release id and contents). Raises
    :class:`InvalidStateError` when the reward holds nothing (unknown, or it was
    split) or was released already under another id; :class:`ConflictError` when
    ``release_id`` exists with other contents.

    Transaction: writes in a savepoint of the caller's transaction and does **not**
    commit; the caller commits.
    """
    release_id = _check_ref(release_id, "release_id")
    reward_id = _check_ref(reward_id, "reward_id")
    if to == "operator":
        target = (AccountKind.OPERATOR_FEE, None)
    elif isinstance(to, int) and not isinstance(to, bool):
        target = (AccountKind.CONTRIBUTOR, _check_contributor_id(to))
    else:
        raise InvalidInputError(
            f"to must be 'operator' or a contributor id, got {to!r}", field="to"
        )
    wanted = {"reward_id": reward_id, "to_contributor_id": target[1]}

    def already_released() -> None:
        other = session.scalar(select(HeldRelease.id).where(HeldRelease.reward_id == reward_id))
        if other is not None:
            raise InvalidStateError(f"reward {reward_id!r} was released already by {other!r}")

    def create() -> None:
        already_released()
        held = session.scalar(
            select(Transfer.amount_units).where(
                Transfer.id == f"{reward_id}:held", Transfer.code == TransferCode.REWARD_HELD
            )
        )
        if held is None:
            raise InvalidStateError(f"reward {reward_id!r} holds nothing to release")
        job_ref = session.scalar(select(Reward.job_ref).where(Reward.id == reward_id))
        session.add(HeldRelease(id=release_id, amount_units=held, **wanted))
        session.flush()
        leg = _Leg(
            f"{release_id}:release",
            (AccountKind.HELD, None),
            target,
            int(held),
            TransferCode.HELD_RELEASE,
        )
        _apply_transfers(session, [leg], job_ref=str(job_ref), reward_id=None)

    return _post_once(
        session,
        model=HeldRelease,
        entity="held release",
        record_id=release_id,
        wanted=wanted,
        contents=lambda r: {"reward_id": r.reward_id, "to_contributor_id": r.to_contributor_id},
        create=create,
        on_lost_race=already_released,
    )

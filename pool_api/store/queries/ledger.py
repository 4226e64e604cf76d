"""The application's reads around the ledger: withdrawals, payout batches, addresses.

The ledger's own reads and writes are :mod:`accounting`'s; these read its tables and
the application's where a route needs a value that :mod:`accounting` does not return.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from accounting import PayoutBatch, Withdrawal, WithdrawalStatus
from pool_api.store.models import Contributor


def in_flight_withdrawal_units(session: Session, *, contributor_id: int) -> int:
    """The contributor's withdrawals neither paid nor failed, summed."""
    amounts = session.exec(
        select(Withdrawal.amount_units).where(
            Withdrawal.contributor_id == contributor_id,
            col(Withdrawal.status).in_([WithdrawalStatus.PENDING, WithdrawalStatus.BATCHED]),
        )
    )
    # Units columns are summed on Python ints (exact on every dialect).
    return sum(int(a) for a in amounts)


def withdrawal_status(session: Session, *, withdrawal_id: str) -> WithdrawalStatus | None:
    """Where the withdrawal stands, or ``None`` for an unknown id."""
    status = session.exec(select(Withdrawal.status).where(Withdrawal.id == withdrawal_id)).first()
    return None if status is None else WithdrawalStatus(status)


def withdrawal_amount(session: Session, *, withdrawal_id: str) -> int | None:
    """The withdrawal's amount, or ``None`` for an unknown id."""
    amount = session.exec(
        select(Withdrawal.amount_units).where(Withdrawal.id == withdrawal_id)
    ).first()
    return None if amount is None else int(amount)


def payout_batch_exists(session: Session, *, batch_id: str) -> bool:
    """Whether a payout batch of this id exists."""
    return session.get(PayoutBatch, batch_id) is not None


def payout_addresses(session: Session) -> dict[int, str]:
    """``{contributor_id: payout address}`` of the contributors that gave one."""
    rows = session.exec(
        select(Contributor.id, Contributor.payout_address).where(
            col(Contributor.payout_address).is_not(None)
        )
    )
    return {int(cid): str(address) for cid, address in rows if cid is not None}

"""Withdrawals and payout batches: a two-phase transfer per withdrawal.

Following TigerBeetle's pending → posted/voided pattern
(https://docs.tigerbeetle.com/coding/two-phase-transfers/), with ordinary transfers:

1. :func:`request_withdrawal` — contributor → ``payout_pending``
   (``"<withdrawal_id>:withdrawal"``), refused below ``min_units`` or above the
   balance; the withdrawal is ``pending``.
2. :func:`create_payout_batch` — every ``pending`` withdrawal joins the batch
   (``batched``); :func:`export_payout_batch` lists them with the payout addresses,
   :func:`payout_rows_csv` / :func:`payout_rows_json` render the list.
3. :func:`mark_payout` — ``paid``: ``payout_pending`` → ``payouts`` (``"<id>:paid"``);
   ``failed``: ``payout_pending`` → the contributor (``"<id>:failed"``), the
   amount comes back.

A withdrawal's ``status``/``batch_id`` change only by guarded
``UPDATE … WHERE status = <expected>`` statements, so two concurrent calls cannot
both move one withdrawal; balances move under the ledger's row locks.

Transactions: the writers (:func:`request_withdrawal`, :func:`create_payout_batch`,
:func:`mark_payout`) write in a savepoint of the caller's transaction (all or nothing)
and never commit; the caller commits. The readers never end the caller's transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update
from sqlmodel import Session

from accounting._core import (
    PostStatus,
    _atomic,
    _check_contributor_id,
    _check_positive_units,
    _check_ref,
    _post_once,
)
from accounting._transfers import _apply_transfers, _Leg
from accounting.csv_cells import safe_row
from accounting.errors import (
    ConflictError,
    InvalidAmountError,
    InvalidIdError,
    InvalidInputError,
    InvalidStateError,
)
from accounting.models import AccountKind, PayoutBatch, TransferCode, Withdrawal, WithdrawalStatus
from accounting.types import as_units

PayoutOutcome = Literal["paid", "failed"]

#: Columns of an exported payout batch, in order.
PAYOUT_COLUMNS = ("batch_id", "withdrawal_id", "contributor_id", "address", "amount_units")


@dataclass(frozen=True, slots=True)
class PayoutBatchInfo:
    """A payout batch: its withdrawals (by id) and their total."""

    batch_id: str
    status: PostStatus
    withdrawal_ids: tuple[str, ...]
    total_units: int


def request_withdrawal(
    session: Session,
    *,
    withdrawal_id: str,
    contributor_id: int,
    amount_units: int,
    min_units: int,
) -> PostStatus:
    """Reserve ``amount_units`` of a contributor's balance for payout.

    ``"created"`` or ``"exists"`` (same id, contributor and amount; the threshold
    is not part of the contents). Below ``min_units`` → :class:`InvalidAmountError`;
    above the balance → :class:`InsufficientFundsError`; nothing is written then.

    Transaction: writes in a savepoint of the caller's transaction and does **not**
    commit; the caller commits.
    """
    withdrawal_id = _check_ref(withdrawal_id, "withdrawal_id")
    wanted = {
        "contributor_id": _check_contributor_id(contributor_id),
        "amount_units": _check_positive_units(amount_units),
    }
    minimum = as_units(min_units, field="min_units")

    def create() -> None:
        if wanted["amount_units"] < minimum:
            raise InvalidAmountError(
                f"amount_units {wanted['amount_units']} is below the minimum withdrawal {minimum}"
            )
        session.add(Withdrawal(id=withdrawal_id, status=WithdrawalStatus.PENDING, **wanted))
        session.flush()
        leg = _Leg(
            f"{withdrawal_id}:withdrawal",
            (AccountKind.CONTRIBUTOR, wanted["contributor_id"]),
            (AccountKind.PAYOUT_PENDING, None),
            wanted["amount_units"],
            TransferCode.WITHDRAWAL,
        )
        _apply_transfers(session, [leg], job_ref=f"withdrawal:{withdrawal_id}", reward_id=None)

    return _post_once(
        session,
        model=Withdrawal,
        entity="withdrawal",
        record_id=withdrawal_id,
        wanted=wanted,
        contents=lambda w: {"contributor_id": w.contributor_id, "amount_units": w.amount_units},
        create=create,
    )


def create_payout_batch(session: Session, *, batch_id: str) -> PayoutBatchInfo:
    """Gather every pending withdrawal into a new batch (possibly none).

    Repeating ``batch_id`` returns the existing batch (``status="exists"``) and
    gathers nothing more.

    Transaction: writes in a savepoint of the caller's transaction and does **not**
    commit; the caller commits.
    """
    batch_id = _check_ref(batch_id, "batch_id")

    def create() -> None:
        session.add(PayoutBatch(id=batch_id))
        session.flush()
        session.execute(
            update(Withdrawal)
            .where(Withdrawal.status == WithdrawalStatus.PENDING)
            .values(status=WithdrawalStatus.BATCHED, batch_id=batch_id)
            .execution_options(synchronize_session=False)
        )

    status = _post_once(
        session,
        model=PayoutBatch,
        entity="payout batch",
        record_id=batch_id,
        wanted={},
        contents=lambda _b: {},
        create=create,
    )
    rows = _batch_rows(session, batch_id)
    return PayoutBatchInfo(
        batch_id=batch_id,
        status=status,
        withdrawal_ids=tuple(r[0] for r in rows),
        total_units=sum(r[2] for r in rows),
    )


def _batch_rows(session: Session, batch_id: str) -> list[tuple[str, int, int, WithdrawalStatus]]:
    return [
        (wid, int(cid), int(amount), WithdrawalStatus(status))
        for wid, cid, amount, status in session.execute(
            select(
                Withdrawal.id, Withdrawal.contributor_id, Withdrawal.amount_units, Withdrawal.status
            )
            .where(Withdrawal.batch_id == batch_id)
            .order_by(Withdrawal.id)
        )
    ]


def export_payout_batch(
    session: Session, batch_id: str, payout_addresses: Mapping[int, str]
) -> list[dict[str, object]]:
    """The batch's withdrawals still to pay (``batched``): dicts keyed by :data:`PAYOUT_COLUMNS`.

    ``payout_addresses`` maps contributor id → address; a missing one is an
    :class:`InvalidInputError` (``field="payout_addresses"``). Read only; it leaves the
    caller's transaction open.
    """
    batch_id = _check_ref(batch_id, "batch_id")
    if session.get(PayoutBatch, batch_id) is None:
        raise InvalidIdError(f"no payout batch {batch_id!r}", field="batch_id")
    rows = [r for r in _batch_rows(session, batch_id) if r[3] == WithdrawalStatus.BATCHED]
    missing = sorted({cid for _, cid, _, _ in rows if not payout_addresses.get(cid)})
    if missing:
        raise InvalidInputError(
            f"no payout address for contributors {missing}", field="payout_addresses"
        )
    return [
        {
            "batch_id": batch_id,
            "withdrawal_id": wid,
            "contributor_id": cid,
            "address": payout_addresses[cid],
            "amount_units": amount,
        }
        for wid, cid, amount, _ in rows
    ]


def payout_rows_csv(rows: list[dict[str, object]]) -> str:
    """CSV (header + one line per row) of :func:`export_payout_batch`'s rows."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PAYOUT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(row) for row in rows)
    return out.getvalue()


def payout_rows_json(rows: list[dict[str, object]]) -> str:
    """JSON list of the rows; ``amount_units`` as a decimal string (exact beyond 2^53)."""
    return json.dumps([{**row, "amount_units": str(row["amount_units"])} for row in rows])


def mark_payout(
    session: Session, *, batch_id: str, withdrawal_id: str, outcome: PayoutOutcome
) -> PostStatus:
    """Record that a batched withdrawal was ``"paid"`` or ``"failed"`` (the amount returns).

    Marking it again with the same outcome → ``"exists"``; with the other outcome
    → :class:`ConflictError`; a withdrawal that is not in ``batch_id`` (or still
    pending) → :class:`InvalidStateError`.

    Transaction: writes in a savepoint of the caller's transaction and does **not**
    commit; the caller commits. The withdrawal stays row-locked until then.
    """
    batch_id = _check_ref(batch_id, "batch_id")
    withdrawal_id = _check_ref(withdrawal_id, "withdrawal_id")
    if outcome not in ("paid", "failed"):
        raise InvalidInputError(
            f"outcome must be 'paid' or 'failed', got {outcome!r}", field="outcome"
        )
    new = WithdrawalStatus(outcome)
    with _atomic(session):
        row = session.execute(
            select(Withdrawal.contributor_id, Withdrawal.amount_units, Withdrawal.batch_id)
            .where(Withdrawal.id == withdrawal_id)
            .with_for_update()
        ).one_or_none()
        if row is None or row.batch_id != batch_id:
            raise InvalidStateError(f"withdrawal {withdrawal_id!r} is not in batch {batch_id!r}")
        moved = session.execute(
            update(Withdrawal)
            .where(Withdrawal.id == withdrawal_id, Withdrawal.status == WithdrawalStatus.BATCHED)
            .values(status=new)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            current = WithdrawalStatus(
                session.scalar(select(Withdrawal.status).where(Withdrawal.id == withdrawal_id))
            )
            if current == new:
                return "exists"
            raise ConflictError(
                entity="payout",
                record_id=withdrawal_id,
                differences={"outcome": (current.value, new.value)},
            )
        pending = (AccountKind.PAYOUT_PENDING, None)
        if new == WithdrawalStatus.PAID:
            leg = _Leg(
                f"{withdrawal_id}:paid",
                pending,
                (AccountKind.PAYOUTS, None),
                int(row.amount_units),
                TransferCode.PAYOUT_PAID,
            )
        else:
            leg = _Leg(
                f"{withdrawal_id}:failed",
                pending,
                (AccountKind.CONTRIBUTOR, int(row.contributor_id)),
                int(row.amount_units),
                TransferCode.PAYOUT_FAILED,
            )
        _apply_transfers(session, [leg], job_ref=f"withdrawal:{withdrawal_id}", reward_id=None)
        return "created"

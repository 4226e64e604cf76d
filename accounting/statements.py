"""Per-contributor statements: every transfer touching the account, with a running balance."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from accounting._core import _check_contributor_id
from accounting.csv_cells import safe_row
from accounting.models import Account, AccountKind, Transfer

#: Columns of a statement line, in order.
STATEMENT_COLUMNS = (
    "transfer_id",
    "created_at",
    "code",
    "job_ref",
    "reward_id",
    "counterparty",
    "amount_units",
    "balance_units",
)


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One transfer as the contributor sees it.

    ``amount_units`` is signed: positive when it credited the contributor, negative
    when it debited them; ``balance_units`` is the balance after it.
    ``counterparty`` is the other account's kind (``"contributor:<id>"`` for a
    contributor account).
    """

    transfer_id: str
    created_at: datetime
    code: str
    job_ref: str
    reward_id: str | None
    counterparty: str
    amount_units: int
    balance_units: int


def statement(session: Session, contributor_id: int) -> list[StatementLine]:
    """Every transfer of the contributor's account, oldest first (by time, then id).

    Read only; it leaves the caller's transaction open (the caller ends it).
    """
    cid = _check_contributor_id(contributor_id)
    account_id = session.scalar(
        select(Account.id).where(
            Account.kind == AccountKind.CONTRIBUTOR, Account.contributor_id == cid
        )
    )
    if account_id is None:
        return []
    debit, credit = aliased(Account), aliased(Account)
    rows = session.execute(
        select(
            Transfer.id,
            Transfer.created_at,
            Transfer.code,
            Transfer.job_ref,
            Transfer.reward_id,
            Transfer.amount_units,
            Transfer.credit_account_id,
            debit.kind,
            debit.contributor_id,
            credit.kind,
            credit.contributor_id,
        )
        .join(debit, debit.id == Transfer.debit_account_id)
        .join(credit, credit.id == Transfer.credit_account_id)
        .where(
            or_(
                Transfer.debit_account_id == account_id,
                Transfer.credit_account_id == account_id,
            )
        )
        .order_by(Transfer.created_at, Transfer.id)
    ).all()
    lines: list[StatementLine] = []
    balance = 0
    for tid, at, code, job_ref, reward_id, amount, credit_id, dk, dc, ck, cc in rows:
        incoming = credit_id == account_id
        signed = int(amount) if incoming else -int(amount)
        balance += signed
        kind, other = (dk, dc) if incoming else (ck, cc)
        kind = AccountKind(kind).value
        lines.append(
            StatementLine(
                transfer_id=tid,
                created_at=at,
                code=str(code.value if hasattr(code, "value") else code),
                job_ref=job_ref,
                reward_id=reward_id,
                counterparty=f"{kind}:{other}" if other is not None else kind,
                amount_units=signed,
                balance_units=balance,
            )
        )
    return lines


def _plain(line: StatementLine) -> dict[str, object]:
    row = asdict(line)
    row["created_at"] = line.created_at.isoformat()
    return row


def statement_csv(lines: list[StatementLine]) -> str:
    """CSV of a statement: a header of :data:`STATEMENT_COLUMNS`, one line per transfer."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=STATEMENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(_plain(line)) for line in lines)
    return out.getvalue()


def statement_json(lines: list[StatementLine]) -> str:
    """JSON list of a statement's lines; amounts as decimal strings (exact beyond 2^53)."""
    return json.dumps(
        [
            {
                **_plain(line),
                "amount_units": str(line.amount_units),
                "balance_units": str(line.balance_units),
            }
            for line in lines
        ]
    )

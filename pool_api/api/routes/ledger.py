"""The ledger over HTTP: balances, statements, withdrawals, payout batches, the audit.

Contributor endpoints take the contributor's own API key (or the operator token
for reading); operator endpoints the operator token (docs/architecture.md §8). Amounts are
integers in the token's base unit, as everywhere else in the API.

The ledger's writers leave the transaction to their caller: each handler that posts
commits the session itself, then answers (:mod:`accounting`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from sqlmodel import Session

import accounting
from accounting import MAX_UNITS, AccountKind, WithdrawalStatus
from pool_api.api.deps import CurrentContributor, OperatorAuth, Pool, SelfOrOperator, SessionDep
from pool_api.errors import NotFoundError, StateConflictError
from pool_api.store.queries import contributors as contributor_queries
from pool_api.store.queries import ledger as ledger_queries

router = APIRouter(tags=["ledger"])

Format = Annotated[Literal["json", "csv"], Query(description="Response format.")]

_CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}}


# --------------------------------------------------------------------------- schemas


class BalancePublic(BaseModel):
    contributor_id: int
    balance_units: int
    work_units: int
    pending_withdrawal_units: int = Field(
        description="Requested withdrawals not yet paid or failed (already off the balance)."
    )


class StatementLinePublic(BaseModel):
    transfer_id: str
    created_at: datetime
    code: str
    job_ref: str
    reward_id: str | None
    counterparty: str
    amount_units: int = Field(description="Signed: positive credits the contributor.")
    balance_units: int = Field(description="The balance after this transfer.")


class WithdrawalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_units: StrictInt = Field(
        gt=0, le=MAX_UNITS, description="Amount to withdraw, base units (at most 10^78 − 1)."
    )
    idempotency_key: StrictStr = Field(min_length=1, max_length=128)


class WithdrawalPublic(BaseModel):
    status: Literal["created", "exists"]
    withdrawal_id: str
    contributor_id: int
    amount_units: int
    state: WithdrawalStatus


class PayoutBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_id: StrictStr = Field(min_length=1, max_length=128)


class PayoutBatchPublic(BaseModel):
    status: Literal["created", "exists"]
    batch_id: str
    withdrawal_ids: list[str]
    total_units: int


class PayoutRow(BaseModel):
    batch_id: str
    withdrawal_id: str
    contributor_id: int
    address: str
    amount_units: int


class PayoutMark(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["paid", "failed"]


class PayoutMarked(BaseModel):
    status: Literal["created", "exists"]
    batch_id: str
    withdrawal_id: str
    outcome: Literal["paid", "failed"]
    amount_units: int


class AuditReport(BaseModel):
    ok: bool
    violations: list[str]


# --------------------------------------------------------------------------- auth

ContributorKey = CurrentContributor


# --------------------------------------------------------------------------- contributors


@router.get("/v1/contributors/{contributor_id}/balance", response_model=BalancePublic)
def get_balance(contributor_id: SelfOrOperator, session: SessionDep) -> BalancePublic:
    """A contributor's balance, verified work units and withdrawals in flight."""
    balance = accounting.account_balance(session, AccountKind.CONTRIBUTOR, contributor_id)
    work = accounting.work_units_by_contributor(session).get(contributor_id, 0)
    pending = ledger_queries.in_flight_withdrawal_units(session, contributor_id=contributor_id)
    session.rollback()
    return BalancePublic(
        contributor_id=contributor_id,
        balance_units=balance,
        work_units=work,
        pending_withdrawal_units=pending,
    )


@router.get(
    "/v1/contributors/{contributor_id}/statement",
    response_model=list[StatementLinePublic],
    responses={200: _CSV},
)
def get_statement(
    contributor_id: SelfOrOperator, session: SessionDep, format: Format = "json"
) -> list[StatementLinePublic] | Response:
    """Every transfer of the contributor's account, oldest first, with the running balance."""
    lines = accounting.statement(session, contributor_id)
    if format == "csv":
        return Response(
            accounting.statement_csv(lines),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="statement-{contributor_id}.csv"'
            },
        )
    return [
        StatementLinePublic(
            transfer_id=line.transfer_id,
            created_at=line.created_at,
            code=line.code,
            job_ref=line.job_ref,
            reward_id=line.reward_id,
            counterparty=line.counterparty,
            amount_units=line.amount_units,
            balance_units=line.balance_units,
        )
        for line in lines
    ]


@router.post(
    "/v1/withdrawals",
    status_code=status.HTTP_201_CREATED,
    response_model=WithdrawalPublic,
    responses={
        200: {"description": "already requested with this idempotency key"},
        409: {"description": "insufficient funds, or the key was used with another amount"},
        422: {"description": "below the minimum withdrawal"},
    },
)
def request_withdrawal(
    body: WithdrawalCreate,
    contributor: ContributorKey,
    pool: Pool,
    session: SessionDep,
    response: Response,
) -> WithdrawalPublic:
    """Reserve part of the caller's balance for the next payout batch; idempotent by key."""
    assert contributor.id is not None
    contributor_id = contributor.id
    # Keys are per contributor: two contributors may pick the same one.
    withdrawal_id = f"c{contributor_id}:{body.idempotency_key}"
    outcome = accounting.request_withdrawal(
        session,
        withdrawal_id=withdrawal_id,
        contributor_id=contributor_id,
        amount_units=body.amount_units,
        min_units=pool.settings.withdrawal_min_units,
    )
    session.commit()
    state = ledger_queries.withdrawal_status(session, withdrawal_id=withdrawal_id)
    session.rollback()
    if outcome == "exists":
        response.status_code = status.HTTP_200_OK
    else:
        pool.events.publish(
            "withdrawal.requested",
            withdrawal_id=withdrawal_id,
            contributor_id=contributor_id,
            amount_units=str(body.amount_units),
        )
    return WithdrawalPublic(
        status=outcome,
        withdrawal_id=withdrawal_id,
        contributor_id=contributor_id,
        amount_units=body.amount_units,
        state=WithdrawalStatus(state),
    )


# --------------------------------------------------------------------------- operator


@router.post(
    "/v1/payout-batches",
    status_code=status.HTTP_201_CREATED,
    response_model=PayoutBatchPublic,
    dependencies=[OperatorAuth],
    responses={200: {"description": "the batch exists already (nothing more gathered)"}},
)
def create_payout_batch(
    body: PayoutBatchCreate, session: SessionDep, response: Response
) -> PayoutBatchPublic:
    """Gather every pending withdrawal into a new batch; repeating ``batch_id`` returns it."""
    info = accounting.create_payout_batch(session, batch_id=body.batch_id)
    session.commit()
    if info.status == "exists":
        response.status_code = status.HTTP_200_OK
    return PayoutBatchPublic(
        status=info.status,
        batch_id=info.batch_id,
        withdrawal_ids=list(info.withdrawal_ids),
        total_units=info.total_units,
    )


def _require_batch(session: Session, batch_id: str) -> None:
    if not ledger_queries.payout_batch_exists(session, batch_id=batch_id):
        raise NotFoundError(f"no payout batch {batch_id!r}")


@router.get(
    "/v1/payout-batches/{batch_id}/export",
    response_model=list[PayoutRow],
    dependencies=[OperatorAuth],
    responses={200: _CSV},
)
def export_payout_batch(
    batch_id: str, session: SessionDep, format: Format = "json"
) -> list[PayoutRow] | Response:
    """The batch's withdrawals still to pay: address, amount and ids (JSON or CSV)."""
    _require_batch(session, batch_id)
    addresses = ledger_queries.payout_addresses(session)
    try:
        rows = accounting.export_payout_batch(session, batch_id, addresses)
    except accounting.InvalidInputError as exc:
        if exc.field != "payout_addresses":
            raise
        raise StateConflictError(str(exc)) from exc
    finally:
        session.rollback()
    if format == "csv":
        return Response(
            accounting.payout_rows_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="payout-{batch_id}.csv"'},
        )
    return [PayoutRow.model_validate(row) for row in rows]


@router.post(
    "/v1/payout-batches/{batch_id}/withdrawals/{withdrawal_id}",
    response_model=PayoutMarked,
    dependencies=[OperatorAuth],
    responses={409: {"description": "not in this batch, or already marked otherwise"}},
)
def mark_payout(
    batch_id: str, withdrawal_id: str, body: PayoutMark, pool: Pool, session: SessionDep
) -> PayoutMarked:
    """Record a batched withdrawal as paid, or failed (the amount returns to the balance)."""
    _require_batch(session, batch_id)
    outcome = accounting.mark_payout(
        session, batch_id=batch_id, withdrawal_id=withdrawal_id, outcome=body.outcome
    )
    session.commit()
    amount = ledger_queries.withdrawal_amount(session, withdrawal_id=withdrawal_id)
    session.rollback()
    if outcome == "created":
        pool.events.publish(
            f"withdrawal.{body.outcome}",
            withdrawal_id=withdrawal_id,
            batch_id=batch_id,
            amount_units=str(amount),
        )
    return PayoutMarked(
        status=outcome,
        batch_id=batch_id,
        withdrawal_id=withdrawal_id,
        outcome=body.outcome,
        amount_units=int(amount or 0),
    )


@router.get("/v1/ledger/audit", response_model=AuditReport, dependencies=[OperatorAuth])
def audit_ledger(session: SessionDep) -> AuditReport:
    """Check every invariant of the ledger (conservation, allocation, ids, signs)."""
    try:
        violations = accounting.audit(session)
    finally:
        session.rollback()
    return AuditReport(ok=not violations, violations=violations)


class HeldReleaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    release_id: StrictStr = Field(min_length=1, max_length=128, description="Idempotency key.")
    to: Literal["operator"] | Annotated[StrictInt, Field(ge=1, le=2**31 - 1)] = Field(
        description="Who gets the held amount: 'operator' or a contributor id."
    )


class HeldReleasePublic(BaseModel):
    status: Literal["created", "exists"]
    release_id: str
    reward_id: str
    to: Literal["operator"] | int


@router.post(
    "/v1/rewards/{reward_id}/release",
    status_code=status.HTTP_201_CREATED,
    response_model=HeldReleasePublic,
    dependencies=[OperatorAuth],
    responses={200: {"description": "released already under this release_id"}},
)
def release_held_reward(
    reward_id: str, body: HeldReleaseCreate, session: SessionDep, response: Response
) -> HeldReleasePublic:
    """The operator's decision on a reward held for lack of verified work (a posting)."""
    if (
        not isinstance(body.to, str)
        and contributor_queries.contributor_by_id(session, contributor_id=body.to) is None
    ):
        raise NotFoundError(f"no contributor {body.to}")
    posted = accounting.release_held(
        session, release_id=body.release_id, reward_id=reward_id, to=body.to
    )
    session.commit()
    if posted == "exists":
        response.status_code = status.HTTP_200_OK
    return HeldReleasePublic(
        status=posted, release_id=body.release_id, reward_id=reward_id, to=body.to
    )

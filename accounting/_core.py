"""Internals shared by the ledger's modules: validation, accounts, row locks, transfer legs.

Every writing function of the package follows the same pattern: validate the
arguments, claim the idempotency key by inserting its record first (on
PostgreSQL a concurrent post of the same id then blocks on the primary key; on
SQLite the insert takes the database's write lock, so the balances read after
it are current), lock the accounts it moves ``FOR UPDATE`` in one global order
(:func:`_lock_accounts`), then insert the transfers and move the materialised
balances (:func:`_apply_transfers`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from accounting.errors import (
    ConflictError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidIdError,
)
from accounting.models import (
    MAX_ID_LENGTH,
    PER_CONTRIBUTOR_KINDS,
    Account,
    AccountKind,
    Transfer,
    TransferCode,
)
from accounting.types import as_units

PostStatus = Literal["created", "exists"]

#: Largest value of a signed 64-bit column (work units, contributor ids).
_INT64_MAX = 2**63 - 1

#: Account kinds whose balance must never go below zero (``pool_income`` is
#: debited by every reward and is the one account that is negative by design).
NON_NEGATIVE_KINDS: frozenset[AccountKind] = frozenset(
    {
        AccountKind.CONTRIBUTOR,
        AccountKind.OPERATOR_FEE,
        AccountKind.HELD,
        AccountKind.PENALTIES,
        AccountKind.PAYOUT_PENDING,
        AccountKind.PAYOUTS,
    }
)


# --------------------------------------------------------------------------- validation


def _check_ref(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidIdError(f"{name} must be a string, got {type(value).__name__}", field=name)
    if not value or len(value) > MAX_ID_LENGTH:
        raise InvalidIdError(f"{name} must have 1 to {MAX_ID_LENGTH} characters", field=name)
    return value


def _check_contributor_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidIdError(
            f"contributor_id must be an integer, got {type(value).__name__}",
            field="contributor_id",
        )
    if not 0 <= value <= _INT64_MAX:
        raise InvalidIdError(
            f"contributor_id must be in [0, 2^63), got {value}", field="contributor_id"
        )
    return int(value)


def _check_work_units(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmountError(
            f"work_units must be an integer, got {type(value).__name__}", field="work_units"
        )
    if not 0 < value <= _INT64_MAX:
        raise InvalidAmountError(
            f"work_units must be in [1, 2^63), got {value}", field="work_units"
        )
    return int(value)


def _check_positive_units(value: object, name: str = "amount_units") -> int:
    units = as_units(value, field=name)
    if units <= 0:
        raise InvalidAmountError(f"{name} must be > 0, got {units}", field=name)
    return units


def _account_key(kind: object, contributor_id: object) -> tuple[AccountKind, int | None]:
    try:
        account_kind = AccountKind(kind)
    except ValueError:
        raise InvalidIdError(f"unknown account kind {kind!r}", field="kind") from None
    if account_kind in PER_CONTRIBUTOR_KINDS:
        if contributor_id is None:
            raise InvalidIdError(
                f"a {account_kind.value} account needs a contributor_id", field="contributor_id"
            )
        return account_kind, _check_contributor_id(contributor_id)
    if contributor_id is not None:
        raise InvalidIdError(
            f"a {account_kind.value} account has no contributor_id", field="contributor_id"
        )
    return account_kind, None


def _require_same(
    entity: str, record_id: str, stored: Mapping[str, object], wanted: Mapping[str, object]
) -> None:
    differences = {
        name: (stored[name], wanted[name]) for name in wanted if stored[name] != wanted[name]
    }
    if differences:
        raise ConflictError(entity=entity, record_id=record_id, differences=differences)


# --------------------------------------------------------------------------- accounts

_AccountKey = tuple[AccountKind, int | None]


def _key_order(key: _AccountKey) -> tuple[str, bool, int]:
    kind, contributor_id = key
    # Same order as ORDER BY kind, contributor_id (NULLS LAST) on PostgreSQL.
    return (kind.value, contributor_id is None, contributor_id or 0)


def _accounts_where(keys: Iterable[_AccountKey]) -> ColumnElement[bool]:
    by_kind: dict[AccountKind, set[int | None]] = defaultdict(set)
    for kind, contributor_id in keys:
        by_kind[kind].add(contributor_id)
    clauses = []
    for kind, ids in by_kind.items():
        if None in ids:
            clauses.append(and_(Account.kind == kind, Account.contributor_id.is_(None)))
        numbered = sorted(i for i in ids if i is not None)
        if numbered:
            clauses.append(and_(Account.kind == kind, Account.contributor_id.in_(numbered)))
    return or_(*clauses)


def _lock_accounts(session: Session, keys: Iterable[_AccountKey]) -> dict[_AccountKey, Account]:
    """Create the missing accounts among ``keys`` and lock all of them ``FOR UPDATE``.

    Deadlock-free by ordering: missing accounts are inserted in key order, then all
    rows are locked in key order, and nothing is locked before the inserts.
    """
    ordered = sorted(set(keys), key=_key_order)
    if not ordered:
        return {}
    present = {
        (AccountKind(kind), contributor_id)
        for kind, contributor_id in session.execute(
            select(Account.kind, Account.contributor_id).where(_accounts_where(ordered))
        )
    }
    missing = [key for key in ordered if key not in present]
    if missing:
        _insert_accounts(session, missing)
    rows = session.scalars(
        select(Account)
        .where(_accounts_where(ordered))
        .order_by(Account.kind, Account.contributor_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    accounts = {(AccountKind(a.kind), a.contributor_id): a for a in rows}
    lost = [key for key in ordered if key not in accounts]
    if lost:  # pragma: no cover - would mean the insert above silently failed
        raise RuntimeError(f"accounts {lost} could not be created")
    return accounts


def _insert_accounts(session: Session, keys: list[_AccountKey]) -> None:
    rows = [{"kind": kind, "contributor_id": cid, "balance_units": 0} for kind, cid in keys]
    table = Account.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).values(rows).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).values(rows).on_conflict_do_nothing())
    else:  # pragma: no cover - other dialects: one savepoint per account
        for row in rows:
            try:
                with session.begin_nested():
                    session.add(Account(**row))
            except IntegrityError:
                pass


class _Leg(NamedTuple):
    transfer_id: str
    debit: _AccountKey
    credit: _AccountKey
    amount_units: int
    code: TransferCode


def _apply_transfers(
    session: Session, legs: list[_Leg], *, job_ref: str, reward_id: str | None
) -> None:
    """Insert the transfers and move the materialised balances, under row locks."""
    accounts = _lock_accounts(session, [k for leg in legs for k in (leg.debit, leg.credit)])
    for leg in legs:
        if leg.amount_units <= 0 or leg.debit == leg.credit:  # pragma: no cover - internal bug
            raise AssertionError(f"invalid transfer leg {leg}")
        debit, credit = accounts[leg.debit], accounts[leg.credit]
        session.add(
            Transfer(
                id=leg.transfer_id,
                debit_account_id=debit.id,
                credit_account_id=credit.id,
                amount_units=leg.amount_units,
                code=leg.code,
                job_ref=job_ref,
                reward_id=reward_id,
            )
        )
        debit.balance_units -= leg.amount_units
        credit.balance_units += leg.amount_units
    for (kind, contributor_id), account in sorted(accounts.items(), key=lambda i: _key_order(i[0])):
        if kind in NON_NEGATIVE_KINDS and account.balance_units < 0:
            owner = f" of contributor {contributor_id}" if contributor_id is not None else ""
            raise InsufficientFundsError(
                f"the {kind.value} account{owner} holds "
                f"{account.balance_units + _debited(legs, (kind, contributor_id))}, "
                f"less than the {_debited(legs, (kind, contributor_id))} asked for"
            )
    session.flush()


def _debited(legs: list[_Leg], key: _AccountKey) -> int:
    return sum(leg.amount_units for leg in legs if leg.debit == key) - sum(
        leg.amount_units for leg in legs if leg.credit == key
    )


def _post_once(
    session: Session,
    *,
    model: type[SQLModel],
    entity: str,
    record_id: str,
    wanted: Mapping[str, object],
    contents: Callable[[Any], Mapping[str, object]],
    create: Callable[[], None],
    on_lost_race: Callable[[], None] | None = None,
) -> PostStatus:
    """Run ``create()`` unless ``record_id`` exists; idempotent, all or nothing, committed.

    Same id and contents → ``"exists"``; other contents → :class:`ConflictError`.
    An ``IntegrityError`` (a concurrent writer of the same id won) is answered as if
    this call had come second; when the record still is not there,
    ``on_lost_race()`` may raise a better error than the ``IntegrityError``.
    """
    try:
        try:
            stored = session.get(model, record_id)
            if stored is None:
                create()
                session.commit()
                return "created"
        except IntegrityError:
            session.rollback()
            stored = session.get(model, record_id)
            if stored is None:
                if on_lost_race is not None:
                    on_lost_race()
                raise
        _require_same(entity, record_id, contents(stored), wanted)
        session.commit()
        return "exists"
    except BaseException:
        session.rollback()
        raise

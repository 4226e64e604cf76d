"""Internals shared by the ledger's modules: validation, the caller's transaction, idempotency.

Every writing function of the package follows the same pattern: validate the
arguments, open a savepoint in the caller's transaction (:func:`_atomic`), claim
the idempotency key by inserting its record first (on PostgreSQL a concurrent
post of the same id then blocks on the primary key), lock the accounts it moves
``FOR UPDATE`` in one global order (:func:`accounting._accounts._lock_accounts`),
then insert the transfers and move the materialised balances
(:func:`accounting._transfers._apply_transfers`). The writer releases its savepoint
and returns; the caller commits (or rolls back) the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from accounting.errors import ConflictError, InvalidAmountError, InvalidIdError
from accounting.models import MAX_ID_LENGTH, PER_CONTRIBUTOR_KINDS, AccountKind
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


@contextmanager
def _atomic(session: Session) -> Iterator[None]:
    """Run the block in a savepoint of the caller's transaction: all of it, or none of it.

    On an exception the savepoint is rolled back (the block's writes are undone, the
    caller's earlier writes and its transaction stay usable, also on PostgreSQL after
    a failed statement) and the exception propagates. Nothing is committed here.

    SQLite: the ``sqlite3`` driver opens a transaction only before its first DML
    statement, and a ``SAVEPOINT`` outside a transaction *is* the transaction, so
    its ``RELEASE`` would commit. A transaction is therefore begun first when none
    is open, ``BEGIN IMMEDIATE``: the database's write lock at once, so everything
    the writer reads afterwards is current (SQLite's one writer at a time).
    """
    if session.get_bind().dialect.name == "sqlite":
        driver = session.connection().connection.driver_connection
        if not driver.in_transaction:  # type: ignore[union-attr]
            driver.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
    with session.begin_nested():
        yield


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
    """Run ``create()`` in a savepoint unless ``record_id`` exists; idempotent, all or nothing.

    Same id and contents → ``"exists"``; other contents → :class:`ConflictError`.
    An ``IntegrityError`` (a concurrent writer of the same id won) rolls the
    savepoint back and is answered as if this call had come second; when the
    record still is not there, ``on_lost_race()`` may raise a better error than the
    ``IntegrityError``. Does not commit: the caller owns the transaction.
    """
    stored = session.get(model, record_id)
    if stored is None:
        try:
            with _atomic(session):
                create()
            return "created"
        except IntegrityError:
            stored = session.get(model, record_id)
            if stored is None:
                if on_lost_race is not None:
                    on_lost_race()
                raise
    _require_same(entity, record_id, contents(stored), wanted)
    return "exists"

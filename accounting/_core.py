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
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, and_, or_, select
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
    utcnow,
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

#: Most ids bound in one SQLite ``IN (...)`` (SQLite allows 32,766 variables).
_CHUNK = 10_000
#: Most rows in one SQLite multi-row ``INSERT`` (three variables a row).
_SQLITE_ROWS = 5_000
#: Most rows per PostgreSQL array statement (each array is one parameter, so this
#: only bounds the size of one message; psycopg allows 65,535 parameters).
_PG_ARRAY_CHUNK = 50_000


@dataclass
class _Locked:
    """The account rows held by this transaction.

    ``ids`` names the row of every account; ``balances`` holds the balance read
    under the lock of each account that existed before, and nothing for the
    accounts this transaction just created (with their final balance). Two plain
    dicts rather than an object per account: a reward may hold 100,000 of them.
    """

    ids: dict[_AccountKey, int] = field(default_factory=dict)
    balances: dict[_AccountKey, int] = field(default_factory=dict)

    def hold(self, key: _AccountKey, account_id: int, balance_units: int) -> None:
        self.ids[key] = account_id
        self.balances[key] = balance_units


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


def _key_groups(
    keys: Iterable[_AccountKey], chunk: int
) -> list[tuple[AccountKind, list[int | None]]]:
    """``keys`` in the global lock order of :func:`_key_order`, as runs of one kind.

    A system account is its own run (``[None]``); a run of per-contributor ids
    ascends and holds at most ``chunk`` ids. Walking the runs in order and locking
    each with ``ORDER BY contributor_id`` takes every lock in the global order.
    """
    # A kind is either per-contributor or a system kind, and ``keys`` come from a
    # mapping (no repeats): per kind, either one None or distinct ids.
    by_kind: dict[AccountKind, list[int | None]] = defaultdict(list)
    for kind, contributor_id in keys:
        by_kind[kind].append(contributor_id)
    groups: list[tuple[AccountKind, list[int | None]]] = []
    for kind in sorted(by_kind, key=lambda k: k.value):
        ids = by_kind[kind]
        if ids == [None]:
            groups.append((kind, [None]))
            continue
        numbered = sorted(ids)  # type: ignore[type-var]
        groups.extend((kind, numbered[s : s + chunk]) for s in range(0, len(numbered), chunk))
    return groups


def _lock_accounts(session: Session, delta: Mapping[_AccountKey, int]) -> _Locked:
    """Hold every account of ``delta`` for this transaction; create the missing ones.

    A missing account is created with its final balance, ``delta[key]`` (its
    transfers follow in the same transaction); an existing one is locked
    ``FOR UPDATE`` and read. Deadlock-free by ordering: missing accounts are
    inserted in key order, then the others locked in key order (run by run, see
    :func:`_key_groups`), and nothing is locked before the inserts. Bulk statements:
    on PostgreSQL each run binds its ids as one array; on SQLite at most
    :data:`_CHUNK` ids go in one ``IN (...)``, so any number of accounts works
    (100,000 contributors of one reward included). Raises
    :class:`InsufficientFundsError` when a missing account would start negative.
    """
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - untested dialects
        return _lock_accounts_orm(session, delta)
    postgres = dialect == "postgresql"
    chunk = _PG_ARRAY_CHUNK if postgres else _CHUNK
    run = _pg_run if postgres else _sqlite_run
    missing: list[tuple[AccountKind, list[int | None]]] = []
    accounts = _Locked()
    for kind, ids in _key_groups(delta, chunk):
        where, params = _group_sql(kind, ids, postgres)
        if postgres:
            present = {
                row[0]
                for row in _pg_run(
                    session, f"SELECT contributor_id FROM account WHERE {where}", params
                )
            }
        else:
            # SQLite: this transaction already holds the database's write lock, so
            # what it reads now is what it holds; one pass reads the balances too.
            present = set()
            for account_id, contributor_id, units in _sqlite_run(
                session,
                f"SELECT id, contributor_id, balance_units FROM account WHERE {where}",
                params,
            ):
                accounts.hold((kind, contributor_id), int(account_id), int(units))
                present.add(contributor_id)
        absent = [cid for cid in ids if cid not in present]
        if absent:
            missing.append((kind, absent))
    for kind, absent in missing:
        for cid in absent:
            if kind in NON_NEGATIVE_KINDS and delta[(kind, cid)] < 0:
                raise _insufficient((kind, cid), 0, delta[(kind, cid)])
        if postgres:
            # Another transaction may have created some of them since: those are
            # skipped here (RETURNING tells which are ours) and locked below.
            rows = _pg_run(
                session,
                "INSERT INTO account (kind, contributor_id, balance_units)"
                " SELECT %(kind)s, u.cid, u.units FROM unnest(CAST(%(ids)s AS BIGINT[]),"
                " CAST(%(units)s AS NUMERIC(78, 0)[])) WITH ORDINALITY"
                " AS u(cid, units, n) ORDER BY u.n ON CONFLICT DO NOTHING"
                " RETURNING id, contributor_id",
                {
                    "kind": kind.value,
                    "ids": _pg_array(absent),
                    "units": _pg_array([delta[(kind, cid)] for cid in absent]),
                },
            )
            accounts.ids.update(((kind, cid), account_id) for account_id, cid in rows)
        else:
            # This transaction holds SQLite's write lock (its record went in first):
            # nobody else can have created them. Multi-row INSERT … RETURNING (SQLite
            # 3.35+) hands back the new ids; at most 3 · _SQLITE_ROWS variables each.
            for start in range(0, len(absent), _SQLITE_ROWS):
                part = absent[start : start + _SQLITE_ROWS]
                values = ",".join(["(?, ?, ?)"] * len(part))
                row_params: list[object] = []
                for cid in part:
                    row_params += (kind.value, cid, str(delta[(kind, cid)]))
                for account_id, contributor_id in _sqlite_run(
                    session,
                    "INSERT INTO account (kind, contributor_id, balance_units)"
                    f" VALUES {values} RETURNING id, contributor_id",
                    row_params,
                ):
                    accounts.ids[(kind, contributor_id)] = int(account_id)
    for kind, ids in _key_groups((k for k in delta if k not in accounts.ids), chunk):
        where, params = _group_sql(kind, ids, postgres)
        sql = f"SELECT id, contributor_id, balance_units FROM account WHERE {where}"
        if postgres:
            # Balances as text: int(str) is several times cheaper than psycopg's Decimal.
            sql = sql.replace("balance_units", "CAST(balance_units AS TEXT)")
            sql += " ORDER BY contributor_id FOR UPDATE"
        # (SQLite: the transaction already holds the database's write lock; every
        # account was read or created above, so this loop finds nothing to do.)
        rows = run(session, sql, params)
        accounts.ids.update(((kind, cid), account_id) for account_id, cid, _ in rows)
        accounts.balances.update(((kind, cid), int(units)) for _, cid, units in rows)
    lost = [key for key in delta if key not in accounts.ids]
    if lost:  # pragma: no cover - would mean the insert above silently failed
        raise RuntimeError(f"accounts {sorted(lost, key=_key_order)[:10]} could not be created")
    return accounts


def _group_sql(
    kind: AccountKind, ids: list[int | None], postgres: bool
) -> tuple[str, dict[str, object] | tuple[object, ...]]:
    """The WHERE clause and parameters selecting one run of :func:`_key_groups`."""
    if ids == [None]:
        if postgres:
            return "kind = %(kind)s AND contributor_id IS NULL", {"kind": kind.value}
        return "kind = ? AND contributor_id IS NULL", (kind.value,)
    if postgres:
        return "kind = %(kind)s AND contributor_id = ANY(CAST(%(ids)s AS BIGINT[]))", {
            "kind": kind.value,
            "ids": _pg_array(ids),
        }
    marks = ",".join("?" * len(ids))
    return f"kind = ? AND contributor_id IN ({marks})", (kind.value, *ids)


def _pg_run(session: Session, sql: str, params: Any) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the session's psycopg connection, parameters in binary format.

    Binary parameters: psycopg dumps a 100,000-element array several times faster
    than in text format. Returns the rows (``[]`` for a statement without rows).
    """
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall() if cursor.description is not None else []


def _sqlite_run(
    session: Session, sql: str, params: Any, *, many: bool = False
) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the session's sqlite3 connection (``executemany`` if ``many``).

    Straight on the DBAPI cursor, inside the session's transaction: SQLAlchemy's
    per-row result machinery costs more than the statement for 100,000 rows.
    """
    driver = session.connection().connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
            return []
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []
    finally:
        cursor.close()


def _fetch_rows(
    session: Session, sql: str, params: tuple[Any, ...]
) -> list[tuple[Any, ...]] | None:
    """Rows of a read written with ``?`` placeholders, straight from the DBAPI cursor.

    For reads of up to one row per contributor, where SQLAlchemy's result
    processing would dominate. Values come back as the driver gives them
    (``Units`` as ``Decimal`` on PostgreSQL, as text on SQLite: use ``int()``).
    Returns ``None`` on other dialects (the caller falls back to the ORM).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return _sqlite_run(session, sql, params)
    if dialect == "postgresql":
        return _pg_run(session, sql.replace("?", "%s"), params)
    return None  # pragma: no cover - untested dialects


def _pg_array(values: Iterable[int | None]) -> str:
    """Integers (``None``: NULL) as one PostgreSQL array literal (``'{1,NULL}'``), to ``CAST``.

    One text parameter instead of an array: psycopg dumps a 100,000-element list
    element by element, while ``str`` of a Python int is cheap and exact at any size.
    """
    values = list(values)
    if None in values:
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
    return "{" + ",".join(map(str, values)) + "}"


#: Rows per message of a streamed ``COPY``: the server stores one batch while the next is formatted.
_PG_COPY_BATCH = 10_000


def _pg_copy(session: Session, sql: str, lines: Iterable[str]) -> None:
    """``COPY … FROM STDIN`` (text format) of preformatted ``lines``, streamed in batches.

    Each line is one row, its fields already escaped for COPY's text format and
    joined by tabs: one ``"\\n".join`` per batch instead of psycopg's per-row
    ``write_row``. ``lines`` may be a generator: it is formatted batch by batch while
    a writer thread (psycopg's ``QueuedLibpqWriter``) sends the previous batches, so
    on a machine with a second core the client's formatting and the server's inserts
    overlap.
    """
    rows = iter(lines)
    batch = list(islice(rows, _PG_COPY_BATCH))
    if not batch:
        return
    # The session's own driver (PostgreSQL only reaches here): psycopg's writer class.
    from psycopg.copy import QueuedLibpqWriter

    driver = session.connection().connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(sql, writer=QueuedLibpqWriter(cursor)) as copy:
        while batch:
            copy.write(("\n".join(batch) + "\n").encode())
            batch = list(islice(rows, _PG_COPY_BATCH))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _needs_escape(value: str) -> bool:
    """Whether ``value`` holds a character that COPY's text format escapes."""
    return "\\" in value or "\t" in value or "\n" in value or "\r" in value


def _copy_text(value: str | None) -> str:
    """``value`` as one field of COPY's text format (``\\N`` for ``None``)."""
    if value is None:
        return "\\N"
    return value.translate(_COPY_ESCAPES) if _needs_escape(value) else value


def _lock_accounts_orm(  # pragma: no cover - dialects other than PostgreSQL and SQLite
    session: Session, delta: Mapping[_AccountKey, int]
) -> _Locked:
    accounts = _Locked()
    for kind, ids in _key_groups(delta, _CHUNK):
        for cid in ids:
            if session.scalar(select(Account.id).where(_accounts_where([(kind, cid)]))) is None:
                try:
                    with session.begin_nested():
                        session.add(Account(kind=kind, contributor_id=cid, balance_units=0))
                except IntegrityError:
                    pass
        for account_id, contributor_id, units in session.execute(
            select(Account.id, Account.contributor_id, Account.balance_units)
            .where(_accounts_where([(kind, i) for i in ids]))
            .order_by(Account.contributor_id)
            .with_for_update()
        ):
            accounts.hold((kind, contributor_id), int(account_id), int(units))
    return accounts


def _insufficient(key: _AccountKey, held: int, delta: int) -> InsufficientFundsError:
    kind, contributor_id = key
    owner = f" of contributor {contributor_id}" if contributor_id is not None else ""
    return InsufficientFundsError(
        f"the {kind.value} account{owner} holds {held}, less than the {-delta} asked for"
    )


class _Leg(NamedTuple):
    transfer_id: str
    debit: _AccountKey
    credit: _AccountKey
    amount_units: int
    code: TransferCode


def _apply_transfers(
    session: Session, legs: list[_Leg], *, job_ref: str, reward_id: str | None
) -> None:
    """Insert the transfers and move the materialised balances, under row locks.

    Bulk statements throughout (one reward may pay 100,000 contributors): the
    net change of every account is computed first, in Python ints; missing
    accounts are created with their new balance, the others are locked, checked
    and rewritten once each; the transfers go in by one bulk insert.
    """
    delta: dict[_AccountKey, int] = defaultdict(int)
    for leg in legs:
        amount = leg.amount_units
        if type(amount) is not int or amount <= 0 or leg.debit == leg.credit:  # pragma: no cover
            raise AssertionError(f"invalid transfer leg {leg}")
        delta[leg.debit] -= amount
        delta[leg.credit] += amount
    accounts = _lock_accounts(session, delta)
    held = accounts.balances
    short = [
        key
        for key, change in delta.items()
        if change < 0 and key[0] in NON_NEGATIVE_KINDS and key in held and held[key] + change < 0
    ]
    if short:
        key = min(short, key=_key_order)
        raise _insufficient(key, held[key], delta[key])
    _insert_transfers(session, legs, accounts.ids, job_ref=job_ref, reward_id=reward_id)
    _set_balances(
        session,
        [(accounts.ids[key], units + delta[key]) for key, units in held.items() if delta[key]],
    )
    session.flush()


def _insert_transfers(
    session: Session,
    legs: list[_Leg],
    ids: Mapping[_AccountKey, int],
    *,
    job_ref: str,
    reward_id: str | None,
) -> None:
    """One bulk insert of the transfers: ``COPY`` on PostgreSQL, ``executemany`` on SQLite."""
    now = utcnow()
    codes = {code: TransferCode(code).value for code in TransferCode}
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        # The fields every row shares, formatted and escaped once.
        tail = f"\t{_copy_text(job_ref)}\t{_copy_text(reward_id)}\t{now.isoformat()}"
        transfer_ids = [leg.transfer_id for leg in legs]
        if _needs_escape("".join(transfer_ids)):
            transfer_ids = [_copy_text(transfer_id) for transfer_id in transfer_ids]
        _pg_copy(
            session,
            "COPY transfer (id, debit_account_id, credit_account_id, amount_units, code,"
            " job_ref, reward_id, created_at) FROM STDIN",
            (
                f"{transfer_id}\t{ids[leg.debit]}\t{ids[leg.credit]}"
                f"\t{leg.amount_units}\t{codes[leg.code]}{tail}"
                for transfer_id, leg in zip(transfer_ids, legs, strict=True)
            ),
        )
        return
    # The column's own bind processor (SQLite: the text SQLAlchemy stores), applied once.
    created_at = Transfer.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    stamp = created_at(now) if created_at is not None else now
    _sqlite_run(
        session,
        "INSERT INTO transfer (id, debit_account_id, credit_account_id, amount_units, code,"
        " job_ref, reward_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                leg.transfer_id,
                ids[leg.debit],
                ids[leg.credit],
                str(leg.amount_units),
                codes[leg.code],
                job_ref,
                reward_id,
                stamp,
            )
            for leg in legs
        ],
        many=True,
    )


#: Above this many rows, PostgreSQL balances go through a temporary table filled by ``COPY``.
_PG_COPY_MIN_ROWS = 1_000


def _set_balances(session: Session, new_balances: list[tuple[int, int]]) -> None:
    """Write ``(account_id, balance_units)`` pairs (rows already locked by this transaction)."""
    if not new_balances:
        return
    # In range of the column: only the extremes can be out of it.
    as_units(min(units for _, units in new_balances), field="balance_units")
    as_units(max(units for _, units in new_balances), field="balance_units")
    if session.get_bind().dialect.name == "postgresql":
        if len(new_balances) >= _PG_COPY_MIN_ROWS:
            _pg_run(
                session,
                "CREATE TEMPORARY TABLE IF NOT EXISTS _ledger_balance"
                " (id BIGINT NOT NULL, units NUMERIC(78, 0) NOT NULL) ON COMMIT DELETE ROWS",
                None,
            )
            _pg_copy(
                session,
                "COPY _ledger_balance (id, units) FROM STDIN",
                [f"{account_id}\t{units}" for account_id, units in new_balances],
            )
            # One join of the locked rows; no JIT for a statement this simple.
            _pg_run(session, "SET LOCAL jit = off", None)
            _pg_run(
                session,
                "UPDATE account SET balance_units = v.units FROM _ledger_balance AS v"
                " WHERE account.id = v.id",
                None,
            )
            _pg_run(session, "TRUNCATE _ledger_balance", None)
            return
        _pg_run(
            session,
            "UPDATE account SET balance_units = v.units FROM unnest("
            "CAST(%(ids)s AS BIGINT[]), CAST(%(units)s AS NUMERIC(78, 0)[]))"
            " AS v(id, units) WHERE account.id = v.id",
            {
                "ids": _pg_array([account_id for account_id, _ in new_balances]),
                "units": _pg_array([units for _, units in new_balances]),
            },
        )
        return
    _sqlite_run(
        session,
        "UPDATE account SET balance_units = ? WHERE id = ?",
        [(str(units), account_id) for account_id, units in new_balances],
        many=True,
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

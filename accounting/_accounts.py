"""Ledger accounts: find, create and row-lock the accounts a posting moves, in one global order.

See :func:`_lock_accounts`; :mod:`accounting._transfers` moves their balances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from accounting._core import NON_NEGATIVE_KINDS
from accounting._sql import _pg_array, _pg_int_columns, _pg_run, _sqlite_run
from accounting.errors import InsufficientFundsError
from accounting.models import Account, AccountKind

# --------------------------------------------------------------------------- accounts

_AccountKey = tuple[AccountKind, int | None]
#: Per account kind, one value per account of that kind, keyed by contributor id
#: (``None``: the kind's one system account). Integer keys rather than
#: ``(kind, contributor_id)`` tuples: no tuple to build and hash per account and
#: lookup, and a reward's shares (``{contributor_id: units}``) are its contributor
#: kind's net changes as they are.
_ByKind = dict[AccountKind, dict[int | None, int]]

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
    accounts this transaction just created (with their final balance). Plain
    dicts per kind rather than an object per account: a reward may hold 100,000.
    """

    ids: _ByKind = field(default_factory=lambda: defaultdict(dict))
    balances: _ByKind = field(default_factory=lambda: defaultdict(dict))


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
    keys: Mapping[AccountKind, Iterable[int | None]], chunk: int
) -> list[tuple[AccountKind, list[int | None]]]:
    """``keys`` in the global lock order of :func:`_key_order`, as runs of one kind.

    A system account is its own run (``[None]``, after any numbered ids of its
    kind); a run of per-contributor ids ascends and holds at most ``chunk`` ids.
    Walking the runs in order and locking each with ``ORDER BY contributor_id``
    takes every lock in the global order. Each kind lists each id once.
    """
    groups: list[tuple[AccountKind, list[int | None]]] = []
    for kind in sorted(keys, key=lambda k: k.value):
        numbered = [cid for cid in keys[kind] if cid is not None]
        numbered.sort()
        groups.extend((kind, numbered[s : s + chunk]) for s in range(0, len(numbered), chunk))
        if None in keys[kind]:
            groups.append((kind, [None]))
    return groups


def _lock_accounts(
    session: Session, delta: Mapping[AccountKind, Mapping[int | None, int]]
) -> _Locked:
    """Hold every account of ``delta`` for this transaction; create the missing ones.

    A missing account is created with its final balance, its ``delta`` (its
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
    accounts = _Locked()
    missing: list[tuple[AccountKind, list[int | None]]] = []
    for kind, ids in _key_groups(delta, chunk):
        where, params = _group_sql(kind, ids, postgres)
        if postgres:
            present: list[int | None] = (
                [None] * len(_pg_run(session, f"SELECT 1 FROM account WHERE {where}", params))
                if ids == [None]
                else _pg_int_columns(
                    session,
                    f"SELECT string_agg(contributor_id::text, ',') FROM account WHERE {where}",
                    params,
                    1,
                )[0]
            )
        else:
            # SQLite: this transaction already holds the database's write lock, so
            # what it reads now is what it holds; one pass reads the balances too.
            rows = _sqlite_run(
                session,
                f"SELECT id, contributor_id, balance_units FROM account WHERE {where}",
                params,
            )
            present = [row[1] for row in rows]
            accounts.ids[kind].update((row[1], int(row[0])) for row in rows)
            accounts.balances[kind].update((row[1], int(row[2])) for row in rows)
        if len(present) < len(ids):
            found = set(present)
            missing.append((kind, [cid for cid in ids if cid not in found]))
    for kind, absent in missing:
        change = delta[kind]
        if kind in NON_NEGATIVE_KINDS:
            for cid in absent:
                if change[cid] < 0:
                    raise _insufficient((kind, cid), 0, change[cid])
        if postgres:
            _pg_create_accounts(session, kind, absent, change, accounts.ids[kind])
            continue
        # This transaction holds SQLite's write lock (its record went in first):
        # nobody else can have created them. Multi-row INSERT … RETURNING (SQLite
        # 3.35+) hands back the new ids; at most 3 · _SQLITE_ROWS variables each.
        for start in range(0, len(absent), _SQLITE_ROWS):
            part = absent[start : start + _SQLITE_ROWS]
            values = ",".join(["(?, ?, ?)"] * len(part))
            row_params: list[object] = []
            for cid in part:
                row_params += (kind.value, cid, str(change[cid]))
            rows = _sqlite_run(
                session,
                "INSERT INTO account (kind, contributor_id, balance_units)"
                f" VALUES {values} RETURNING id, contributor_id",
                row_params,
            )
            accounts.ids[kind].update((cid, int(account_id)) for account_id, cid in rows)
    if postgres:
        # Lock the accounts that existed (or that a concurrent transaction created
        # after the probe above), run by run in the global order.
        rest: dict[AccountKind, Iterable[int | None]] = {}
        for kind, change in delta.items():
            made = accounts.ids.get(kind)
            rest[kind] = [cid for cid in change if cid not in made] if made else change
        for kind, ids in _key_groups(rest, chunk):
            _pg_lock_run(session, kind, ids, accounts)
    lost = [
        (kind, cid)
        for kind, change in delta.items()
        for cid in change
        if cid not in accounts.ids[kind]
    ]
    if lost:  # pragma: no cover - would mean the insert above silently failed
        raise RuntimeError(f"accounts {sorted(lost, key=_key_order)[:10]} could not be created")
    return accounts


def _pg_create_accounts(
    session: Session,
    kind: AccountKind,
    absent: list[int | None],
    balances: Mapping[int | None, int],
    ids: dict[int | None, int],
) -> None:
    """Insert the accounts ``absent`` of ``kind`` with their ``balances``; note their ``ids``.

    A plain ``INSERT`` inside a savepoint: ``ON CONFLICT DO NOTHING`` costs the server
    about twice as much per row (a speculative insertion, checked against every
    unique index). If another transaction created one of them since the probe, the
    ``INSERT`` fails on the unique index (after waiting for that transaction to end,
    just as ``ON CONFLICT`` would); the savepoint is rolled back and ``ON CONFLICT DO
    NOTHING`` inserts the rest, and the caller locks the ones it skipped.
    """
    from psycopg import errors

    insert = (
        "INSERT INTO account (kind, contributor_id, balance_units)"
        " SELECT %(kind)s, u.cid, u.units FROM unnest(CAST(%(ids)s AS BIGINT[]),"
        " CAST(%(units)s AS NUMERIC(78, 0)[])) WITH ORDINALITY AS u(cid, units, n)"
        " ORDER BY u.n{conflict} RETURNING id, contributor_id"
    )
    params = {
        "kind": kind.value,
        "ids": _pg_array(absent),
        "units": _pg_array([balances[cid] for cid in absent]),
    }
    # One text value back instead of a row per account (see _pg_int_columns);
    # coalesce: a system account's contributor_id is NULL, its one key None.
    collect = (
        "WITH created AS ({insert}) SELECT string_agg(id::text, ','),"
        " string_agg(coalesce(contributor_id, -1)::text, ',') FROM created"
    )
    _pg_run(session, "SAVEPOINT ledger_new_accounts", None)
    try:
        created = _pg_int_columns(
            session, collect.format(insert=insert.format(conflict="")), params, 2
        )
    except errors.UniqueViolation:
        _pg_run(session, "ROLLBACK TO SAVEPOINT ledger_new_accounts", None)
        created = _pg_int_columns(
            session,
            collect.format(insert=insert.format(conflict=" ON CONFLICT DO NOTHING")),
            params,
            2,
        )
    _pg_run(session, "RELEASE SAVEPOINT ledger_new_accounts", None)
    account_ids, cids = created
    ids.update(zip([None if cid < 0 else cid for cid in cids], account_ids, strict=True))


def _pg_lock_run(
    session: Session, kind: AccountKind, ids: list[int | None], accounts: _Locked
) -> None:
    """Lock the existing accounts of one run of :func:`_key_groups` in order; read them."""
    where, params = _group_sql(kind, ids, postgres=True)
    if ids == [None]:
        for account_id, units in _pg_run(
            session,
            f"SELECT id, CAST(balance_units AS TEXT) FROM account WHERE {where} FOR UPDATE",
            params,
        ):
            accounts.ids[kind][None] = account_id
            accounts.balances[kind][None] = int(units)
        return
    # The locks are taken in ORDER BY order (LockRows runs above the sort); the
    # aggregate reads the locked rows once, so the three lists stay aligned.
    account_ids, cids, balances = _pg_int_columns(
        session,
        "SELECT string_agg(id::text, ','), string_agg(contributor_id::text, ','),"
        " string_agg(balance_units::text, ',') FROM (SELECT id, contributor_id,"
        f" balance_units FROM account WHERE {where} ORDER BY contributor_id FOR UPDATE)"
        " AS locked",
        params,
        3,
    )
    accounts.ids[kind].update(zip(cids, account_ids, strict=True))
    accounts.balances[kind].update(zip(cids, balances, strict=True))


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


def _lock_accounts_orm(  # pragma: no cover - dialects other than PostgreSQL and SQLite
    session: Session, delta: Mapping[AccountKind, Mapping[int | None, int]]
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
            accounts.ids[kind][contributor_id] = int(account_id)
            accounts.balances[kind][contributor_id] = int(units)
    return accounts


def _insufficient(key: _AccountKey, held: int, delta: int) -> InsufficientFundsError:
    kind, contributor_id = key
    owner = f" of contributor {contributor_id}" if contributor_id is not None else ""
    return InsufficientFundsError(
        f"the {kind.value} account{owner} holds {held}, less than the {-delta} asked for"
    )

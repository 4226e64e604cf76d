"""Transfers: post legs in bulk, moving the materialised balances under row locks.

:func:`_apply_transfers` is the one writer of ``transfer`` rows and balances; the
accounts it moves are held by :func:`accounting._accounts._lock_accounts`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from sqlmodel import Session

from accounting._accounts import _AccountKey, _ByKind, _insufficient, _key_order, _lock_accounts
from accounting._core import NON_NEGATIVE_KINDS
from accounting._sql import _copy_text, _pg_array, _pg_copy, _pg_run, _sqlite_run
from accounting.models import PER_CONTRIBUTOR_KINDS, AccountKind, Transfer, TransferCode, utcnow
from accounting.types import as_units

# --------------------------------------------------------------------------- transfers


class _Leg(NamedTuple):
    transfer_id: str
    debit: _AccountKey
    credit: _AccountKey
    amount_units: int
    code: TransferCode


class _Fanout(NamedTuple):
    """Many transfers from one account, one to each ``kind`` account of ``credits``.

    Transfer ``f"{id_prefix}{contributor_id}"`` moves ``credits[contributor_id]``
    (a positive ``int``) from ``debit``. The bulk form of :class:`_Leg` for a
    reward's shares: no tuple per transfer, and the ids are formatted as they go out.
    """

    id_prefix: str
    debit: _AccountKey
    kind: AccountKind
    credits: Mapping[int, int]
    code: TransferCode


def _net_changes(legs: list[_Leg], fanouts: list[_Fanout]) -> _ByKind:
    """The net change of every account the transfers touch (zero included), by kind."""
    delta: _ByKind = defaultdict(dict)
    for leg in legs:
        amount = leg.amount_units
        if type(amount) is not int or amount <= 0 or leg.debit == leg.credit:  # pragma: no cover
            raise AssertionError(f"invalid transfer leg {leg}")
        for (kind, cid), change in ((leg.debit, -amount), (leg.credit, amount)):
            delta[kind][cid] = delta[kind].get(cid, 0) + change
    for fan in fanouts:
        credits = fan.credits
        if not credits:
            continue
        if (  # pragma: no cover - the callers pass positive ints and a distinct debit
            set(map(type, credits.values())) != {int}
            or min(credits.values()) <= 0
            or (fan.debit[0] == fan.kind and fan.debit[1] in credits)
            or fan.kind not in PER_CONTRIBUTOR_KINDS
        ):
            raise AssertionError(f"invalid transfers {fan.id_prefix}…")
        target = delta[fan.kind]
        if target:
            for cid, units in credits.items():
                target[cid] = target.get(cid, 0) + units
        else:
            target.update(credits)
        kind, cid = fan.debit
        delta[kind][cid] = delta[kind].get(cid, 0) - sum(credits.values())
    return delta


def _apply_transfers(
    session: Session,
    legs: list[_Leg],
    *,
    job_ref: str,
    reward_id: str | None,
    fanouts: list[_Fanout] | None = None,
) -> None:
    """Insert the transfers and move the materialised balances, under row locks.

    Bulk statements throughout (one reward may pay 100,000 contributors): the
    net change of every account is computed first, in Python ints; missing
    accounts are created with their new balance, the others are locked, checked
    and rewritten once each; the transfers go in by one bulk insert.
    """
    fanouts = fanouts or []
    delta = _net_changes(legs, fanouts)
    accounts = _lock_accounts(session, delta)
    for kind in sorted(NON_NEGATIVE_KINDS.intersection(delta), key=lambda k: k.value):
        change = delta[kind]
        if min(change.values()) >= 0:
            continue
        held = accounts.balances[kind]
        short = [
            cid
            for cid, units in change.items()
            if units < 0 and cid in held and held[cid] + units < 0
        ]
        if short:
            cid = min(short, key=lambda c: _key_order((kind, c)))
            raise _insufficient((kind, cid), held[cid], change[cid])
    _insert_transfers(session, legs, fanouts, accounts.ids, job_ref=job_ref, reward_id=reward_id)
    new_balances: list[tuple[int, int]] = []
    for kind, held in accounts.balances.items():
        change, ids = delta[kind], accounts.ids[kind]
        new_balances += [
            (ids[cid], units + change[cid]) for cid, units in held.items() if change[cid]
        ]
    _set_balances(session, new_balances)
    session.flush()


def _insert_transfers(
    session: Session,
    legs: list[_Leg],
    fanouts: list[_Fanout],
    ids: Mapping[AccountKind, Mapping[int | None, int]],
    *,
    job_ref: str,
    reward_id: str | None,
) -> None:
    """One bulk insert of the transfers: ``COPY`` on PostgreSQL, ``executemany`` on SQLite."""
    now = utcnow()
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        # The fields every row shares, formatted and escaped once.
        tail = f"\t{_copy_text(job_ref)}\t{_copy_text(reward_id)}\t{now.isoformat()}"

        def lines() -> Iterator[str]:
            for leg in legs:
                yield (
                    f"{_copy_text(leg.transfer_id)}\t{ids[leg.debit[0]][leg.debit[1]]}"
                    f"\t{ids[leg.credit[0]][leg.credit[1]]}\t{leg.amount_units}"
                    f"\t{TransferCode(leg.code).value}{tail}"
                )
            for fan in fanouts:
                # Digits need no escaping: the prefix is escaped once for all rows.
                head = _copy_text(fan.id_prefix)
                middle = f"\t{ids[fan.debit[0]][fan.debit[1]]}\t"
                end = f"\t{TransferCode(fan.code).value}{tail}"
                credit_ids = ids[fan.kind]
                for cid, units in fan.credits.items():
                    yield f"{head}{cid}{middle}{credit_ids[cid]}\t{units}{end}"

        _pg_copy(
            session,
            "COPY transfer (id, debit_account_id, credit_account_id, amount_units, code,"
            " job_ref, reward_id, created_at) FROM STDIN",
            lines(),
        )
        return
    # The column's own bind processor (SQLite: the text SQLAlchemy stores), applied once.
    created_at = Transfer.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    stamp = created_at(now) if created_at is not None else now
    rows = [
        (
            leg.transfer_id,
            ids[leg.debit[0]][leg.debit[1]],
            ids[leg.credit[0]][leg.credit[1]],
            str(leg.amount_units),
            TransferCode(leg.code).value,
            job_ref,
            reward_id,
            stamp,
        )
        for leg in legs
    ]
    for fan in fanouts:
        debit_id, code, credit_ids = (
            ids[fan.debit[0]][fan.debit[1]],
            TransferCode(fan.code).value,
            ids[fan.kind],
        )
        rows += [
            (
                f"{fan.id_prefix}{cid}",
                debit_id,
                credit_ids[cid],
                str(units),
                code,
                job_ref,
                reward_id,
                stamp,
            )
            for cid, units in fan.credits.items()
        ]
    _sqlite_run(
        session,
        "INSERT INTO transfer (id, debit_account_id, credit_account_id, amount_units, code,"
        " job_ref, reward_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
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

"""Work credits: verified work units, one record per client-chosen id, written in bulk.

A credit says that one contributor did ``work_units`` of verified work on one job
(the pool credits one per accepted chunk, ``"<job id>:<chunk index>"``). Credits are
immutable and idempotent on their id, like every ledger record: the same id with
the same contents again is ``"exists"`` (nothing changes), with other contents a
:class:`~accounting.errors.ConflictError`. Each new credit gets the next ``seq``,
the order in which PPLNS windows count back.

:func:`credit_work_many` writes a whole job's credits with a few statements
(PostgreSQL: one array read of the ids, one ``INSERT … SELECT FROM unnest(…)``;
SQLite: reads of at most :data:`~accounting._accounts._CHUNK` ids and one
``executemany``); :func:`credit_work` is its one-credit case. Neither commits: the
caller's transaction holds the credits, so they can commit together with what
made them due (``pool_api.store.chunks.ChunkStore.credit_and_finish`` flips the job
to ``done`` in the same transaction).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from accounting._accounts import _CHUNK
from accounting._core import (
    PostStatus,
    _atomic,
    _check_contributor_id,
    _check_ref,
    _check_work_units,
    _require_same,
)
from accounting._sql import _pg_array, _pg_run, _sqlite_run
from accounting.models import WORK_CREDIT_SEQ, WorkCredit, utcnow

__all__ = ["Credit", "credit_work", "credit_work_many"]


class Credit(NamedTuple):
    """One work credit to record (a plain 4-tuple in this order works as well)."""

    credit_id: str
    contributor_id: int
    job_ref: str
    work_units: int


#: A credit's contents, the part compared for idempotency: (contributor_id, job_ref, work_units).
_Contents = tuple[int, str, int]
_FIELDS = ("contributor_id", "job_ref", "work_units")


def credit_work(
    session: Session, *, credit_id: str, contributor_id: int, job_ref: str, work_units: int
) -> PostStatus:
    """Record verified work; ``credit_id`` (e.g. ``"<job_id>:<chunk_index>"``) is the key.

    Returns ``"created"``, or ``"exists"`` when the same credit was recorded
    before (nothing changes). Raises :class:`ConflictError` when ``credit_id``
    exists with other contents. Each new credit gets the next ``seq`` (the
    order PPLNS windows count back in).

    Transaction: writes in the caller's transaction (inside a savepoint, undone
    on any error) and does **not** commit; the caller commits.
    """
    return credit_work_many(
        session,
        [
            Credit(
                credit_id=credit_id,
                contributor_id=contributor_id,
                job_ref=job_ref,
                work_units=work_units,
            )
        ],
    )[0]


def credit_work_many(
    session: Session, credits: Iterable[Credit | tuple[str, int, str, int]]
) -> list[PostStatus]:
    """Record many credits at once; one status per credit, in the order given.

    Each credit is ``(credit_id, contributor_id, job_ref, work_units)`` with the
    semantics of :func:`credit_work`: ``"created"``, or ``"exists"`` when its id is
    stored with the same contents (also when it repeats an earlier credit of the
    same call). An id stored — or given earlier in the call — with other contents
    raises :class:`ConflictError` and nothing of the call is written. New credits
    get ascending ``seq`` numbers in the order given.

    Transaction: all the writes go in a savepoint of the caller's transaction (all
    or nothing) and nothing is committed: the caller commits, together with
    whatever else belongs to the same decision. A concurrent writer of some of the
    same ids (PostgreSQL: the insert waits for it, then meets its rows) is answered
    as if this call had come second: the savepoint is rolled back and the call is
    made again with ``ON CONFLICT DO NOTHING``, comparing what the other stored.
    """
    order, wanted = _checked(credits)
    if not wanted:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    try:
        with _atomic(session):
            created = _write(session, wanted, postgres, on_conflict=False)
    except Exception as exc:
        # SQLite writers hold the write lock from the start: only PostgreSQL can race.
        if not (postgres and _unique_violation(exc)):
            raise
        with _atomic(session):
            created = _write(session, wanted, postgres, on_conflict=True)
    statuses: list[PostStatus] = []
    for credit_id in order:
        if credit_id in created:
            created.discard(credit_id)  # a repeat of the id later in the call: "exists"
            statuses.append("created")
        else:
            statuses.append("exists")
    return statuses


def _unique_violation(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL's unique violation (raw from psycopg, or wrapped)."""
    from psycopg import errors

    if isinstance(exc, IntegrityError):
        exc = exc.orig  # type: ignore[assignment]
    return isinstance(exc, errors.UniqueViolation)


def _checked(
    credits: Iterable[Credit | tuple[str, int, str, int]],
) -> tuple[list[str], dict[str, _Contents]]:
    """The ids in the order given and each id's validated contents (the first occurrence's)."""
    order: list[str] = []
    wanted: dict[str, _Contents] = {}
    for credit_id, contributor_id, job_ref, work_units in credits:
        key = _check_ref(credit_id, "credit_id")
        contents = (
            _check_contributor_id(contributor_id),
            _check_ref(job_ref, "job_ref"),
            _check_work_units(work_units),
        )
        first = wanted.setdefault(key, contents)
        if first != contents:
            _require_same_credit(key, first, contents)
        order.append(key)
    return order, wanted


def _require_same_credit(credit_id: str, stored: _Contents, wanted: _Contents) -> None:
    """:class:`ConflictError` unless ``stored`` and ``wanted`` are the same contents."""
    if stored != wanted:
        _require_same(
            "work credit",
            credit_id,
            dict(zip(_FIELDS, stored, strict=True)),
            dict(zip(_FIELDS, wanted, strict=True)),
        )


def _write(
    session: Session, wanted: dict[str, _Contents], postgres: bool, *, on_conflict: bool
) -> set[str]:
    """Compare the stored credits among ``wanted``, insert the others; the ids inserted."""
    stored = _stored(session, list(wanted), postgres)
    for credit_id, contents in stored.items():
        _require_same_credit(credit_id, contents, wanted[credit_id])
    new = [credit_id for credit_id in wanted if credit_id not in stored]
    if not new:
        return set()
    dialect = session.get_bind().dialect.name
    if postgres:
        inserted = _pg_insert(session, new, wanted, on_conflict=on_conflict)
    elif dialect == "sqlite":
        inserted = _sqlite_insert(session, new, wanted)
    else:  # pragma: no cover - dialects other than PostgreSQL and SQLite
        inserted = _orm_insert(session, new, wanted)
    if len(inserted) < len(new):
        # ON CONFLICT skipped ids a concurrent writer committed meanwhile: compare them.
        lost = [credit_id for credit_id in new if credit_id not in inserted]
        found = _stored(session, lost, postgres)
        if len(found) < len(lost):  # pragma: no cover - credits are never deleted
            raise RuntimeError(f"work credits {sorted(set(lost) - set(found))[:10]} vanished")
        for credit_id, contents in found.items():
            _require_same_credit(credit_id, contents, wanted[credit_id])
    return inserted


def _stored(session: Session, ids: list[str], postgres: bool) -> dict[str, _Contents]:
    """The stored contents of those of ``ids`` that exist."""
    if postgres:
        rows = _pg_run(
            session,
            "SELECT id, contributor_id, job_ref, work_units FROM work_credit"
            " WHERE id = ANY(%(ids)s)",
            {"ids": ids},
        )
    elif session.get_bind().dialect.name == "sqlite":
        rows = []
        for start in range(0, len(ids), _CHUNK):
            part = ids[start : start + _CHUNK]
            rows += _sqlite_run(
                session,
                "SELECT id, contributor_id, job_ref, work_units FROM work_credit"
                f" WHERE id IN ({','.join('?' * len(part))})",
                part,
            )
    else:  # pragma: no cover - dialects other than PostgreSQL and SQLite
        rows = list(
            session.execute(
                select(
                    WorkCredit.id,
                    WorkCredit.contributor_id,
                    WorkCredit.job_ref,
                    WorkCredit.work_units,
                ).where(WorkCredit.id.in_(ids))  # type: ignore[attr-defined]
            )
        )
    return {row[0]: (int(row[1]), row[2], int(row[3])) for row in rows}


def _pg_insert(
    session: Session, new: list[str], wanted: dict[str, _Contents], *, on_conflict: bool
) -> set[str]:
    """One ``INSERT … SELECT FROM unnest(…)``; ``seq`` from the sequence, in the order given.

    A plain insert first (cheaper per row than ``ON CONFLICT``, see
    :func:`accounting._accounts._pg_create_accounts`); the retry after a concurrent
    writer's rows passes ``on_conflict`` and learns which ids went in from ``RETURNING``.
    """
    conflict = " ON CONFLICT (id) DO NOTHING RETURNING id" if on_conflict else ""
    rows = _pg_run(
        session,
        "INSERT INTO work_credit (id, contributor_id, job_ref, work_units, seq, created_at)"
        " SELECT u.id, u.cid, u.job, u.units, nextval('work_credit_seq'), %(now)s"
        " FROM unnest(CAST(%(ids)s AS TEXT[]), CAST(%(cids)s AS BIGINT[]),"
        " CAST(%(jobs)s AS TEXT[]), CAST(%(units)s AS BIGINT[]))"
        f" WITH ORDINALITY AS u(id, cid, job, units, n) ORDER BY u.n{conflict}",
        {
            "now": utcnow(),
            "ids": new,
            "cids": _pg_array(wanted[i][0] for i in new),
            "jobs": [wanted[i][1] for i in new],
            "units": _pg_array(wanted[i][2] for i in new),
        },
    )
    return {row[0] for row in rows} if on_conflict else set(new)


def _sqlite_insert(session: Session, new: list[str], wanted: dict[str, _Contents]) -> set[str]:
    """One ``executemany``; ``seq`` continues from the largest stored one.

    The transaction holds SQLite's write lock (:func:`accounting._core._atomic`), so
    no other writer can take the same numbers.
    """
    base = _sqlite_run(session, "SELECT coalesce(max(seq), 0) FROM work_credit", ())[0][0]
    dialect = session.get_bind().dialect
    # The column's own bind processor (SQLite: the text SQLAlchemy stores), applied once.
    created_at = WorkCredit.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(
        dialect
    )
    now = utcnow()
    stamp = created_at(now) if created_at is not None else now
    _sqlite_run(
        session,
        "INSERT INTO work_credit (id, contributor_id, job_ref, work_units, seq, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (credit_id, *wanted[credit_id], int(base) + n, stamp)
            for n, credit_id in enumerate(new, start=1)
        ],
        many=True,
    )
    return set(new)


def _orm_insert(  # pragma: no cover - dialects other than PostgreSQL and SQLite
    session: Session, new: list[str], wanted: dict[str, _Contents]
) -> set[str]:
    for credit_id in new:
        contributor_id, job_ref, work_units = wanted[credit_id]
        session.execute(
            insert(WorkCredit).values(
                id=credit_id,
                contributor_id=contributor_id,
                job_ref=job_ref,
                work_units=work_units,
                seq=WORK_CREDIT_SEQ.next_value(),
                created_at=utcnow(),
            )
        )
    return set(new)

"""Straight-to-the-driver SQL for the ledger's bulk paths (PostgreSQL's psycopg, SQLite's sqlite3).

A reward touches 100,000 rows: the statements here skip SQLAlchemy's per-row
result machinery and psycopg's per-element array dumping, running on the
session's own DBAPI connection, inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

from sqlmodel import Session


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


def _pg_int_columns(session: Session, sql: str, params: Any, width: int) -> list[list[int]]:
    """The columns of a one-row answer of ``width`` comma-joined integer lists (``string_agg``).

    100,000 integers as one text value, split and parsed by ``int``, cost the client
    a fraction of 100,000 rows through the driver's row machinery. An aggregate over
    no rows (``NULL``) gives empty lists.
    """
    rows = _pg_run(session, sql, params)
    if not rows or rows[0][0] is None:
        return [[] for _ in range(width)]
    return [list(map(int, value.split(","))) for value in rows[0]]

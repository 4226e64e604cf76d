"""Wiping ledger tables between generated test cases (test-only; the ledger never deletes)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine, text
from sqlmodel import SQLModel


def clear_tables(engine: Engine, names: Collection[str]) -> None:
    """Delete every row of the named tables, children first."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Ledger rows are never deleted (``accounting.models.PG_TRANSFER_REFERENCES_DDL``
            # triggers); wiping between examples is test-only and runs as a superuser.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name in names:
                conn.execute(table.delete())

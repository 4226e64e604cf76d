"""The health check's database probe."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection


def ping(connection: Connection) -> None:
    """``SELECT 1``: raises ``SQLAlchemyError`` when the database does not answer."""
    connection.execute(text("SELECT 1"))

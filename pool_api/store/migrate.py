"""Schema migrations (Alembic), driven from code: upgrade, current revision, refusal to start.

The embedded default database (the SQLite file in the data dir, which the pool
owns) is upgraded automatically at start.  A database named by
``PROVERPOOL_DATABASE_URL`` is only ever changed by ``proverpool db upgrade``:
the application refuses to start on it until it is at the code's revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from pool_api.store.db import make_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class SchemaNotMigratedError(RuntimeError):
    """The database is not at the revision this code needs."""


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creating every table on an empty one)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def upgrade_url(url: str) -> None:
    """:func:`upgrade` the database at ``url`` with an engine of its own."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def require_current(engine: Engine) -> None:
    """Raise :class:`SchemaNotMigratedError` unless the database is at the head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "empty (no schema)" if current is None else f"at revision {current}"
        raise SchemaNotMigratedError(
            f"the database {where} is {state}; this proverpool needs revision {head}. "
            "Run `proverpool db upgrade` (with the same PROVERPOOL_DATABASE_URL) first."
        )


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Step the database back to ``revision`` (``base``: drop everything the migrations made)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

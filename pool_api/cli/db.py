"""``proverpool db``: schema migrations of the pool's database.

Both commands open an existing database only (:mod:`pool_api.cli.local_db`): a SQLite
file that is not there is an error, never a new empty database.  The embedded SQLite is
created and migrated by ``proverpool head`` itself; ``db upgrade`` is for an external
database (``--database-url`` / ``PROVERPOOL_DATABASE_URL``), or for an embedded one after
an upgrade of proverpool.
"""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from pool_api.cli import exit_codes
from pool_api.cli.exit_codes import CliError
from pool_api.cli.local_db import DatabaseUrlOption, DataDirOption, database_error, pool_engine

db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)


@db_app.command()
def upgrade(database_url: DatabaseUrlOption = None, data_dir: DataDirOption = None) -> None:
    """Migrate the pool's database (PROVERPOOL_DATABASE_URL, or the embedded one) to this
    version."""
    from pool_api.store import migrate

    try:
        with pool_engine(database_url, data_dir) as engine:
            try:
                before = migrate.current_revision(engine)
                migrate.upgrade(engine)
                after = migrate.current_revision(engine)
            except SQLAlchemyError as exc:
                raise database_error(engine, exc) from exc
    except CliError as exc:
        exit_codes.fail("db upgrade", str(exc), exc.exit_code)
    typer.echo(f"database at revision {after} (was {before or 'empty'})")


@db_app.command()
def current(database_url: DatabaseUrlOption = None, data_dir: DataDirOption = None) -> None:
    """Print the database's revision and the one this code needs; exit 1 when they differ."""
    from pool_api.store import migrate

    try:
        with pool_engine(database_url, data_dir) as engine:
            try:
                revision = migrate.current_revision(engine)
            except SQLAlchemyError as exc:
                raise database_error(engine, exc) from exc
    except CliError as exc:
        exit_codes.fail("db current", str(exc), exc.exit_code)
    head = migrate.head_revision()
    typer.echo(f"database: {revision or 'empty'}; code needs: {head}")
    if revision != head:
        raise typer.Exit(exit_codes.FAILED)

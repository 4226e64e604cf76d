"""``proverpool db``: schema migrations of the pool's database."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)


def _engine():
    from pool_api.settings import Settings
    from pool_api.store.db import make_engine

    return make_engine(Settings().resolved_database_url)


@db_app.command()
def upgrade() -> None:
    """Migrate the database of PROVERPOOL_DATABASE_URL (or the embedded one) to this version."""
    from pool_api.store import migrate

    engine = _engine()
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    typer.echo(f"database at revision {after} (was {before or 'empty'})")


@db_app.command()
def current() -> None:
    """Print the database's revision and the one this code needs; exit 1 when they differ."""
    from pool_api.store import migrate

    engine = _engine()
    try:
        revision = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    typer.echo(f"database: {revision or 'empty'}; code needs: {head}")
    if revision != head:
        raise typer.Exit(1)

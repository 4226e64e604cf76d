"""``proverpool ledger``: audit the ledger, print a contributor's statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

ledger_app = typer.Typer(
    help="The pool's ledger: audit it, print statements.", no_args_is_help=True
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the pool's database; default: PROVERPOOL_DATABASE_URL "
        "or the embedded SQLite file.",
        show_default=False,
    ),
]


class StatementFormat(StrEnum):
    csv = "csv"
    json = "json"


@contextmanager
def _session(database_url: str | None) -> Iterator[Session]:
    from pool_api.settings import Settings
    from pool_api.store.db import make_engine

    settings = Settings(database_url=database_url) if database_url else Settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            yield session
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        first = str(exc).splitlines()[0]
        typer.secho(
            f"cannot read the ledger at {where}: {first} "
            "(is the schema there? `proverpool db upgrade`)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


def _counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func, select

    from accounting import Account, PayoutBatch, Penalty, Reward, Transfer, Withdrawal, WorkCredit

    tables = {
        "accounts": Account,
        "transfers": Transfer,
        "rewards": Reward,
        "work credits": WorkCredit,
        "penalties": Penalty,
        "withdrawals": Withdrawal,
        "payout batches": PayoutBatch,
    }
    return {
        name: int(session.scalar(select(func.count()).select_from(model)) or 0)
        for name, model in tables.items()
    }


@ledger_app.command()
def audit(database_url: DatabaseUrl = None) -> None:
    """Check every invariant of the ledger; exit 1 on the first violation, with its message."""
    import accounting

    with _session(database_url) as session:
        violations = accounting.audit(session)
        counts = _counts(session)
    if violations:
        typer.secho(f"ledger audit FAILED: {violations[0]}", fg=typer.colors.RED, err=True)
        if len(violations) > 1:
            typer.echo(f"({len(violations) - 1} more violation(s))", err=True)
        raise typer.Exit(1)
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    typer.secho(f"ledger OK: {summary}", fg=typer.colors.GREEN)


@ledger_app.command()
def statement(
    contributor_id: Annotated[int, typer.Argument(help="The contributor's id.", min=0)],
    format: Annotated[
        StatementFormat, typer.Option("--format", help="Output format.")
    ] = StatementFormat.csv,
    database_url: DatabaseUrl = None,
) -> None:
    """Print every transfer of a contributor's account with the running balance."""
    import accounting

    with _session(database_url) as session:
        lines = accounting.statement(session, contributor_id)
    if format == StatementFormat.json:
        typer.echo(accounting.statement_json(lines))
    else:
        typer.echo(accounting.statement_csv(lines), nl=False)

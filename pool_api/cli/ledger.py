"""``proverpool ledger``: audit the ledger, print a contributor's statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from pool_api.cli import exit_codes
from pool_api.cli.exit_codes import CliError
from pool_api.cli.local_db import DatabaseUrlOption, DataDirOption, database_error, pool_engine

ledger_app = typer.Typer(
    help="The pool's ledger: audit it, print statements.", no_args_is_help=True
)


class StatementFormat(StrEnum):
    csv = "csv"
    json = "json"


@contextmanager
def _session(command: str, database_url: str | None, data_dir: Path | None) -> Iterator[Session]:
    try:
        with pool_engine(database_url, data_dir) as engine:
            try:
                with Session(engine) as session:
                    yield session
            except SQLAlchemyError as exc:
                raise database_error(engine, exc) from exc
    except CliError as exc:
        exit_codes.fail(f"ledger {command}", str(exc), exc.exit_code)


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
def audit(database_url: DatabaseUrlOption = None, data_dir: DataDirOption = None) -> None:
    """Check every invariant of the ledger; exit 1 on the first violation, with its message."""
    import accounting

    with _session("audit", database_url, data_dir) as session:
        violations = accounting.audit(session)
        counts = _counts(session)
    if violations:
        typer.secho(f"ledger audit FAILED: {violations[0]}", fg=typer.colors.RED, err=True)
        if len(violations) > 1:
            typer.echo(f"({len(violations) - 1} more violation(s))", err=True)
        raise typer.Exit(exit_codes.FAILED)
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    typer.secho(f"ledger OK: {summary}", fg=typer.colors.GREEN)


@ledger_app.command()
def statement(
    contributor_id: Annotated[int, typer.Argument(help="The contributor's id.", min=0)],
    format: Annotated[
        StatementFormat, typer.Option("--format", help="Output format.")
    ] = StatementFormat.csv,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print every transfer of a contributor's account with the running balance."""
    import accounting

    with _session("statement", database_url, data_dir) as session:
        lines = accounting.statement(session, contributor_id)
        known = bool(lines) or _contributor_exists(session, contributor_id)
    if not known:
        exit_codes.fail("ledger statement", f"no contributor {contributor_id} in this pool")
    if format == StatementFormat.json:
        typer.echo(accounting.statement_json(lines))
    else:
        typer.echo(accounting.statement_csv(lines), nl=False)


def _contributor_exists(session: Session, contributor_id: int) -> bool:
    """Whether the pool has this contributor (a ledger-only database: whether it has an
    account there)."""
    from sqlalchemy import inspect, select

    from accounting import Account
    from pool_api.store.models import Contributor

    if inspect(session.get_bind()).has_table(Contributor.__tablename__):
        return session.get(Contributor, contributor_id) is not None
    found = session.scalar(select(Account.id).where(Account.contributor_id == contributor_id))
    return found is not None

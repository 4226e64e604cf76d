"""``proverpool balance``, ``statement`` and ``withdraw``: a contributor's money.

They use the API key ``proverpool join`` saved (``DATA_DIR/join.json``, 0600) and the
pool it joined: ``GET /v1/contributors/{id}/balance``, ``GET …/statement`` and
``POST /v1/withdrawals``.  Amounts are integers in the pool's base unit.  Exit codes:
:mod:`pool_api.cli.exit_codes`.
"""

from __future__ import annotations

import json
import uuid
from enum import StrEnum
from typing import Annotated

import typer

from pool_api.cli import exit_codes
from pool_api.cli.exit_codes import CliError
from pool_api.cli.remote import DataDirOption, contributor_client


class StatementFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def balance(data_dir: DataDirOption = None) -> None:
    """Your balance, verified work and withdrawals in flight (with the key `join` saved)."""
    try:
        client, cid = contributor_client(data_dir)
        with client:
            found = client.json("GET", f"/v1/contributors/{cid}/balance")
            earned = client.json("GET", f"/v1/stats/contributors/{cid}", params={"limit": 1})
    except CliError as exc:
        exit_codes.fail("balance", str(exc), exc.exit_code)
    typer.echo(f"contributor {cid} ({earned['name']}) on {client.url}")
    typer.echo(f"  balance: {found['balance_units']:,} units")
    typer.echo(f"  earned:  {earned['earned_units']:,} units")
    typer.echo(f"  pending withdrawals: {found['pending_withdrawal_units']:,} units")
    typer.echo(f"  verified work: {found['work_units']:,} work units")


def statement(
    format: Annotated[
        StatementFormat, typer.Option("--format", help="table, csv or json.")
    ] = StatementFormat.table,
    data_dir: DataDirOption = None,
) -> None:
    """Every transfer of your account, oldest first, with the running balance."""
    try:
        client, cid = contributor_client(data_dir)
        with client:
            path = f"/v1/contributors/{cid}/statement"
            if format == StatementFormat.csv:
                text = client.call("GET", path, params={"format": "csv"}).text
            else:
                lines = client.json("GET", path)
    except CliError as exc:
        exit_codes.fail("statement", str(exc), exc.exit_code)
    if format == StatementFormat.csv:
        typer.echo(text, nl=False)
    elif format == StatementFormat.json:
        typer.echo(json.dumps(lines, indent=1))
    else:
        _statement_table(cid, lines)


def _statement_table(cid: int, lines: list[dict]) -> None:
    from rich.table import Table

    from pool_api.cli.pool_info import console

    table = Table(title=f"statement of contributor {cid} (base units)")
    for column in ("at (UTC)", "what", "job", "amount", "balance"):
        table.add_column(column, justify="right" if column in ("amount", "balance") else "left")
    for line in lines:
        table.add_row(
            line["created_at"][:19].replace("T", " "),
            line["code"],
            line["job_ref"],
            f"{line['amount_units']:+,}",
            f"{line['balance_units']:,}",
        )
    console().print(table)


def withdraw(
    amount_units: Annotated[int, typer.Argument(min=1, help="Amount to withdraw, base units.")],
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="Retry with the same key to be sure the withdrawal happens once "
            "(default: a fresh key, printed).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask for part of your balance in the next payout batch (to your payout address)."""
    key = idempotency_key or f"cli-{uuid.uuid4().hex}"
    try:
        client, _ = contributor_client(data_dir)
        with client:
            body = {"amount_units": amount_units, "idempotency_key": key}
            done = client.json("POST", "/v1/withdrawals", json=body)
    except CliError as exc:
        exit_codes.fail("withdraw", str(exc), exc.exit_code)
    again = " (already requested with this key)" if done["status"] == "exists" else ""
    typer.echo(
        f"withdrawal {done['withdrawal_id']} of {done['amount_units']:,} units: "
        f"{done['state']}{again}; idempotency key {key}"
    )

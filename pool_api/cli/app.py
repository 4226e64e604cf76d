"""The ``proverpool`` command (typer)."""

from __future__ import annotations

from typing import Annotated

import typer

from pool_api.cli import help_format, submit_kernels
from pool_api.cli.db import db_app
from pool_api.cli.exit_codes import EPILOG
from pool_api.cli.head import head
from pool_api.cli.join import join, leave
from pool_api.cli.ledger import ledger_app
from pool_api.cli.pool_info import contributors, invite, jobs_app, status
from pool_api.cli.runner import runner
from pool_api.cli.submit import submit_app
from pool_api.cli.wallet import balance, statement, withdraw

help_format.hide_flag_types()
app = typer.Typer(
    help="proverpool: pool small machines for ZK proving work and share the rewards exactly.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(ledger_app, name="ledger")
app.add_typer(db_app, name="db")
app.add_typer(submit_app, name="submit")
app.add_typer(jobs_app, name="jobs")
submit_app.command("msm")(submit_kernels.msm)
submit_app.command("ntt")(submit_kernels.ntt)


def _print_version(value: bool) -> None:
    if value:
        from pool_api.membership import pool_version

        typer.echo(f"proverpool {pool_version()}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """proverpool: pool small machines for ZK proving work and share the rewards exactly."""


@app.command()
def demo(
    msm_points: Annotated[int, typer.Option(help="Points in the demo MSM.")] = 1 << 12,
    ntt_size: Annotated[int, typer.Option(help="Size of the demo NTT (a power of two).")] = 1 << 14,
    keep_data: Annotated[
        bool, typer.Option(help="Keep the demo's data directory (SQLite ledger, blobs).")
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Then keep the pool and dashboard up until Ctrl-C.")
    ] = False,
) -> None:
    """A whole pool on this machine: two contributor nodes, MSM, NTT and Groth16 checked."""
    from pool_api.cli.demo import DemoConfig, DemoError, run_demo

    config = DemoConfig(msm_points=msm_points, ntt_size=ntt_size, keep_data=keep_data, keep=keep)
    try:
        code = run_demo(config)
    except DemoError as exc:
        typer.secho(f"demo failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


app.command()(head)
app.command()(join)
app.command()(leave)
app.command()(runner)
app.command()(status)
app.command()(invite)
app.command()(contributors)
app.command()(balance)
app.command()(statement)
app.command()(withdraw)


if __name__ == "__main__":
    app()

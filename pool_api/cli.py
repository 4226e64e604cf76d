"""The ``proverpool`` command (typer)."""

from __future__ import annotations

from typing import Annotated

import typer

from pool_api.cli_db import db_app
from pool_api.cli_ledger import ledger_app

app = typer.Typer(
    help="proverpool: pool small machines for ZK proving work and share the rewards exactly.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(ledger_app, name="ledger")
app.add_typer(db_app, name="db")


@app.command()
def demo(
    msm_points: Annotated[int, typer.Option(help="Points in the demo MSM.")] = 1 << 12,
    ntt_size: Annotated[int, typer.Option(help="Size of the demo NTT (a power of two).")] = 1 << 14,
    keep_data: Annotated[
        bool, typer.Option(help="Keep the demo's data directory (SQLite ledger, blobs).")
    ] = False,
) -> None:
    """Run a whole pool on this machine: Ray with two contributor nodes, API, jobs, rewards."""
    from pool_api.demo import DemoConfig, DemoError, run_demo

    try:
        code = run_demo(DemoConfig(msm_points=msm_points, ntt_size=ntt_size, keep_data=keep_data))
    except DemoError as exc:
        typer.secho(f"demo failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


@app.command()
def head(
    host: Annotated[str, typer.Option(help="Address the HTTP API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the HTTP API.")] = 8000,
) -> None:
    """Serve the pool's HTTP API (settings from PROVERPOOL_* variables)."""
    import uvicorn

    from pool_api.main import create_app
    from pool_api.settings import Settings

    settings = Settings()
    if settings.database_url:
        from pool_api import migrate
        from pool_api.db import make_engine

        engine = make_engine(settings.database_url)
        try:
            migrate.require_current(engine)
        except migrate.SchemaNotMigratedError as exc:
            typer.secho(f"proverpool refuses to start: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from exc
        finally:
            engine.dispose()
    token_source = "PROVERPOOL_OPERATOR_TOKEN"
    if not settings.operator_token:
        settings.resolved_operator_token  # noqa: B018  (create it now)
        token_source = str(settings.data_dir / "operator_token")
    typer.echo(f"operator token: see {token_source}")
    uvicorn.run(create_app(settings), host=host, port=port)


if __name__ == "__main__":
    app()

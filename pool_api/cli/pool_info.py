"""``proverpool status``, ``jobs list|show``, ``contributors`` and ``invite``.

``status``, ``jobs`` and ``contributors`` read the pool's public endpoints
(``/v1/stats/overview``, ``/v1/jobs``, ``/v1/stats/leaderboard``); ``status`` adds the
contributor's own part (node, work, earned, balance) when ``join`` saved a key for that
pool.  ``invite`` is the operator's (``POST /v1/invites``).  Exit codes:
:mod:`pool_api.cli.exit_codes`.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from pool_api.cli import exit_codes
from pool_api.cli.exit_codes import CliError
from pool_api.cli.remote import (
    DataDirOption,
    PoolHttp,
    PoolOption,
    TokenOption,
    data_dir_of,
    operator_client,
    pool_url,
    saved_join,
)

jobs_app = typer.Typer(help="The pool's jobs: list them, show one.", no_args_is_help=True)
THROUGHPUT_WINDOW_MINUTES = 15


class JobStatusFilter(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class JobKindFilter(StrEnum):
    msm = "msm"
    ntt = "ntt"
    groth16 = "groth16"


def console():  # noqa: ANN201 (a rich Console)
    """A console for tables: the terminal's width, or wide enough for ids in a file or pipe."""
    from rich.console import Console

    found = Console(soft_wrap=True)
    return found if found.is_terminal else Console(soft_wrap=True, width=200)


def _run(command: str, body: Any) -> Any:
    try:
        return body()
    except CliError as exc:
        exit_codes.fail(command, str(exc), exc.exit_code)


def _when(value: str | None) -> str:
    if not value:
        return "never"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def status(pool: PoolOption = None, data_dir: DataDirOption = None) -> None:
    """The pool at a glance (nodes, jobs, throughput); with a saved key, your node, work,
    earnings and balance too."""
    _run("status", lambda: _status(pool, data_dir))


def _status(pool: str | None, data_dir: Any) -> None:
    directory = data_dir_of(data_dir)
    url = pool_url(pool, directory)
    with PoolHttp(url) as client:
        view = client.json(
            "GET", "/v1/stats/overview", params={"window_minutes": THROUGHPUT_WINDOW_MINUTES}
        )
        jobs = view["jobs_by_status"]
        per_minute = sum(p["work_units"] for p in view["throughput"]) // view["window_minutes"]
        typer.echo(f"pool {client.url}")
        typer.echo(
            f"  nodes: {view['nodes_online']} online of {view['nodes_registered']} "
            f"(GPUs {view['gpus_online']} of {view['gpus_registered']}), "
            f"{view['contributors']} contributors"
        )
        typer.echo("  jobs: " + ", ".join(f"{jobs.get(s, 0)} {s}" for s in JobStatusFilter))
        typer.echo(
            f"  throughput: {per_minute:,} work units/min over the last "
            f"{view['window_minutes']} min; {view['work_units_total']:,} work units in all"
        )
        state = saved_join(directory)
        if state.get("api_key") and state.get("pool_url") == client.url:
            _contributor_status(client, state)


def _contributor_status(public: PoolHttp, state: dict) -> None:
    cid = int(state["contributor_id"])
    me = public.json("GET", f"/v1/stats/contributors/{cid}", params={"limit": 1})
    nodes = public.json("GET", "/v1/nodes", params={"contributor_id": cid})
    with PoolHttp(public.url, state["api_key"]) as mine:
        balance = mine.json("GET", f"/v1/contributors/{cid}/balance")
    typer.echo(f"you: contributor {cid} ({me['name']})")
    this_node = state.get("ray_node_id")
    for node in nodes:
        marker = " (this machine)" if node["ray_node_id"] == this_node else ""
        typer.echo(
            f"  node {node['ray_node_id'][:12]}…{marker}: {node['status']}, last seen "
            f"{_when(node.get('last_seen_at'))}, {node['work_units']:,} work units, "
            f"last job {node.get('last_job_id') or 'none'}"
        )
    if not nodes:
        typer.echo("  no node registered: run `proverpool join`")
    typer.echo(
        f"  work {me['work_units']:,} units; earned {me['earned_units']:,} units; "
        f"balance {balance['balance_units']:,} units "
        f"({balance['pending_withdrawal_units']:,} pending withdrawal)"
    )


@jobs_app.command("list")
def list_jobs(
    status_filter: Annotated[
        JobStatusFilter | None, typer.Option("--status", help="Only jobs in this status.")
    ] = None,
    kind: Annotated[JobKindFilter | None, typer.Option(help="Only jobs of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 20,
    pool: PoolOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The newest jobs: id, kind, size, status, progress, submitted at."""

    def body() -> None:
        params: dict[str, Any] = {"limit": limit}
        if status_filter is not None:
            params["status"] = status_filter.value
        if kind is not None:
            params["kind"] = kind.value
        with PoolHttp(pool_url(pool, data_dir_of(data_dir))) as client:
            page = client.json("GET", "/v1/jobs", params=params)
        _jobs_table(page)

    _run("jobs list", body)


def _jobs_table(page: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{len(page['items'])} of {page['total']} jobs, newest first")
    for column in ("id", "kind", "on", "size", "status", "chunks", "submitted (UTC)"):
        table.add_column(column, no_wrap=column == "id")
    for job in page["items"]:
        progress = job["progress"]
        table.add_row(
            job["id"],
            job["kind"],
            job.get("curve") or job.get("field") or "",
            f"{job['size']:,}",
            job["status"],
            f"{progress['chunks_done']}/{progress['chunks_total']}",
            _when(job["created_at"]).removesuffix(" UTC"),
        )
    console().print(table)


@jobs_app.command("show")
def show_job(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the pool's JSON answer.")] = False,
    pool: PoolOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """One job: kind, status, progress, error, and its result once done."""

    def body() -> None:
        if not job_id.isalnum() or len(job_id) > 64:
            raise CliError(f"{job_id!r} is not a job id")
        with PoolHttp(pool_url(pool, data_dir_of(data_dir))) as client:
            job = client.json("GET", f"/v1/jobs/{job_id}")
        if as_json:
            typer.echo(json.dumps(job, indent=1))
            return
        progress = job["progress"]
        typer.echo(f"job {job['id']} ({job['kind']}): {job['status']}")
        typer.echo(f"  chunks {progress['chunks_done']}/{progress['chunks_total']}")
        if job.get("error"):
            typer.echo(f"  error: {job['error']}")
        result = job.get("result")
        if result is not None and job["kind"] == "msm":
            typer.echo(f"  result: {json.dumps(result)}")
        elif result is not None:
            typer.echo(f"  result: {len(result)} values (--json prints them)")

    _run("jobs show", body)


def contributors(pool: PoolOption = None, data_dir: DataDirOption = None) -> None:
    """Every contributor by verified work: nodes, work, earned, balance."""

    def body() -> None:
        from rich.table import Table

        with PoolHttp(pool_url(pool, data_dir_of(data_dir))) as client:
            rows = client.json("GET", "/v1/stats/leaderboard", params={"limit": 1000})
        table = Table(title=f"{len(rows)} contributors (amounts in base units)")
        for column in ("rank", "id", "name", "nodes", "work units", "earned", "balance"):
            table.add_column(column, justify="right" if column != "name" else "left")
        for row in rows:
            table.add_row(
                str(row["rank"]),
                str(row["contributor_id"]),
                row["name"],
                str(row["nodes"]),
                f"{row['work_units']:,}",
                f"{row['earned_units']:,}",
                f"{row['balance_units']:,}",
            )
        console().print(table)

    _run("contributors", body)


def invite(
    pool: PoolOption = None, token: TokenOption = None, data_dir: DataDirOption = None
) -> None:
    """Create a single-use invite (operator) and print the command a contributor runs."""

    def body() -> None:
        with operator_client(pool, token, data_dir) as client:
            created = client.json("POST", "/v1/invites")
            url = client.url
        typer.echo(
            f"invite {created['invite']} (single use; expires {_when(created['expires_at'])})"
        )
        typer.echo("to join, run on the contributor's machine:")
        typer.echo(f"  proverpool join {url} --invite {created['invite']}")

    _run("invite", body)

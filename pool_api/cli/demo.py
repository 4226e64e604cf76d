"""``proverpool demo``: a whole pool on this machine, end to end, in about a minute.

Starts a local Ray cluster (a head with no CPUs and two one-CPU worker nodes,
each belonging to a simulated contributor), serves the pool's HTTP API on a
free port, onboards the contributors (operator invites, each redeems one) and
registers their nodes through the API,
submits an MSM, an NTT and a Groth16 proof of a small circom circuit shipped with
the package (:mod:`pool_api.cli.demo_groth16`), follows them with progress bars,
checks the MSM and NTT against the single-process kernels and the proof with the
pairing check, reports a reward per job and prints the ledger.  With ``keep`` the
pool and its dashboard then stay up, URL printed, until Ctrl-C.  Everything lives
in a temporary data directory, removed at the end unless ``keep_data`` is set.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import secrets
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pool_api.cli import demo_groth16
from pool_api.cli.demo_serving import Heartbeats, keep_serving
from workers.params import CURVES, FIELDS
from workers.reference import random_points


@dataclass(frozen=True)
class DemoConfig:
    msm_points: int = 1 << 12
    ntt_size: int = 1 << 14
    reward_units: int = 1_000_000
    fee_bps: int = 500
    contributors: tuple[str, ...] = ("alice", "bob")
    seed: int = 2026
    timeout_seconds: float = 300.0
    keep_data: bool = False
    """Keep the temporary data directory (database, blobs) after the demo."""
    keep: bool = False
    """After the checks, keep the pool and its dashboard running until Ctrl-C."""


class DemoError(RuntimeError):
    """The demo found a wrong result or a service that did not come up."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _warm_kernels() -> float:
    """Compile (or load from the numba cache) the kernels once, before the workers need them."""
    from workers import msm, ntt

    started = time.perf_counter()
    g = CURVES["bn254_g1"].generator
    msm("bn254_g1", [g, g], [1, 2])
    g2 = CURVES["bn254_g2"].generator
    msm("bn254_g2", [g2, g2], [1, 2])  # the Groth16 job's B in G2
    ntt("bn254_fr", [1, 2, 3, 4])
    return time.perf_counter() - started


def run_demo(config: DemoConfig | None = None, console: Console | None = None) -> int:
    """Run the demo; returns the process exit code (0 when every check passed)."""
    config = config or DemoConfig()
    console = console or Console()
    data_dir = Path(tempfile.mkdtemp(prefix="proverpool-demo-"))
    story = logging.getLogger("pool_api")
    story.setLevel(logging.WARNING)  # the operator's log would cut through the progress bars
    console.rule("[bold]proverpool demo")
    with console.status("compiling kernels (numba, cached after the first run)…"):
        console.print(f"kernels ready in {_warm_kernels():.1f} s")

    import uvicorn

    from pool_api.api.slow_clients import uvicorn_config
    from pool_api.main import create_app
    from pool_api.membership import new_registration_secret, registration_resource
    from pool_api.settings import Settings
    from workers.cluster.runtime import LocalCluster

    node_secrets = [new_registration_secret() for _ in config.contributors]
    with console.status("starting a Ray cluster: head + 2 contributor nodes…"):
        cluster = LocalCluster(
            [1] * len(config.contributors),
            [{registration_resource(secret): 1} for secret in node_secrets],
        )
    worker_nodes = list(zip(cluster.node_ids, node_secrets, strict=True))
    console.print(f"Ray cluster at {cluster.address} with {len(worker_nodes)} worker nodes")
    beats = Heartbeats()
    operator_token = secrets.token_urlsafe(24)
    settings = Settings(
        data_dir=data_dir,
        operator_token=operator_token,
        fee_bps=config.fee_bps,
        ray_address=cluster.address,
        # The demo warms its kernels itself; an idle runner that reconnects to Ray would
        # race the shutdown after a Ctrl-C that reached Ray's processes first (--keep).
        warm_start=False,
        database_url=os.environ.get("PROVERPOOL_DATABASE_URL"),
        redis_url=os.environ.get("PROVERPOOL_REDIS_URL"),
    )
    if settings.database_url:
        from pool_api.store import migrate

        migrate.upgrade_url(settings.database_url)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn_config(
            create_app(settings), settings, host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise DemoError("the API server did not start")
            time.sleep(0.05)
        console.print(f"pool API at {base_url} (data in {data_dir})")
        beats.start(base_url, settings.node_presence_ttl_seconds / 3)
        with httpx.Client(base_url=base_url, timeout=120) as client:
            code = _drive(client, config, console, operator_token, worker_nodes, beats)
        if config.keep:
            keep_serving(console, base_url, operator_token, data_dir, thread)
        return code
    finally:
        beats.stop()
        server.should_exit = True
        thread.join(30)
        cluster.shutdown()
        if not config.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)


def _address(name: str) -> str:
    """A made-up payout address for a demo contributor (``0x`` + 40 hex digits)."""
    return "0x" + hashlib.sha256(name.encode()).hexdigest()[:40]


def _yes_no(ok: bool) -> str:
    return "[green]yes" if ok else "[red]NO"


def _check(response: httpx.Response, what: str) -> dict:
    if response.status_code >= 400:
        raise DemoError(f"{what}: HTTP {response.status_code} {response.text}")
    return response.json()


def _drive(
    client: httpx.Client,
    config: DemoConfig,
    console: Console,
    operator_token: str,
    worker_nodes: list[tuple[str, str]],
    beats: Heartbeats,
) -> int:
    from workers import msm, ntt

    operator = {"Authorization": f"Bearer {operator_token}"}
    names: dict[int, str] = {}
    for name, (node, secret) in zip(config.contributors, worker_nodes, strict=True):
        invite = _check(client.post("/v1/invites", headers=operator), "create an invite")
        created = _check(
            client.post(
                "/v1/contributors",
                json={"invite": invite["invite"], "name": name, "payout_address": _address(name)},
            ),
            f"redeem {name}'s invite",
        )
        names[created["id"]] = name
        key = {"Authorization": f"Bearer {created['api_key']}"}
        node_body = {"ray_node_id": node, "registration_secret": secret, "cpu_cores": 1}
        _check(client.post("/v1/nodes", json=node_body, headers=key), "node")
        beats.add(node, key)
        console.print(f"contributor [bold]{name}[/] (id {created['id']}) owns node {node[:12]}…")

    rng = random.Random(config.seed)
    points = random_points("bn254_g1", config.msm_points, rng)
    scalars = [rng.randrange(CURVES["bn254_g1"].order) for _ in points]
    values = [rng.randrange(FIELDS["bn254_fr"].modulus) for _ in range(config.ntt_size)]
    jobs = {
        "msm": _check(
            client.post(
                "/v1/jobs",
                json={
                    "kind": "msm",
                    "curve": "bn254_g1",
                    "points": [[str(x), str(y)] for x, y in points],
                    "scalars": [str(k) for k in scalars],
                },
                headers=operator,
            ),
            "submit MSM",
        )["id"],
        "ntt": _check(
            client.post(
                "/v1/jobs",
                json={"kind": "ntt", "field": "bn254_fr", "values": [str(v) for v in values]},
                headers=operator,
            ),
            "submit NTT",
        )["id"],
    }
    try:
        jobs["groth16"] = demo_groth16.submit(client, operator)
    except demo_groth16.Groth16DemoError as exc:
        raise DemoError(str(exc)) from exc
    labels = {
        "msm": f"MSM bn254_g1, {config.msm_points} points",
        "ntt": f"NTT bn254_fr, size {config.ntt_size}",
        "groth16": demo_groth16.LABEL,
    }
    results = _follow(client, jobs, labels, console, config.timeout_seconds)

    expected_msm = list(msm("bn254_g1", points, scalars))
    expected_ntt = ntt("bn254_fr", values)
    ok_msm = [int(v) for v in results["msm"]] == expected_msm
    ok_ntt = [int(v) for v in results["ntt"]] == expected_ntt
    console.print(
        f"MSM result equals the single-process kernel: {'[green]yes' if ok_msm else '[red]NO'}"
    )
    console.print(
        f"NTT result equals the single-process kernel: {'[green]yes' if ok_ntt else '[red]NO'}"
    )
    try:
        proof = demo_groth16.check(client, jobs["groth16"])
    except demo_groth16.Groth16DemoError as exc:
        raise DemoError(str(exc)) from exc
    ok_proof = proof.verified
    signals = ", ".join(v if len(v) < 12 else f"{v[:5]}…{v[-4:]}" for v in proof.public_signals)
    console.print(
        f"Groth16 proof verifies (pairing check; public signals {signals}): {_yes_no(ok_proof)}"
    )

    exact = True
    for kind, job_id in jobs.items():
        body = {"amount_units": config.reward_units, "idempotency_key": f"demo-reward-{job_id}"}
        reward = _check(
            client.post(f"/v1/jobs/{job_id}/reward", json=body, headers=operator), "reward"
        )
        again = _check(
            client.post(f"/v1/jobs/{job_id}/reward", json=body, headers=operator), "reward again"
        )
        parts = reward["fee_units"] + reward["held_units"]
        parts += sum(s["amount_units"] for s in reward["shares"])
        exact = exact and parts == config.reward_units and again["status"] == "exists"
        shares = ", ".join(
            f"{names.get(s['contributor_id'], s['contributor_id'])} {s['amount_units']:,}"
            for s in reward["shares"]
        )
        console.print(
            f"reward {config.reward_units:,} units for the {kind.upper()} job: "
            f"operator fee {reward['fee_units']:,} ({config.fee_bps / 100:g}%), {shares}; "
            f"posted again → {again['status']}"
        )

    table = Table(title="ledger")
    for column in ("contributor", "work units", "balance (units)"):
        table.add_column(column, justify="right" if column != "contributor" else "left")
    for row in _check(client.get("/v1/contributors"), "leaderboard"):
        table.add_row(row["name"], f"{row['work_units']:,}", f"{row['balance_units']:,}")
    console.print(table)
    console.print(f"every reward split exactly (fee + shares = reward): {_yes_no(exact)}")
    if ok_msm and ok_ntt and ok_proof and exact:
        console.print("[bold green]demo passed")
        return 0
    console.print("[bold red]demo failed")
    return 1


def _follow(
    client: httpx.Client,
    jobs: dict[str, str],
    labels: dict[str, str],
    console: Console,
    timeout_seconds: float,
) -> dict[str, list[str]]:
    """Poll the jobs with a progress bar each until they are done; their results."""
    results: dict[str, list[str]] = {}
    deadline = time.monotonic() + timeout_seconds
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bars = {kind: progress.add_task(labels[kind], total=None) for kind in jobs}
        while len(results) < len(jobs):
            if time.monotonic() > deadline:
                raise DemoError("jobs did not finish in time")
            for kind, job_id in jobs.items():
                if kind in results:
                    continue
                job = _check(client.get(f"/v1/jobs/{job_id}"), "job status")
                total = job["progress"]["chunks_total"] or None
                progress.update(bars[kind], total=total, completed=job["progress"]["chunks_done"])
                if job["status"] == "failed":
                    raise DemoError(f"{kind} job failed: {job['error']}")
                if job["status"] == "done":
                    results[kind] = job["result"]
            time.sleep(0.1)
    return results

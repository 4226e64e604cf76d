"""Benchmark of the ledger: one PROP reward split among many contributors.

Usage: ``python bench/ledger.py [--contributors N] [--postgres-url URL] [--no-postgres]
[--json PATH]``

For each database — SQLite (a temp file, the app's engine settings: WAL,
foreign keys) and PostgreSQL (a fresh database created on the server of
``--postgres-url``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``,
dropped afterwards) — migrated to the app's schema with Alembic:

* setup, not timed: ``N`` contributors' work credits for one job, bulk-inserted
  (contributor ``i`` gets ``1 + i % 97`` work units), and as many for a second job;
* ``post_reward``: the timed PROP split of one reward (fee 100 bps, an amount
  far beyond 2^64) — the transfers, ``N`` new contributor accounts and the balances;
* ``post_reward (exists)``: the same reward posted again (read back from the ledger);
* ``post_reward (accounts exist)``: a second job's reward to the same contributors
  (every account is locked, checked and updated rather than created);
* ``audit``, ``balances``, ``work_units_by_contributor``: the reads over it all;
* ``credit_work_many``: ``N`` new work credits for a third job in one call (and
  committed), then ``credit_work_many (exists)``: the same credits again.

The ledger's writers leave the transaction to their caller: each timed
``post_reward`` includes the caller's ``commit()``, as a pool's route does.

Each is timed by the wall clock, with the CPU time of this process (all its
threads) and, for PostgreSQL on this machine, of the server backend serving the
session (``/proc/<pid>/stat``): on a busy machine the CPU times move less than
the wall times.

Each run checks that the shares are exact (they and the fee sum to the amount,
each is ⌊exact⌋ or ⌊exact⌋+1, the balances equal them) and that ``audit()``
is clean. Prints a table and writes JSON (default ``bench/results/ledger.json``).
The acceptance target is ``post_reward`` under 2 s at 100,000 contributors.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, insert, make_url, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

import accounting  # noqa: E402
from accounting.models import WorkCredit  # noqa: E402
from pool_api.store import migrate  # noqa: E402
from pool_api.store.db import make_engine  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "ledger.json"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_SECONDS = 2.0
JOB_REF = "bench-job"
REWARD_ID = "bench-reward"
#: A second job by the same contributors: its reward finds every account in place.
JOB_REF_2 = "bench-job-2"
REWARD_ID_2 = "bench-reward-2"
#: A third job, credited by ``credit_work_many`` after the rewards (timed).
JOB_REF_3 = "bench-job-3"
#: 12,345.678… tokens of 18 decimals: beyond 2^64 on purpose.
AMOUNT_UNITS = 12_345_678_901_234_567_890_123
FEE_BPS = 100


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _seed_credits(engine: Engine, contributors: int) -> None:
    rows = [
        {
            "id": f"{job}:{i}",
            "contributor_id": i,
            "job_ref": job,
            "work_units": 1 + (i + n) % 97,
            "seq": n * contributors + i + 1,
            "created_at": accounting.models.utcnow(),
        }
        for n, job in enumerate((JOB_REF, JOB_REF_2))
        for i in range(contributors)
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(WorkCredit.__table__), rows[start : start + 10_000])
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('work_credit_seq', :n)"), {"n": len(rows)})
            conn.execute(text("ANALYZE"))


def _backend_pid(session: Session) -> int | None:
    """The PostgreSQL backend process of ``session``'s connection, if it runs on this machine.

    ``None`` on SQLite (in process) and for a server elsewhere (its pid means nothing here).
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    session.commit()
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return pid if comm in ("postgres", "postmaster") else None


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Clock:
    """Wall time, this process's CPU time and the database backend's CPU time of calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.client_cpu_seconds: dict[str, float] = {}
        self.server_cpu_seconds: dict[str, float | None] = {}

    def time(self, name: str, session: Session, fn: Callable[[], Any]) -> Any:
        pid = _backend_pid(session)
        server = _process_cpu_seconds(pid) if pid is not None else 0.0
        client = time.process_time()
        start = time.perf_counter()
        result = fn()
        self.seconds[name] = time.perf_counter() - start
        self.client_cpu_seconds[name] = time.process_time() - client
        self.server_cpu_seconds[name] = (
            _process_cpu_seconds(pid) - server if pid is not None else None
        )
        return result


def _post_and_commit(session: Session, reward_id: str, job_ref: str) -> accounting.RewardPosting:
    """``post_reward`` and the caller's commit (the ledger's writers never commit)."""
    posting = accounting.post_reward(
        session, reward_id=reward_id, job_ref=job_ref, amount_units=AMOUNT_UNITS, fee_bps=FEE_BPS
    )
    session.commit()
    return posting


def _credit_and_commit(session: Session, credits: list[accounting.Credit]) -> list[str]:
    """``credit_work_many`` and the caller's commit."""
    statuses = accounting.credit_work_many(session, credits)
    session.commit()
    return statuses


def bench_database(url: str, contributors: int) -> dict[str, Any]:
    """Migrate the empty database at ``url``, seed it, time the reward path, verify it."""
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        _seed_credits(engine, contributors)
        clock = _Clock()
        with Session(engine) as session:
            posting = clock.time(
                "post_reward", session, lambda: _post_and_commit(session, REWARD_ID, JOB_REF)
            )
        with Session(engine) as session:
            again = clock.time(
                "post_reward (exists)",
                session,
                lambda: _post_and_commit(session, REWARD_ID, JOB_REF),
            )
        with Session(engine) as session:
            second = clock.time(
                "post_reward (accounts exist)",
                session,
                lambda: _post_and_commit(session, REWARD_ID_2, JOB_REF_2),
            )
        with Session(engine) as session:
            problems = clock.time("audit", session, lambda: accounting.audit(session))
            balances = clock.time("balances", session, lambda: accounting.balances(session))
            weights = clock.time(
                "work_units_by_contributor",
                session,
                lambda: accounting.work_units_by_contributor(session, JOB_REF),
            )
            weights_2 = accounting.work_units_by_contributor(session, JOB_REF_2)
        credits = [
            accounting.Credit(f"{JOB_REF_3}:{i}", i, JOB_REF_3, 1 + i % 89)
            for i in range(contributors)
        ]
        with Session(engine) as session:
            created = clock.time(
                "credit_work_many", session, lambda: _credit_and_commit(session, credits)
            )
        with Session(engine) as session:
            existing = clock.time(
                "credit_work_many (exists)", session, lambda: _credit_and_commit(session, credits)
            )
            weights_3 = accounting.work_units_by_contributor(session, JOB_REF_3)
        if set(created) != {"created"} or set(existing) != {"exists"}:
            raise AssertionError("credit_work_many: not all created, then not all existing")
        if weights_3 != {c.contributor_id: c.work_units for c in credits}:
            raise AssertionError("credit_work_many: the work units stored differ")
        times = clock.seconds
        _check_split(posting, weights, contributors)
        _check_split(second, weights_2, contributors)
        _verify(posting, again, problems)
        both = {c: posting.shares.get(c, 0) + second.shares.get(c, 0) for c in weights}
        if balances != {c: units for c, units in both.items() if units}:
            raise AssertionError("the balances differ from the shares of the two rewards")
        return {
            "dialect": engine.dialect.name,
            "contributors": contributors,
            "transfers": len(posting.shares) + (1 if posting.fee_units else 0),
            "seconds": {name: round(t, 4) for name, t in times.items()},
            # CPU time of this process (all its threads) and of the database server's
            # backend (PostgreSQL on this machine; None for SQLite, which runs in process).
            "client_cpu_seconds": {
                name: round(t, 4) for name, t in clock.client_cpu_seconds.items()
            },
            "server_cpu_seconds": {
                name: None if t is None else round(t, 4)
                for name, t in clock.server_cpu_seconds.items()
            },
            "target_seconds": TARGET_SECONDS,
            "post_reward_within_target": times["post_reward"] < TARGET_SECONDS,
            "audit_clean": not problems,
            "exact": True,
        }
    finally:
        engine.dispose()


def _verify(
    posting: accounting.RewardPosting, again: accounting.RewardPosting, problems: list[str]
) -> None:
    if posting.status != "created" or again.status != "exists":
        raise AssertionError(f"statuses {posting.status!r}, {again.status!r}")
    if problems:
        raise AssertionError(f"audit found {len(problems)} problems, first: {problems[0]}")
    if again.shares != posting.shares:
        raise AssertionError("the re-read posting differs from the shares")


def _check_split(
    posting: accounting.RewardPosting, weights: dict[int, int], contributors: int
) -> None:
    """The parts sum to the reward and each share is ⌊exact⌋ or ⌊exact⌋ + 1."""
    if posting.status != "created":
        raise AssertionError(f"status {posting.status!r}")
    if len(weights) != contributors:
        raise AssertionError(f"{len(weights)} weights for {contributors} contributors")
    if posting.fee_units != AMOUNT_UNITS * FEE_BPS // 10_000:
        raise AssertionError(f"fee {posting.fee_units}")
    rest = AMOUNT_UNITS - posting.fee_units
    if sum(posting.shares.values()) + posting.fee_units + posting.held_units != AMOUNT_UNITS:
        raise AssertionError("the parts do not sum to the reward")
    if posting.held_units or sum(posting.shares.values()) != rest:
        raise AssertionError("shares do not sum to the reward less the fee")
    total = sum(weights.values())
    for cid, weight in weights.items():
        floor = rest * weight // total
        if posting.shares.get(cid, 0) - floor not in (0, 1):
            raise AssertionError(f"share of {cid} is {posting.shares.get(cid)}, floor {floor}")


@contextmanager
def fresh_postgres(server_url: str) -> Iterator[str]:
    """A freshly created database on ``server_url``'s server, dropped afterwards."""
    url = make_url(server_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    admin = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"proverpool_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def run(contributors: int, *, postgres_url: str | None = DEFAULT_POSTGRES_URL) -> dict[str, Any]:
    """The whole benchmark: SQLite, then PostgreSQL unless ``postgres_url`` is ``None``."""
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(bench_database(f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}", contributors))
    if postgres_url is not None:
        with fresh_postgres(postgres_url) as url:
            results.append(bench_database(url, contributors))
    return {"machine": machine(), "contributors": contributors, "results": results}


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}",
        f"one PROP reward split among {report['contributors']:,} contributors "
        f"(target: post_reward < {TARGET_SECONDS:g} s)",
        "",
    ]
    names = list(report["results"][0]["seconds"])
    header = f"{'operation':<28}" + "".join(f"{r['dialect']:>14}" for r in report["results"])
    lines += [header, "-" * len(header)]
    for name in names:
        cells = "".join(f"{r['seconds'][name]:>13.3f}s" for r in report["results"])
        lines.append(f"{name:<28}{cells}")
    lines += ["", "CPU seconds, this process + the database server's backend:"]
    for name in names:
        cells = ""
        for r in report["results"]:
            server = r.get("server_cpu_seconds", {}).get(name)
            client = r.get("client_cpu_seconds", {}).get(name)
            cell = "" if client is None else f"{client:.2f}"
            cell += "" if server is None else f" + {server:.2f}"
            cells += f"{cell:>14}"
        lines.append(f"{name:<28}{cells}")
    lines.append(
        f"{'exact split, audit clean':<28}"
        + "".join(
            f"{'yes' if r['exact'] and r['audit_clean'] else 'NO':>14}" for r in report["results"]
        )
    )
    lines.append(
        f"{'post_reward < target':<28}"
        + "".join(
            f"{'yes' if r['post_reward_within_target'] else 'NO':>14}" for r in report["results"]
        )
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contributors", type=int, default=100_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    report = run(args.contributors, postgres_url=None if args.no_postgres else args.postgres_url)
    print(table(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0 if all(r["post_reward_within_target"] for r in report["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The job runner killed as a process (SIGKILL) mid-job, then started again (issue 4, fault 3).

"The job runner (head side) killed mid-job and restarted: unfinished jobs
resume from SQL state and complete; finished chunks are not recomputed or
re-credited."  Here the runner is its own process (``runner_process.py``): the
test process holds the session Ray cluster (a head without CPUs and two worker
nodes), the database, Redis and the API; the runner joins the cluster as its
own Ray driver, with its chunk tasks slowed (``PROVERPOOL_TEST_SLOWDOWN_FACTOR``,
test mode) so that the kill lands after some chunks were recorded and before
the end.  A second runner process then finishes the job.

Every write to a chunk record is logged by a trigger in the database itself,
so "not recomputed" is counted, not inferred: one write per chunk across both
runners, and the records of the first runner are unchanged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from accounting.models import WorkCredit
from pool_api.main import create_app
from pool_api.settings import Settings
from pool_api.store.models import ChunkRecord, Job
from workers import msm, ntt

from pool_client import FINAL_STATUSES, Pool
from ray_cluster import RayCluster
from runner_pool import OPERATOR_TOKEN, SLOWDOWN, msm_body, ntt_body, settings_env

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNNER_SCRIPT = Path(__file__).with_name("runner_process.py")
SLOWDOWN_FACTOR = "10"
"""Each chunk takes ≥ 0.45 s (``workers.cluster.tasks._finish``): the first runner is killed
mid-job."""
STARTUP_TIMEOUT_SECONDS = 90
"""A runner process imports Ray and the kernels, joins the cluster and calibrates the nodes."""

WRITE_LOG_SQLITE = (
    "CREATE TABLE chunk_write_log (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " record_id TEXT NOT NULL, op TEXT NOT NULL)",
    "CREATE TRIGGER chunk_write_insert AFTER INSERT ON chunkrecord BEGIN"
    " INSERT INTO chunk_write_log (record_id, op) VALUES (NEW.id, 'insert'); END",
    "CREATE TRIGGER chunk_write_update AFTER UPDATE ON chunkrecord BEGIN"
    " INSERT INTO chunk_write_log (record_id, op) VALUES (NEW.id, 'update'); END",
)
WRITE_LOG_POSTGRES = (
    "CREATE TABLE chunk_write_log (id BIGSERIAL PRIMARY KEY,"
    " record_id TEXT NOT NULL, op TEXT NOT NULL)",
    "CREATE FUNCTION log_chunk_write() RETURNS trigger AS $$ BEGIN"
    " INSERT INTO chunk_write_log (record_id, op) VALUES (NEW.id, lower(TG_OP));"
    " RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER chunk_write AFTER INSERT OR UPDATE ON chunkrecord"
    " FOR EACH ROW EXECUTE FUNCTION log_chunk_write()",
)


@dataclass
class RunnerProcess:
    process: subprocess.Popen
    log_path: Path
    """The process's stdout and stderr."""


@pytest.fixture
def runner_processes(tmp_path: Path) -> Iterator[Callable[[Settings], RunnerProcess]]:
    """``start(settings)``: a runner process (output in ``tmp_path/runner-N.log``); none
    survives the test (its process group is killed)."""
    started: list[subprocess.Popen] = []

    def start(settings: Settings) -> RunnerProcess:
        env = {
            **os.environ,
            **settings_env(settings),
            SLOWDOWN: SLOWDOWN_FACTOR,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.getenv("PYTHONPATH")])),
        }
        log_path = tmp_path / f"runner-{len(started)}.log"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, str(RUNNER_SCRIPT)],
                cwd=REPO_ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed whole at the end
            )
        started.append(process)
        return RunnerProcess(process, log_path)

    yield start
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


@pytest.fixture
def kill_pool(make_settings, ray_cluster: RayCluster) -> Iterator[Pool]:
    """The API (no runner) in this process, on the test database, with a chunk-write log."""
    settings = make_settings(
        ray_address=ray_cluster.address,
        test_mode=True,
        msm_min_chunk_points=8,
        ntt_min_chunk_elements=16,
        chunks_per_node=8,
        straggler_min_seconds=120,
        runner_lease_seconds=2,  # the killed runner's lease expires soon after the kill
    )
    with TestClient(create_app(settings, start_runner=False)) as client:
        pool = Pool(client, settings, {"Authorization": f"Bearer {OPERATOR_TOKEN}"}, 180)
        engine = pool.state.engine
        statements = WRITE_LOG_SQLITE if engine.dialect.name == "sqlite" else WRITE_LOG_POSTGRES
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
        yield pool


def _wait_for(predicate: Callable[[], bool], runner: RunnerProcess, timeout_seconds: float) -> None:
    """Poll ``predicate`` while ``runner`` lives; its output in the error if it died."""
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        if runner.process.poll() is not None:
            output = runner.log_path.read_text(errors="replace")
            code = runner.process.returncode
            raise AssertionError(f"runner exited with {code}:\n{output[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def _job(engine: Engine, job_id: str) -> Job:
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _records(engine: Engine, job_id: str) -> dict[str, tuple]:
    """Each record's id → everything a recomputation would change."""
    with Session(engine) as session:
        rows = session.exec(select(ChunkRecord).where(ChunkRecord.job_id == job_id)).all()
    return {
        r.id: (
            r.chunk_index,
            r.phase,
            r.ray_node_id,
            r.contributor_id,
            r.work_units,
            r.duration_seconds,
            r.finished_at,
            r.verification,
            r.result_sha256,
        )
        for r in rows
    }


def _writes(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT record_id, op FROM chunk_write_log ORDER BY id"))
        return [(record_id, op) for record_id, op in rows]


def _credits(engine: Engine, job_id: str) -> list[WorkCredit]:
    with Session(engine) as session:
        return list(session.exec(select(WorkCredit).where(WorkCredit.job_ref == job_id)).all())


def _recorded_before_end(engine: Engine, job_id: str, phase: str, at_least: int) -> bool:
    job = _job(engine, job_id)
    records = _records(engine, job_id).values()
    return (
        job.status == "running"
        and job.chunks_total > 0
        and sum(1 for r in records if r[1] == phase) >= at_least
    )


def _kill_mid_job_and_resume(
    pool: Pool,
    start_runner: Callable[[Settings], RunnerProcess],
    node_ids: list[str],
    body: dict,
    kill_phase: str,
) -> dict:
    """Run ``body`` on a runner process, SIGKILL it once ``kill_phase`` has 2 chunks recorded,
    finish on a second runner process; check that nothing recorded was written or credited
    twice.  Returns the finished job (HTTP)."""
    engine = pool.state.engine
    contributors = [
        pool.add_contributor(name, node_id)
        for name, node_id in zip(("alice", "bob"), node_ids, strict=True)
    ]
    job_id = pool.submit(body)

    first = start_runner(pool.settings)
    _wait_for(
        lambda: _recorded_before_end(engine, job_id, kill_phase, 2),
        first,
        STARTUP_TIMEOUT_SECONDS,
    )
    os.kill(first.process.pid, signal.SIGKILL)
    assert first.process.wait(30) == -signal.SIGKILL

    before = _records(engine, job_id)
    job = _job(engine, job_id)
    plan_json = job.plan_json
    assert job.status == "running"  # left as it was: nothing ran on the way out
    assert plan_json and 2 <= len(before) < job.chunks_total
    assert sorted(_writes(engine)) == sorted((record_id, "insert") for record_id in before)
    assert _credits(engine, job_id) == []  # credit comes only at the job's end

    second = start_runner(pool.settings)
    _wait_for(
        lambda: _job(engine, job_id).status in FINAL_STATUSES, second, STARTUP_TIMEOUT_SECONDS
    )
    done = pool.wait(job_id)
    assert done["status"] == "done", done

    after = _records(engine, job_id)
    job = _job(engine, job_id)
    assert job.plan_json == plan_json  # the resumed job used the stored plan
    assert len(after) == job.chunks_total == job.chunks_done
    assert {k: after[k] for k in before} == before  # finished chunks were not recomputed
    writes = _writes(engine)
    assert [op for _, op in writes] == ["insert"] * job.chunks_total  # one write per chunk
    assert sorted(record_id for record_id, _ in writes) == sorted(after)

    # Credited exactly once per verified chunk, to its producer; nothing else.
    credits = _credits(engine, job_id)
    assert sorted(c.id for c in credits) == sorted(after)
    assert {c.id: (c.contributor_id, c.work_units) for c in credits} == {
        k: (r[3], r[4]) for k, r in after.items()
    }
    assert {c.contributor_id for c in credits} == {c["id"] for c in contributors}
    assert len({c.seq for c in credits}) == len(credits)
    return done


def test_msm_runner_process_sigkilled_mid_job_resumes(kill_pool, runner_processes, ray_cluster):
    body, points, scalars = msm_body(128, seed=41)  # 16 chunks of 8 points
    job = _kill_mid_job_and_resume(
        kill_pool, runner_processes, ray_cluster.worker_node_ids, body, "msm"
    )
    assert job["result"] == [str(v) for v in msm("bn254_g1", points, scalars)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the MSM test covers PostgreSQL
def test_ntt_runner_process_sigkilled_in_row_phase_resumes(
    kill_pool, runner_processes, ray_cluster
):
    body, values = ntt_body(1 << 10, seed=42)  # 16 column slices, then 16 row slices
    job = _kill_mid_job_and_resume(
        kill_pool, runner_processes, ray_cluster.worker_node_ids, body, "ntt_rows"
    )
    assert job["result"] == [str(v) for v in ntt("bn254_fr", values)]

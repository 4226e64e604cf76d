"""A cancel racing a job's finish: a cancelled job has no work credits, a done one one per chunk.

``ChunkStore.credit_and_finish`` flips the job ``running → done`` and credits its chunk
records in one transaction; ``POST /v1/jobs/{id}/cancel`` turns it ``cancelled`` with
one conditional ``UPDATE``.  The interleaving is forced, not hoped for: an SQLAlchemy
``before_cursor_execute`` listener on the pool's engine stops the finishing thread at a
chosen statement and runs the cancel through the real route from another thread there:

* ``before-flip`` — just before the finisher's ``UPDATE job`` (the old code had
  committed every credit by then): the cancel runs to its end, so the job must end
  ``cancelled`` with no credit at all;
* ``after-flip`` — just before the finisher reads the chunk records, i.e. after its
  flip and before its credits: the cancel is started and the finisher goes on only
  once the cancel is blocked on the finisher's transaction (PostgreSQL: a backend
  waits on a lock) or has issued its ``UPDATE`` (SQLite: it then waits for the write
  lock) or has finished.  Whatever it then meets, the answer must agree with the end
  state: 409 and a ``done`` job credited once per record, or 200 and no credit.

Both on SQLite and on PostgreSQL, with the real API (no runner) and Redis.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session, select

from accounting.models import WorkCredit
from pool_api.store.chunks import ChunkStore
from pool_api.store.models import ChunkRecord, Job, JobStatus

RESULT_SHA256 = "f" * 64
CHUNKS = 6
WAIT_SECONDS = 30


def running_job(engine: Engine, contributors: list[int], job_id: str) -> dict[str, int]:
    """A ``running`` job with one chunk record per chunk; ``{record id: contributor}``."""
    owners = {f"{job_id}:{i}": contributors[i % len(contributors)] for i in range(CHUNKS)}
    with Session(engine) as session:
        session.add(
            Job(
                id=job_id,
                kind="msm",
                curve="bn254_g1",
                size=64,
                input_sha256="0" * 64,
                status=JobStatus.running,
                chunks_total=CHUNKS,
                chunks_done=CHUNKS,
            )
        )
        session.flush()
        for i, (record_id, contributor_id) in enumerate(owners.items()):
            session.add(
                ChunkRecord(
                    id=record_id,
                    job_id=job_id,
                    chunk_index=i,
                    phase="msm",
                    ray_node_id=f"node-{contributor_id}",
                    contributor_id=contributor_id,
                    work_units=100 + i,
                    duration_seconds=0.1,
                )
            )
        session.commit()
    return owners


def job_state(engine: Engine, job_id: str) -> tuple[JobStatus, list[tuple[str, int, int]]]:
    """The job's status and its work credits ``(id, contributor, units)``, as committed."""
    with Session(engine) as session:
        status = session.get(Job, job_id).status
        credits = session.exec(
            select(WorkCredit.id, WorkCredit.contributor_id, WorkCredit.work_units)
            .where(WorkCredit.job_ref == job_id)
            .order_by(WorkCredit.id)
        ).all()
    return JobStatus(status), [tuple(row) for row in credits]


def _blocked_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def _wait(condition, what: str) -> None:
    """Poll ``condition`` (an observed state, not a guess at timing) until it holds."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.mark.parametrize("moment", ["before-flip", "after-flip"])
def test_a_cancel_racing_the_finish_leaves_no_credit_on_a_cancelled_job(api, moment):
    engine = api.state.engine
    store = ChunkStore(engine, api.state.blobs)
    contributors = [api.add_contributor(f"racer-{i}")["id"] for i in range(2)]
    job_id = f"race{moment.replace('-', '')}"
    owners = running_job(engine, contributors, job_id)
    records = {
        record_id: (owners[record_id], 100 + i) for i, record_id in enumerate(sorted(owners))
    }

    finisher = threading.get_ident()
    answer: dict[str, object] = {}
    cancel_writing = threading.Event()
    reached = threading.Event()

    def cancel() -> None:
        answer["response"] = api.client.post(f"/v1/jobs/{job_id}/cancel", headers=api.operator)

    canceller = threading.Thread(target=cancel)

    def at_statement(conn, cursor, statement, parameters, context, executemany) -> None:
        sql = " ".join(statement.split()).lower()
        if threading.get_ident() != finisher:
            if sql.startswith("update job "):
                cancel_writing.set()
            return
        if reached.is_set():
            return
        if moment == "before-flip" and sql.startswith("update job "):
            reached.set()
            canceller.start()
            canceller.join(WAIT_SECONDS)
            assert not canceller.is_alive(), "the cancel did not finish before the flip"
        elif moment == "after-flip" and " from chunkrecord" in sql:
            reached.set()
            canceller.start()
            if engine.dialect.name == "postgresql":
                _wait(
                    lambda: not canceller.is_alive() or _blocked_on_a_lock(engine),
                    "the cancel to block on the finishing transaction",
                )
            else:
                _wait(
                    lambda: not canceller.is_alive() or cancel_writing.is_set(),
                    "the cancel to issue its UPDATE",
                )

    event.listen(engine, "before_cursor_execute", at_statement)
    try:
        units, done = store.credit_and_finish(job_id, set(), RESULT_SHA256)
    finally:
        event.remove(engine, "before_cursor_execute", at_statement)
        if canceller.is_alive() or canceller.ident is not None:
            canceller.join(WAIT_SECONDS)
    assert reached.is_set(), "the finisher never reached the chosen statement"
    assert not canceller.is_alive()

    status, credits = job_state(engine, job_id)
    response = answer["response"]
    if status == JobStatus.cancelled:
        assert credits == [], "a cancelled job was credited"
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        assert (units, done) == (0, False)
    else:
        assert status == JobStatus.done
        assert credits == [(rid, cid, units_) for rid, (cid, units_) in records.items()]
        assert response.status_code == 409, response.text
        assert (units, done) == (sum(u for _, u in records.values()), True)
    if moment == "before-flip":
        assert status == JobStatus.cancelled  # the cancel committed first
    # PPLNS counts every credit of the ledger: none may belong to a cancelled job.
    with Session(engine) as session:
        assert len(session.exec(select(WorkCredit)).all()) == len(credits)


def test_finish_credits_once_and_skips_struck_contributors(api):
    engine = api.state.engine
    store = ChunkStore(engine, api.state.blobs)
    alice, bob = (api.add_contributor(name)["id"] for name in ("alice", "bob"))
    owners = running_job(engine, [alice, bob], "once")
    units, done = store.credit_and_finish("once", {bob}, RESULT_SHA256)
    status, credits = job_state(engine, "once")
    assert done and status == JobStatus.done
    assert [rid for rid, _, _ in credits] == sorted(r for r, c in owners.items() if c == alice)
    assert units == sum(u for _, _, u in credits)
    # Finishing again (a resumed runner) neither flips nor credits anything.
    assert store.credit_and_finish("once", set(), RESULT_SHA256) == (0, False)
    assert job_state(engine, "once") == (status, credits)
    with Session(engine) as session:
        assert session.get(Job, "once").result_sha256 == RESULT_SHA256


@pytest.mark.parametrize("final", [JobStatus.cancelled, JobStatus.failed])
def test_finish_of_a_job_no_longer_running_credits_nothing(api, final):
    engine = api.state.engine
    store = ChunkStore(engine, api.state.blobs)
    cid = api.add_contributor("carol")["id"]
    running_job(engine, [cid], "gone")
    with Session(engine) as session:
        job = session.get(Job, "gone")
        job.status = final
        session.add(job)
        session.commit()
    assert store.credit_and_finish("gone", set(), RESULT_SHA256) == (0, False)
    assert job_state(engine, "gone") == (final, [])

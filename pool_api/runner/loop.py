"""The job runner: claims queued jobs from SQL under the pool's lease and runs them.

One background thread per API process, or a process of its own (``proverpool runner``),
working only while it holds the pool's runner lease (:mod:`pool_api.runner.lease`): with
several processes, one runs the jobs and the others stand by (``docs/architecture.md``
§3, §6).  Each job is run by the executor of its kind (:data:`EXECUTORS`:
:mod:`pool_api.runner.msm`, :mod:`~pool_api.runner.ntt`, :mod:`~pool_api.runner.groth16`)
with a :class:`~pool_api.runner.context.JobContext`.

* **Placement**: chunks go only to alive nodes whose contributor is neither
  banned nor caught in this job (:class:`pool_api.runner.nodes.NodeBook`); a node
  without measured speeds is calibrated first.  The rules for faults,
  stragglers and verification are :mod:`workers.cluster.scheduler`'s.
* **Records**: every accepted chunk is written once (``ChunkRecord``, keyed
  ``<job id>:<chunk index>``) with its value in the blob store, so a resumed
  job skips it.  A chunk computed again (its producer was caught) overwrites
  its record.
* **Credit only after verification, once per job**: when every chunk is in, the
  job turns ``done`` and each record is credited to its producer's contributor in
  the same transaction (:meth:`~pool_api.store.chunks.ChunkStore.credit_and_finish`),
  except contributors struck in this job — they earn nothing for it.
* **Stop and resume**: the runner checks at every chunk boundary whether it
  is stopping or the job was ``cancelled``.  A stopped (or killed) runner
  leaves the job ``running``; the next lease holder requeues it and the resumed run
  uses the stored plan and the stored chunk values.  A cancelled job stays
  cancelled and nothing of it is credited.
* **Outages**: a database error that is an outage (:func:`pool_api.runner.retry.is_transient`:
  locked, unreachable) never fails a job: the write is retried with backoff, or the job
  is run again from its stored plan and chunks once the database answers.  A Ray cluster
  that cannot be reached (:class:`workers.errors.RayUnavailableError`) is logged once and
  retried before any job is claimed.
* **Pipelining**: when a job starts, the next queued one is prepared on a thread of its
  own (:mod:`pool_api.runner.prepare`: a Groth16 witness and its H scalars).
* **Warm start** (``PROVERPOOL_WARM_START``, :mod:`pool_api.runner.warmup`): on taking the
  lease the runner connects Ray and loads the head's kernels; while idle it calibrates every
  node that joined, so the first job pays no cold start.
"""

from __future__ import annotations

import logging
import threading
import traceback

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pool_api.live.events import EventBus
from pool_api.metrics import Metrics
from pool_api.runner.context import JobContext
from pool_api.runner.executor import Executor
from pool_api.runner.groth16 import Groth16Executor
from pool_api.runner.lease import RunnerLease, lease_name
from pool_api.runner.msm import MsmExecutor
from pool_api.runner.nodes import NodeBook
from pool_api.runner.ntt import NttExecutor
from pool_api.runner.prepare import JobPreparer
from pool_api.runner.retry import Backoff, is_transient, retrying
from pool_api.runner.warmup import NodeWarmer, warm_head_kernels
from pool_api.settings import Settings
from pool_api.store.blobs import BlobStore
from pool_api.store.chunks import ChunkStore
from pool_api.store.models import Job, JobStatus, utcnow
from workers.cluster import runtime
from workers.errors import JobInterrupted, RayUnavailableError

log = logging.getLogger(__name__)
RAY_RETRY_SECONDS = 2.0
"""Pause before trying an unreachable Ray cluster again."""

EXECUTORS: dict[str, Executor] = {
    executor.kind: executor for executor in (MsmExecutor(), NttExecutor(), Groth16Executor())
}
"""The executor of each job kind."""


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        blobs: BlobStore,
        events: EventBus,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.blobs = blobs
        self.events = events
        self.metrics = metrics
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.store = ChunkStore(engine, blobs)
        self.lease = RunnerLease(
            events.client,
            lease_name(settings.resolved_database_url),
            settings.runner_lease_seconds,
        )
        self._leased = False
        """Whether this runner works under the lease (its own loop); ``run_job`` alone does not."""
        self._ray_down = False
        """Whether Ray did not answer at the last try (its outage is logged once)."""
        self._warm = settings.warm_start
        """Whether the head's kernels are still to be loaded (:mod:`pool_api.runner.warmup`)."""
        self._node_warmer = NodeWarmer(engine, unregistered_may_work=settings.ray_address is None)
        self.preparer = JobPreparer(blobs)
        """Prepares the next queued job while one runs (:mod:`pool_api.runner.prepare`)."""

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="proverpool-runner", daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        """Whether this runner's loop was started (the process runs, or stands by to run, jobs)."""
        return self._thread is not None

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop at the next chunk boundary; a job in progress stays ``running`` (resumable)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_seconds)
        self.preparer.shutdown()
        self.lease.release()

    def wait(self) -> None:
        """Block until the loop thread ends (after :meth:`stop`)."""
        if self._thread is not None:
            self._thread.join()

    def wake(self) -> None:
        self._wake.set()

    def _requeue_interrupted(self) -> None:
        with Session(self.engine) as session:
            session.execute(
                update(Job)
                .where(col(Job.status) == JobStatus.running)
                .values(status=JobStatus.queued, updated_at=utcnow())
            )
            session.commit()

    def _loop(self) -> None:
        db = Backoff(self._stop)
        requeued = False
        while not self._stop.is_set():
            if not self.lease.held:
                if not self.lease.try_acquire():  # another runner works: stand by
                    self._wake.wait(self.settings.runner_poll_seconds)
                    self._wake.clear()
                    continue
                log.info("this runner holds the pool's lease: it runs the jobs")
                self._leased = True
                requeued = False
            try:
                if not requeued:
                    self._requeue_interrupted()
                    requeued = True
                # Ray is connected (or started) only when there is work, and no job is
                # claimed while it does not answer.
                job_id = self._claim_next() if self._queued() and self._ray_ready() else None
            except Exception as exc:
                if not is_transient(exc):
                    raise
                db.wait("claiming a job", exc)
                continue
            db.recovered("claiming a job")
            if job_id is None:
                self._warm_up()
                self._wake.wait(self.settings.runner_poll_seconds)
                self._wake.clear()
                continue
            self._prepare_next(job_id)
            self.run_job(job_id)

    def _prepare_next(self, running_id: str) -> None:
        """Hand the oldest other queued job to the preparer (best effort)."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                job = session.exec(
                    select(Job)
                    .where(Job.status == JobStatus.queued, Job.id != running_id)
                    .order_by(col(Job.created_at))
                    .limit(1)
                ).first()
                if job is None:
                    return
                session.expunge(job)
        except Exception as exc:
            if not is_transient(exc):
                raise
            return
        self.preparer.ahead(job)

    def _warm_up(self) -> None:
        """Idle time: load the head's kernels once, then warm nodes that joined (module doc).

        Never fails the runner: a warm-up that goes wrong is logged and left to the job."""
        if not self.settings.warm_start or self._stop.is_set():
            return
        if self._warm:  # connects Ray once, at startup; later an idle runner never does
            if not self._ray_ready():
                return
        elif not runtime.connected():
            return
        try:
            if self._warm:
                self._warm = False
                log.info("head kernels loaded in %.1f s (warm start)", warm_head_kernels())
            if not self._stop.is_set():
                self._node_warmer.warm_new_nodes()
        except Exception as exc:
            if not is_transient(exc):
                log.warning("warm start: %s", exc)

    def _queued(self) -> bool:
        with Session(self.engine) as session:
            return (
                session.exec(select(Job.id).where(Job.status == JobStatus.queued)).first()
                is not None
            )

    def _ray_ready(self) -> bool:
        """Whether this process's Ray driver is connected (connecting now, bounded); if Ray
        does not answer, one log line per outage and a pause: no job is claimed."""
        try:
            runtime.ensure_ray(self.settings.ray_address, self.settings.ray_connect_timeout_seconds)
        except RayUnavailableError as exc:
            if not self._ray_down:
                log.error("%s; no job is started until Ray answers", exc)
            self._ray_down = True
            self._stop.wait(RAY_RETRY_SECONDS)
            return False
        if self._ray_down:
            log.info("Ray answers again: the runner resumes")
        self._ray_down = False
        return True

    def _claim_next(self) -> str | None:
        """The oldest queued job, now ``running``: claimed atomically (``queued`` → ``running``
        in one conditional UPDATE), so no two runners ever take the same job."""
        with Session(self.engine) as session:
            candidates = session.exec(
                select(Job.id)
                .where(Job.status == JobStatus.queued)
                .order_by(Job.created_at)
                .limit(8)
            ).all()
            for job_id in candidates:
                claimed = session.execute(
                    update(Job)
                    .where(col(Job.id) == job_id, col(Job.status) == JobStatus.queued)
                    .values(status=JobStatus.running, updated_at=utcnow())
                )
                session.commit()
                if claimed.rowcount == 1:
                    return job_id
            return None

    def _status(self, job_id: str) -> JobStatus | None:
        with Session(self.engine) as session:
            job = session.get(Job, job_id)
            return None if job is None else job.status

    def _should_continue(self, job_id: str) -> bool:
        if self._stop.is_set() or (self._leased and not self.lease.held):
            return False
        try:
            return self._status(job_id) == JobStatus.running
        except Exception as exc:
            if not is_transient(exc):
                raise
            return True  # the database is down: keep computing, the next write waits for it

    # --- one job ---------------------------------------------------------------
    def context(self, job_id: str) -> JobContext:
        """A fresh context for running job ``job_id`` (its row read now)."""
        with Session(self.engine, expire_on_commit=False) as session:
            job = session.get(Job, job_id)
            if job is None:
                raise LookupError(f"no job {job_id!r}")
            session.expunge(job)
        return JobContext(
            job=job,
            settings=self.settings,
            engine=self.engine,
            blobs=self.blobs,
            store=self.store,
            book=NodeBook(
                self.engine, job_id, unregistered_may_work=self.settings.ray_address is None
            ),
            events=self.events,
            metrics=self.metrics,
            should_continue=lambda: self._should_continue(job_id),
            stopping=self._stop,
            preparer=self.preparer,
        )

    def run_job(self, job_id: str) -> None:
        """Run one claimed (``running``) job to ``done``, ``failed`` or a chunk boundary.

        A database outage on the way does not fail it: once the database answers the job
        runs again from its stored plan and chunks (:mod:`pool_api.runner.retry`)."""
        db = Backoff(self._stop)
        while not self._run_once(job_id, db):
            pass

    def _run_once(self, job_id: str, db: Backoff) -> bool:
        """One try at ``run_job``; ``False`` if a database outage cut it short (and it is
        worth trying again: the runner is not stopping)."""
        kind = "unknown"
        try:
            runtime.ensure_ray(self.settings.ray_address, self.settings.ray_connect_timeout_seconds)
            ctx = self.context(job_id)
            kind = ctx.job.kind
            executor = EXECUTORS.get(kind)
            if executor is None:
                raise ValueError(f"no executor for job kind {kind!r}")
            try:
                result = executor.run(ctx)
                ctx.flush_records()  # every accepted chunk is written before any credit
            finally:
                ctx.close()
            finished = self._credit_and_finish(ctx, self.blobs.put(result))
        except JobInterrupted:
            log.info("job %s stopped at a chunk boundary", job_id)
            return True
        except Exception as exc:
            if is_transient(exc):
                return not db.wait(f"job {job_id}", exc)  # stopping: the job stays running
            log.error("job %s failed: %s", job_id, traceback.format_exc())
            error = f"{type(exc).__name__}: {exc}"
            try:
                if retrying(lambda: self._fail(job_id, error), "failing a job", self._stop):
                    self.metrics.jobs_finished.labels(kind, "failed").inc()
            except JobInterrupted:
                pass  # stopping while the database is down: the job stays running
            return True
        db.recovered(f"job {job_id}")
        if finished:
            self.metrics.jobs_finished.labels(kind, "done").inc()
        return True

    def _credit_and_finish(self, ctx: JobContext, result_sha256: str) -> bool:
        """Mark the job done and credit its verified chunks, in one transaction."""
        credited, flipped = self.store.credit_and_finish(
            ctx.job.id, ctx.book.struck_contributors(), result_sha256
        )
        if credited:
            self.metrics.work_units.labels(ctx.job.kind).inc(credited)
        if not flipped:
            return False
        with Session(self.engine) as session:
            job = session.get(Job, ctx.job.id)
            assert job is not None
            done, total = job.chunks_done, job.chunks_total
        self.events.publish(
            "job.progress", job_id=ctx.job.id, chunks_done=done, chunks_total=total, status="done"
        )
        return True

    def _fail(self, job_id: str, error: str) -> bool:
        """Mark a running job failed (one conditional UPDATE: a cancelled job stays cancelled)."""
        with Session(self.engine) as session:
            failed = session.execute(
                update(Job)
                .where(col(Job.id) == job_id, col(Job.status) == JobStatus.running)
                .values(status=JobStatus.failed, error=error, updated_at=utcnow())
            ).rowcount
            session.commit()
            if not failed:
                return False
            job = session.get(Job, job_id)
            done, total = (job.chunks_done, job.chunks_total) if job else (0, 0)
        self.events.publish(
            "job.progress", job_id=job_id, chunks_done=done, chunks_total=total, status="failed"
        )
        return True

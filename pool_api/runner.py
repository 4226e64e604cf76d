"""The job runner: takes queued jobs from SQL, runs them on Ray, records and credits chunks.

One background thread per application.  Job state lives in SQL, so a head
that restarts puts interrupted (``running``) jobs back in the queue; their
chunk records and work credits are idempotent by ``<job id>:<chunk index>``
and the chunk plan is stored with the job, so nothing is credited twice.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Callable

import numpy as np
import ray
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import accounting
from pool_api.blobs import BlobStore
from pool_api.codec import decode_field_elements, decode_msm_input, encode_field_elements
from pool_api.events import EventBus
from pool_api.metrics import Metrics
from pool_api.models import ChunkRecord, Job, JobStatus, Node, utcnow
from pool_api.settings import Settings
from workers import dispatch
from workers.encoding import ints_to_limbs
from workers.plan import Chunk, four_step_shape, plan_msm, plan_ntt
from workers.tasks import ChunkOutput

log = logging.getLogger(__name__)


def ensure_ray(settings: Settings) -> None:
    """Connect to ``PROVERPOOL_RAY_ADDRESS`` or start a local Ray, once per process."""
    if ray.is_initialized():
        return
    ray.init(
        address=settings.ray_address or None,
        include_dashboard=False,
        ignore_reinit_error=True,
        log_to_driver=False,
        configure_logging=False,
    )


def live_worker_nodes() -> int:
    """Alive Ray nodes that can run a chunk (have CPUs)."""
    return sum(1 for n in ray.nodes() if n.get("Alive") and n["Resources"].get("CPU", 0) > 0)


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

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        self._requeue_interrupted()
        self._thread = threading.Thread(target=self._loop, name="proverpool-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout_seconds: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_seconds)

    def wake(self) -> None:
        self._wake.set()

    def _requeue_interrupted(self) -> None:
        with Session(self.engine) as session:
            for job in session.exec(select(Job).where(Job.status == JobStatus.running)):
                job.status = JobStatus.queued
                session.add(job)
            session.commit()

    def _loop(self) -> None:
        while not self._stop.is_set():
            job_id = self._claim_next()
            if job_id is None:
                self._wake.wait(self.settings.runner_poll_seconds)
                self._wake.clear()
                continue
            self.run_job(job_id)

    def _claim_next(self) -> str | None:
        with Session(self.engine) as session:
            job = session.exec(
                select(Job).where(Job.status == JobStatus.queued).order_by(Job.created_at)
            ).first()
            if job is None:
                return None
            job.status = JobStatus.running
            job.updated_at = utcnow()
            session.add(job)
            session.commit()
            return job.id

    # --- one job ---------------------------------------------------------------
    def run_job(self, job_id: str) -> None:
        with Session(self.engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            kind = job.kind
        try:
            ensure_ray(self.settings)
            result = self._compute(job)
        except Exception as exc:  # a failed job is recorded, the runner goes on
            log.error("job %s failed: %s", job_id, traceback.format_exc())
            self._finish(job_id, JobStatus.failed, error=f"{type(exc).__name__}: {exc}")
            self.metrics.jobs_finished.labels(kind, "failed").inc()
            return
        self._finish(job_id, JobStatus.done, result_sha256=self.blobs.put(result))
        self.metrics.jobs_finished.labels(kind, "done").inc()

    def _plan_counts(self, job: Job) -> dict[str, int]:
        """Chunk counts: chosen once from the live nodes, stored so a resumed job keeps them."""
        if job.plan_json:
            return json.loads(job.plan_json)
        counts = self._choose_counts(job)
        with Session(self.engine) as session:
            row = session.get(Job, job.id)
            assert row is not None
            row.plan_json = json.dumps(counts)
            session.add(row)
            session.commit()
        return counts

    def _choose_counts(self, job: Job) -> dict[str, int]:
        nodes = max(1, live_worker_nodes())
        wanted = nodes * self.settings.chunks_per_node
        if job.kind == "msm":
            by_size = max(1, job.size // self.settings.msm_min_chunk_points)
            return {"chunks": min(wanted, by_size)}
        n1, n2 = four_step_shape(job.size)
        per_slice = self.settings.ntt_min_chunk_elements
        return {
            "column_slices": min(wanted, max(1, job.size // per_slice), n2),
            "row_slices": min(wanted, max(1, job.size // per_slice), n1),
        }

    def _compute(self, job: Job) -> bytes:
        data = self.blobs.get(job.input_sha256)
        counts = self._plan_counts(job)
        if job.kind == "msm":
            assert job.curve is not None
            bases, scalars = decode_msm_input(data, job.size)
            chunks = plan_msm(job.curve, job.size, counts["chunks"])
            self._update_job(job.id, chunks_total=len(chunks), chunks_done=0)
            on_chunk = self._on_chunk_callback(job.id, "msm")
            if job.size == 0:
                on_chunk = None
                self._update_job(job.id, chunks_done=len(chunks))
            point = dispatch.run_msm(
                job.curve,
                bases,
                scalars,
                chunks,
                max_in_flight=self.settings.max_in_flight,
                on_chunk=on_chunk,
            )
            return encode_field_elements(ints_to_limbs(list(point), 4))
        assert job.field is not None
        values = decode_field_elements(data)
        plan = plan_ntt(job.field, job.size, counts["column_slices"], counts["row_slices"])
        self._update_job(job.id, chunks_total=len(plan.chunks), chunks_done=0)
        out: np.ndarray = dispatch.run_ntt(
            job.field,
            values,
            plan,
            inverse=job.inverse,
            max_in_flight=self.settings.max_in_flight,
            on_chunk=self._on_chunk_callback(job.id, "ntt"),
        )
        return encode_field_elements(out)

    def _update_job(self, job_id: str, **changes: object) -> None:
        """Apply ``changes`` to the job row and publish its progress."""
        with Session(self.engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            for name, value in changes.items():
                setattr(job, name, value)
            job.updated_at = utcnow()
            session.add(job)
            session.commit()
            done, total, status = job.chunks_done, job.chunks_total, job.status.value
        self.events.publish(
            "job.progress", job_id=job_id, chunks_done=done, chunks_total=total, status=status
        )

    def _on_chunk_callback(self, job_id: str, kind: str) -> Callable[[Chunk, ChunkOutput], None]:
        def on_chunk(chunk: Chunk, output: ChunkOutput) -> None:
            self.record_chunk(job_id, kind, chunk, output)

        return on_chunk

    def record_chunk(self, job_id: str, kind: str, chunk: Chunk, output: ChunkOutput) -> None:
        """Record a finished chunk once and credit the contributor of the node that ran it."""
        record_id = f"{job_id}:{chunk.index}"
        with Session(self.engine) as session:
            node = session.get(Node, output.node_id)
            contributor_id = node.contributor_id if node is not None else None
            if contributor_id is not None:
                accounting.credit_work(
                    session,
                    credit_id=record_id,
                    contributor_id=contributor_id,
                    job_ref=job_id,
                    work_units=chunk.work_units,
                )
                self.metrics.work_units.labels(kind).inc(chunk.work_units)
            if session.get(ChunkRecord, record_id) is None:
                session.add(
                    ChunkRecord(
                        id=record_id,
                        job_id=job_id,
                        chunk_index=chunk.index,
                        phase=chunk.phase,
                        ray_node_id=output.node_id,
                        contributor_id=contributor_id,
                        work_units=chunk.work_units,
                        duration_seconds=output.duration_seconds,
                    )
                )
            job = session.get(Job, job_id)
            assert job is not None
            job.chunks_done = min(job.chunks_total, job.chunks_done + 1)
            job.updated_at = utcnow()
            session.add(job)
            session.commit()
            done, total = job.chunks_done, job.chunks_total
        self.metrics.chunk_duration.labels(kind, "cpu").observe(output.duration_seconds)
        self.events.publish(
            "job.progress", job_id=job_id, chunks_done=done, chunks_total=total, status="running"
        )

    def _finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result_sha256: str | None = None,
        error: str | None = None,
    ) -> None:
        self._update_job(job_id, status=status, result_sha256=result_sha256, error=error)

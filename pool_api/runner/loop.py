"""The job runner: takes queued jobs from SQL, runs them on Ray, verifies, records, credits.

One background thread per application (docs/architecture.md §3, §6), working only while it
holds the pool's runner lease (:mod:`pool_api.runner.lease`): with several API
processes, one runs the jobs and the others stand by.

* **Placement**: chunks go only to alive nodes whose contributor is neither
  banned nor caught in this job (:class:`pool_api.runner.nodes.NodeBook`); a node
  without measured speeds is calibrated first.  The rules for faults,
  stragglers and verification are :mod:`workers.cluster.scheduler`'s.
* **Records**: every accepted chunk is written once (``ChunkRecord``, keyed
  ``<job id>:<chunk index>``) with its value in the blob store, so a resumed
  job skips it.  A chunk computed again (its producer was caught) overwrites
  its record.
* **Credit only after verification, once per job**: when every chunk is in,
  each record is credited to its producer's contributor
  (``accounting.credit_work`` with the record id as the key, idempotent), except
  contributors struck in this job — they earn nothing for it.
* **Stop and resume**: the runner checks at every chunk boundary whether it
  is stopping or the job was ``cancelled``.  A stopped (or killed) runner
  leaves the job ``running``; the next start requeues it and the resumed run
  uses the stored plan and the stored chunk values.  A cancelled job stays
  cancelled and nothing of it is credited.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import traceback

import numpy as np
import ray
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pool_api.codec import decode_field_elements, decode_msm_input, encode_field_elements
from pool_api.live.events import EventBus
from pool_api.metrics import Metrics
from pool_api.runner.groth16 import run_groth16
from pool_api.runner.lease import RunnerLease, lease_name
from pool_api.runner.nodes import NodeBook
from pool_api.settings import Settings
from pool_api.store.blobs import BlobStore
from pool_api.store.chunks import ChunkStore
from pool_api.store.models import Job, JobStatus, utcnow
from workers.cluster import dispatch, tasks, verify
from workers.cluster.calibration import gpu_key
from workers.cluster.plan import Chunk, four_step_shape, plan_msm, plan_ntt
from workers.cluster.scheduler import Policy
from workers.cluster.tasks import ChunkOutput
from workers.codec import binary
from workers.errors import JobInterrupted
from workers.gpu import driver
from workers.params import CURVES

log = logging.getLogger(__name__)
CALIBRATION_FIELD = "bn254_fr"
SAME_SPEED = (0.8, 1.25)
"""Nodes whose speeds are within this ratio of the median get equal MSM chunks."""
CALIBRATION_CURVE = "bn254_g1"


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


def _placement(counts: dict, phases: list[list[Chunk]]) -> tuple[dict[int, str], set[int]]:
    """Where a speed-sized plan's chunks go: chunk index → the node it was sized for, and the
    chunks sized for a GPU slot.  Position ``i`` of every phase is slot position ``i`` of
    :meth:`JobRunner._sized_for_slots` (a phase shorter than the slots drops the rest)."""
    nodes: list[str] = counts.get("nodes", [])
    gpu_positions = set(counts.get("gpu", []))
    preferred: dict[int, str] = {}
    gpu_chunks: set[int] = set()
    for phase in phases:
        for i, chunk in enumerate(phase[: len(nodes)]):
            preferred[chunk.index] = nodes[i]
            if i in gpu_positions:
                gpu_chunks.add(chunk.index)
    return preferred, gpu_chunks


def live_worker_nodes() -> int:
    """Alive Ray nodes that can run a chunk (have CPUs)."""
    return len(dispatch.alive_cpu_nodes())


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
        self._rng = random.SystemRandom()
        self.store = ChunkStore(engine, blobs)
        self.lease = RunnerLease(
            events.client,
            lease_name(settings.resolved_database_url),
            settings.runner_lease_seconds,
        )
        self._leased = False
        """Whether this runner works under the lease (its own loop); ``run_job`` alone does not."""

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="proverpool-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop at the next chunk boundary; a job in progress stays ``running`` (resumable)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_seconds)
        self.lease.release()

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
            if not self.lease.held:
                if not self.lease.try_acquire():  # another runner works: stand by
                    self._wake.wait(self.settings.runner_poll_seconds)
                    self._wake.clear()
                    continue
                log.info("this runner holds the pool's lease: it runs the jobs")
                self._leased = True
                self._requeue_interrupted()
            job_id = self._claim_next()
            if job_id is None:
                self._wake.wait(self.settings.runner_poll_seconds)
                self._wake.clear()
                continue
            self.run_job(job_id)

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
        return self._status(job_id) == JobStatus.running

    # --- one job ---------------------------------------------------------------
    def run_job(self, job_id: str) -> None:
        with Session(self.engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            kind = job.kind
        try:
            ensure_ray(self.settings)
            book = NodeBook(self.engine, job_id)
            result = self._compute(job, book)
        except JobInterrupted:
            log.info("job %s stopped at a chunk boundary (%s)", job_id, self._status(job_id))
            return
        except Exception as exc:  # a failed job is recorded, the runner goes on
            log.error("job %s failed: %s", job_id, traceback.format_exc())
            if self._finish(job_id, JobStatus.failed, error=f"{type(exc).__name__}: {exc}"):
                self.metrics.jobs_finished.labels(kind, "failed").inc()
            return
        if self._credit_and_finish(job_id, kind, book, self.blobs.put(result)):
            self.metrics.jobs_finished.labels(kind, "done").inc()

    def _plan_counts(self, job: Job, eligible: dict[str, int], book: NodeBook) -> dict:
        """Chunk counts (and MSM sizes by node speed): chosen once, stored for a resumed job."""
        if job.plan_json:
            return json.loads(job.plan_json)
        counts = self._choose_counts(job, eligible, book)
        self._update_job(job.id, plan_json=json.dumps(counts))
        return counts

    def _choose_counts(self, job: Job, eligible: dict[str, int], book: NodeBook) -> dict:
        """``chunks_per_node`` chunks per slot, sized ∝ the slot's measured speed.

        MSM chunks and both phases' NTT slices get one chunk per slot with a
        weight from the node's speed for that kernel (``weights``, the node each
        was sized for in ``nodes``, and in ``gpu`` the positions sized for a GPU
        slot); without speeds, or with more slots than the job has room for,
        equal chunks.
        """
        wanted = max(1, sum(eligible.values())) * self.settings.chunks_per_node
        if job.kind == "msm":
            assert job.curve is not None
            by_size = max(1, job.size // self.settings.msm_min_chunk_points)
            sized = self._sized_for_slots(eligible, book, ("msm", job.curve), by_size)
            return sized or {"chunks": min(wanted, by_size)}
        assert job.field is not None
        n1, n2 = four_step_shape(job.size)
        by_size = max(1, job.size // self.settings.ntt_min_chunk_elements)
        sized = self._sized_for_slots(eligible, book, ("ntt", job.field), min(by_size, n1))
        return sized or {
            "column_slices": min(wanted, by_size, n2),
            "row_slices": min(wanted, by_size, n1),
        }

    def _sized_for_slots(
        self, eligible: dict[str, int], book: NodeBook, kernel: tuple[str, str], most_chunks: int
    ) -> dict | None:
        """One chunk per slot and round, weighted by the slot's speed, or ``None``.

        A node offers one slot per CPU; on a node with GPUs, when the GPU backend
        covers the kernel and the node has a measured GPU speed, the first slot
        per device is a GPU slot (its chunks run there, sized by the GPU's
        speed) and the rest CPU slots.  Rounds come one after another, so each
        node's first chunks fill all its slots.
        """
        kind, name = kernel
        on_gpu = driver.supported(kind, name)
        nodes: list[str] = []
        weights: list[float] = []
        gpu_positions: list[int] = []
        for node_id in sorted(eligible):
            speeds = book.speeds.get(node_id, {})
            gpu_speed = speeds.get(gpu_key(kind)) if on_gpu else None
            gpu_slots = min(tasks.node_gpus(node_id), eligible[node_id]) if gpu_speed else 0
            for _ in range(self.settings.chunks_per_node):
                for slot in range(eligible[node_id]):
                    if slot < gpu_slots:
                        gpu_positions.append(len(nodes))
                    nodes.append(node_id)
                    weights.append((gpu_speed if slot < gpu_slots else speeds.get(kind)) or 0.0)
        known = [w for w in weights if w > 0]
        if not nodes or len(nodes) > most_chunks or not known:
            return None
        typical = sorted(known)[len(known) // 2]
        weights = [(w or typical) / typical for w in weights]
        if all(SAME_SPEED[0] <= w <= SAME_SPEED[1] for w in weights):
            weights = [1.0] * len(weights)  # calibration noise, not different machines
        return {"chunks": len(nodes), "weights": weights, "nodes": nodes, "gpu": gpu_positions}

    def _policy(
        self,
        job: Job,
        book: NodeBook,
        kind: str,
        chunks: list[Chunk],
        preferred: dict[int, str] | None = None,
        gpu_chunks: set[int] = frozenset(),
    ) -> Policy:
        audit: set[int] = set()
        if kind == "msm":
            audit = verify.audit_sample(
                [c.index for c in chunks], self.settings.audit_rate, self._rng
            )

        def on_cheat(node_id: str, chunk: Chunk) -> None:
            reason = "msm_audit" if kind == "msm" else "ntt_check"
            log.warning(
                "job %s chunk %s: node %s caught (%s)", job.id, chunk.index, node_id, reason
            )
            book.strike(node_id, chunk.index, reason, self.settings.max_strikes)
            self.metrics.verification_failures.labels(kind).inc()

        def expected(chunk: Chunk, node_id: str) -> float | None:
            on_gpu = chunk.index in gpu_chunks and tasks.node_gpus(node_id) >= 1
            return book.expected_seconds(
                gpu_key(kind) if on_gpu else kind, node_id, chunk.work_units
            )

        return Policy(
            nodes=lambda: book.eligible(dispatch.alive_cpu_nodes()),
            owner_of=book.owner_of,
            max_in_flight=self.settings.max_in_flight,
            max_attempts=self.settings.max_chunk_attempts,
            audit=audit,
            preferred=preferred or {},
            expected_seconds=expected,
            straggler_factor=self.settings.straggler_factor,
            straggler_min_seconds=self.settings.straggler_min_seconds,
            on_accept=lambda c, out, how: self.record_chunk(job.id, kind, c, out, how, book),
            on_cheat=on_cheat,
            should_continue=lambda: self._should_continue(job.id),
        )

    def _compute(self, job: Job, book: NodeBook) -> bytes:
        if job.kind == "groth16":
            return run_groth16(self, job, book)  # five MSMs across the nodes, then a pairing check
        data = self.blobs.get(job.input_sha256)
        eligible = book.eligible(dispatch.alive_cpu_nodes())
        book.calibrate(list(eligible), job.curve or CALIBRATION_CURVE, CALIBRATION_FIELD)
        counts = self._plan_counts(job, eligible, book)
        completed = self.store.completed(job.id, book.struck_contributors())
        test_mode = self.settings.test_mode
        if job.kind == "msm":
            assert job.curve is not None and job.curve in CURVES
            bases, scalars = decode_msm_input(data, job.size, job.curve)
            chunks = plan_msm(job.curve, job.size, counts["chunks"], counts.get("weights"))
            preferred, gpu_chunks = _placement(counts, [chunks])
            self._update_job(job.id, chunks_total=len(chunks), chunks_done=len(completed))
            if job.size == 0:
                return binary.encode_points(job.curve, [CURVES[job.curve].infinity])
            point = dispatch.run_msm(
                job.curve,
                bases,
                scalars,
                chunks,
                policy=self._policy(job, book, "msm", chunks, preferred, gpu_chunks),
                completed=completed,
                test_mode=test_mode,
                gpu_chunks=gpu_chunks,
            )
            # Stored in architecture §4's point encoding (bn254_g1: the same bytes as x, y limbs).
            return binary.encode_points(job.curve, [point])
        assert job.field is not None
        values = decode_field_elements(data)
        if "weights" in counts:
            plan = plan_ntt(job.field, job.size, 0, 0, counts["weights"])
        else:
            plan = plan_ntt(job.field, job.size, counts["column_slices"], counts["row_slices"])
        preferred, gpu_chunks = _placement(counts, [plan.column_chunks, plan.row_chunks])
        self._update_job(job.id, chunks_total=len(plan.chunks), chunks_done=len(completed))
        out: np.ndarray = dispatch.run_ntt(
            job.field,
            values,
            plan,
            inverse=job.inverse,
            policy=self._policy(job, book, "ntt", plan.chunks, preferred, gpu_chunks),
            completed=completed,
            test_mode=test_mode,
            gpu_chunks=gpu_chunks,
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

    def record_chunk(
        self,
        job_id: str,
        kind: str,
        chunk: Chunk,
        output: ChunkOutput,
        verification: str,
        book: NodeBook,
    ) -> None:
        """Record an accepted chunk (value in the blob store); credit comes at the job's end."""
        done, total = self.store.record(job_id, kind, chunk, output, verification, book)
        self.metrics.chunk_duration.labels(kind, output.backend).observe(output.duration_seconds)
        self.events.publish(
            "job.progress", job_id=job_id, chunks_done=done, chunks_total=total, status="running"
        )

    def _credit_and_finish(
        self, job_id: str, kind: str, book: NodeBook, result_sha256: str
    ) -> bool:
        """Credit the job's verified chunks and mark it done (see :mod:`pool_api.store.chunks`)."""
        credited, flipped = self.store.credit_and_finish(
            job_id, book.struck_contributors(), result_sha256
        )
        if credited:
            self.metrics.work_units.labels(kind).inc(credited)
        if not flipped:
            return False
        job = self._job(job_id)
        self.events.publish(
            "job.progress",
            job_id=job_id,
            chunks_done=job.chunks_done,
            chunks_total=job.chunks_total,
            status="done",
        )
        return True

    def _job(self, job_id: str) -> Job:
        with Session(self.engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def _finish(self, job_id: str, status: JobStatus, *, error: str | None = None) -> bool:
        """Mark a job failed unless it was cancelled meanwhile."""
        if self._status(job_id) == JobStatus.cancelled:
            return False
        self._update_job(job_id, status=status, error=error)
        return True

"""What an executor gets to run one job: :class:`JobContext`.

The runner (:mod:`pool_api.runner.loop`) builds one context per job run and hands it to
the executor of the job's kind (:mod:`pool_api.runner.executors`).  The context is the
executors' only way to the rest of the pool: the job's row and input, the nodes that may
work (with their speeds, calibrated on first sight), the stored plan, the chunks already
recorded, progress updates, and the scheduling :class:`~workers.cluster.scheduler.Policy`
that records accepted chunks and strikes cheaters.  Executors never touch SQL, Redis or
Ray themselves.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from pool_api.live.events import EventBus
from pool_api.metrics import Metrics
from pool_api.runner.nodes import NodeBook
from pool_api.runner.prepare import JobPreparer
from pool_api.runner.retry import retrying
from pool_api.settings import Settings
from pool_api.store.blobs import BlobStore
from pool_api.store.chunks import ChunkStore
from pool_api.store.models import Job, utcnow
from workers.cluster import runtime, verify
from workers.cluster.calibration import gpu_key
from workers.cluster.plan import Chunk
from workers.cluster.scheduler import Policy
from workers.cluster.sizing import JobPlan, NodeOffer
from workers.cluster.tasks import ChunkOutput

log = logging.getLogger(__name__)

CALIBRATION_CURVE, CALIBRATION_FIELD = "bn254_g1", "bn254_fr"
"""What a node is calibrated on when the job names no curve (NTT jobs) or no field."""


@dataclass
class JobContext:
    """One job's run: its row (a detached snapshot), the pool's parts, and the policy."""

    job: Job
    settings: Settings
    engine: Engine
    blobs: BlobStore
    store: ChunkStore
    book: NodeBook
    events: EventBus
    metrics: Metrics
    should_continue: Callable[[], bool]
    rng: random.Random = field(default_factory=random.SystemRandom)
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the runner stops: ends a wait for the database (:mod:`pool_api.runner.retry`)."""
    preparer: JobPreparer | None = None
    """Head-side work done ahead for this job, if any (:mod:`pool_api.runner.prepare`)."""
    _recorder: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _records: list[Future[None]] = field(default_factory=list, init=False, repr=False)

    # --- inputs and nodes ------------------------------------------------------------
    def input_blob(self) -> bytes:
        return self.blobs.get(self.job.input_sha256)

    def offers(
        self, curve: str = CALIBRATION_CURVE, field_name: str = CALIBRATION_FIELD
    ) -> list[NodeOffer]:
        """The eligible nodes (alive, of contributors neither banned nor struck in this job)
        with their slots, GPUs and speeds; nodes without speeds are calibrated first, on
        ``curve`` and ``field_name``."""
        eligible = self.book.eligible(runtime.alive_cpu_nodes())
        self.book.calibrate(list(eligible), curve, field_name)
        return [
            NodeOffer(
                node_id=node_id,
                slots=slots,
                gpus=runtime.node_gpus(node_id),
                speeds=dict(self.book.speeds.get(node_id, {})),
            )
            for node_id, slots in eligible.items()
        ]

    def plan(self, choose: Callable[[], JobPlan]) -> JobPlan:
        """The job's stored plan, or ``choose()``'s, stored now (a resumed job keeps it)."""
        if self.job.plan_json:
            return JobPlan.from_json(self.job.plan_json)
        chosen = choose()
        self.update_job(plan_json=chosen.to_json())
        self.job.plan_json = chosen.to_json()
        return chosen

    def completed(self) -> dict[int, object]:
        """Values of this job's recorded chunks, except those of contributors struck in it."""
        return self.store.completed(self.job.id, self.book.struck_contributors())

    # --- progress ----------------------------------------------------------------------
    def update_job(self, **changes: object) -> None:
        """Apply ``changes`` to the job row and publish its progress."""
        with Session(self.engine) as session:
            job = session.get(Job, self.job.id)
            assert job is not None
            for name, value in changes.items():
                setattr(job, name, value)
            job.updated_at = utcnow()
            session.add(job)
            session.commit()
            done, total, status = job.chunks_done, job.chunks_total, job.status.value
        self.events.publish(
            "job.progress", job_id=self.job.id, chunks_done=done, chunks_total=total, status=status
        )

    def start_chunks(self, total: int, done: int) -> None:
        """Announce the job's chunk count and how many are already recorded."""
        self.update_job(chunks_total=total, chunks_done=min(total, done))

    # --- scheduling --------------------------------------------------------------------
    def policy(
        self,
        kind: str,
        chunks: Sequence[Chunk],
        preferred: Mapping[int, str] | None = None,
        gpu_chunks: Collection[int] = frozenset(),
        *,
        full_audit: bool = False,
    ) -> Policy:
        """How ``chunks`` of kernel ``kind`` (``"msm"``/``"ntt"``) are placed and checked:
        eligible nodes only, MSM chunks audited at ``PROVERPOOL_AUDIT_RATE`` (all of them
        with ``full_audit``), accepted chunks recorded, cheaters struck."""
        audit: set[int] = set()
        if kind == "msm":
            indices = [c.index for c in chunks]
            audit = (
                set(indices)
                if full_audit
                else verify.audit_sample(indices, self.settings.audit_rate, self.rng)
            )

        def on_cheat(node_id: str, chunk: Chunk) -> None:
            reason = "msm_audit" if kind == "msm" else "ntt_check"
            log.warning(
                "job %s chunk %s: node %s caught (%s)", self.job.id, chunk.index, node_id, reason
            )
            retrying(
                lambda: self.book.strike(node_id, chunk.index, reason, self.settings.max_strikes),
                "recording a strike",
                self.stopping,
            )
            self.metrics.verification_failures.labels(kind).inc()

        def expected(chunk: Chunk, node_id: str) -> float | None:
            on_gpu = chunk.index in gpu_chunks and runtime.node_gpus(node_id) >= 1
            return self.book.expected_seconds(
                gpu_key(kind) if on_gpu else kind, node_id, chunk.work_units
            )

        def on_accept(chunk: Chunk, output: ChunkOutput, how: str) -> None:
            self.record_chunk(kind, chunk, output, how)

        return Policy(
            nodes=lambda: self.book.eligible(runtime.alive_cpu_nodes()),
            owner_of=self.book.owner_of,
            max_in_flight=self.settings.max_in_flight,
            max_attempts=self.settings.max_chunk_attempts,
            audit=audit,
            preferred=dict(preferred or {}),
            expected_seconds=expected,
            straggler_factor=self.settings.straggler_factor,
            straggler_min_seconds=self.settings.straggler_min_seconds,
            on_accept=on_accept,
            on_cheat=on_cheat,
            should_continue=self.should_continue,
        )

    def record_chunk(self, kind: str, chunk: Chunk, output: ChunkOutput, verification: str) -> None:
        """Queue the record of an accepted chunk (:meth:`record_now`) on the context's
        recording thread, so the scheduler hands out the next chunk at once; the runner
        waits for every record (:meth:`flush_records`) before it credits the job."""
        if self._recorder is None:
            self._recorder = ThreadPoolExecutor(1, "proverpool-record")
        self._records.append(
            self._recorder.submit(self.record_now, kind, chunk, output, verification)
        )

    def flush_records(self) -> None:
        """Wait for every queued chunk record; the first that failed raises its error."""
        pending, self._records = self._records, []
        for future in pending:
            future.result()

    def close(self) -> None:
        """Write what is queued (errors are the caller's business: logged here) and stop the
        recording thread."""
        try:
            self.flush_records()
        except Exception as exc:
            log.warning("job %s: a chunk record was not written: %s", self.job.id, exc)
        finally:
            if self._recorder is not None:
                self._recorder.shutdown(wait=True)
                self._recorder = None

    def record_now(self, kind: str, chunk: Chunk, output: ChunkOutput, verification: str) -> None:
        """Record an accepted chunk (value in the blob store); credit comes at the job's end.

        While the database is down the write is retried (the chunk tasks in flight go on),
        so a verified chunk is never lost to an outage."""
        done, total = retrying(
            lambda: self.store.record(self.job.id, kind, chunk, output, verification, self.book),
            "recording a chunk",
            self.stopping,
        )
        self.metrics.chunk_duration.labels(kind, output.backend).observe(output.duration_seconds)
        self.events.publish(
            "job.progress",
            job_id=self.job.id,
            chunks_done=done,
            chunks_total=total,
            status="running",
        )

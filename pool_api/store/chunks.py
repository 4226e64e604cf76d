"""Accepted chunks in SQL and the blob store, and the job's credits once it is done.

* :meth:`ChunkStore.record`: one ``ChunkRecord`` per ``<job id>:<chunk index>``
  with the chunk's value in the blob store (so a resumed job skips it) and how
  it was verified; a chunk computed again (its producer was caught) overwrites
  its record.  The node's speed EWMA is updated in the same transaction.
* :meth:`ChunkStore.completed`: the stored values a resumed job reuses, except
  those of contributors struck in the job (computed again).
* :meth:`ChunkStore.credit_and_finish`: credit only after verification, once
  per job (docs/architecture.md §6): one transaction turns the job ``done`` and
  credits every record to its producer's contributor (``accounting.credit_work_many``,
  the record ids as the keys, idempotent), except contributors struck in the job.
"""

from __future__ import annotations

import io
import json
from typing import Protocol

import numpy as np
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import accounting
from pool_api.store.blobs import BlobStore
from pool_api.store.models import ChunkRecord, Job, JobStatus, utcnow
from workers.cluster.calibration import gpu_key
from workers.cluster.plan import Chunk
from workers.cluster.tasks import ChunkOutput


class NodeFacts(Protocol):
    """What recording a chunk needs to know of nodes (the runner's
    :class:`~pool_api.runner.nodes.NodeBook`): who answers for a node, and where its
    speed average goes."""

    def contributor_of(self, node_id: str) -> int | None: ...

    def observe(
        self, session: Session, node_id: str, kernel: str, units_per_second: float
    ) -> None: ...

    def observe_link(
        self, session: Session, node_id: str, fetched_bytes: int, fetch_seconds: float
    ) -> None: ...


def pack_value(value: object) -> bytes:
    """A chunk value as bytes: an MSM point as JSON (any curve); an NTT block, a compact
    element array (:mod:`workers.codec.arrays`: 4, 8 or 32 bytes an element), as ``.npy``:
    its little-endian words behind a header that names their dtype and the block's shape."""
    if isinstance(value, tuple):
        return b"J" + json.dumps(value).encode()
    block = np.asarray(value)
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(block, block.dtype.newbyteorder("<")), allow_pickle=False)
    return b"A" + buffer.getvalue()


def _as_tuple(value: object) -> object:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list) else value


def unpack_value(data: bytes) -> object:
    """The value :func:`pack_value` packed (NTT blocks in native byte order)."""
    if data[:1] == b"J":
        return _as_tuple(json.loads(data[1:]))
    block = np.load(io.BytesIO(data[1:]), allow_pickle=False)
    return block.astype(block.dtype.newbyteorder("="), copy=False)


class ChunkStore:
    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self.engine = engine
        self.blobs = blobs

    def completed(self, job_id: str, struck: set[int]) -> dict[int, object]:
        """Stored values of this job's chunks, except those of contributors in ``struck``."""
        with Session(self.engine) as session:
            records = session.exec(select(ChunkRecord).where(ChunkRecord.job_id == job_id)).all()
        return {
            r.chunk_index: unpack_value(self.blobs.get(r.result_sha256))
            for r in records
            if r.result_sha256 is not None and r.contributor_id not in struck
        }

    def record(
        self,
        job_id: str,
        kind: str,
        chunk: Chunk,
        output: ChunkOutput,
        verification: str,
        book: NodeFacts,
    ) -> tuple[int, int]:
        """Write (or overwrite) the chunk's record; the job's ``(chunks_done, chunks_total)``."""
        record_id = f"{job_id}:{chunk.index}"
        sha256 = self.blobs.put(pack_value(output.value))
        with Session(self.engine) as session:
            record = session.get(ChunkRecord, record_id)
            new = record is None
            if record is None:
                record = ChunkRecord(
                    id=record_id,
                    job_id=job_id,
                    chunk_index=chunk.index,
                    phase=chunk.phase,
                    ray_node_id=output.node_id,
                    work_units=chunk.work_units,
                    duration_seconds=output.duration_seconds,
                )
            record.ray_node_id = output.node_id
            record.contributor_id = book.contributor_of(output.node_id)
            record.duration_seconds = output.duration_seconds
            record.verification = verification
            record.result_sha256 = sha256
            record.finished_at = utcnow()
            session.add(record)
            if output.duration_seconds > 0:
                kernel = kind if output.backend == "cpu" else gpu_key(kind)
                book.observe(
                    session, output.node_id, kernel, chunk.work_units / output.duration_seconds
                )
            if output.fetched_bytes > 0:  # the node's link, for planning (never credit)
                book.observe_link(
                    session, output.node_id, output.fetched_bytes, output.fetch_seconds
                )
            job = session.get(Job, job_id)
            assert job is not None
            if new:
                job.chunks_done = min(job.chunks_total, job.chunks_done + 1)
            job.updated_at = utcnow()
            session.add(job)
            session.commit()
            return job.chunks_done, job.chunks_total

    def credit_and_finish(
        self, job_id: str, struck: set[int], result_sha256: str
    ) -> tuple[int, bool]:
        """Mark a finished job done and credit its records, in one transaction: ``(units, done)``.

        The conditional ``UPDATE`` flips the job ``running → done`` first; only if it
        did are its records credited (``accounting.credit_work_many``, each record id
        as its key; contributors in ``struck`` get nothing), and the flip and the
        credits commit together. A job that is no longer running (cancelled, failed)
        gets no credit: a cancel that commits first leaves nothing to flip, one that
        comes later waits for this transaction (PostgreSQL: the job's row lock;
        SQLite: the write lock) and finds the job ``done``. A runner that dies
        before the commit leaves the job ``running`` and uncredited, and the resumed
        job does both; ``units`` counts the work units of credits created now.
        """
        with Session(self.engine) as session:
            flipped = session.execute(
                update(Job)
                .where(col(Job.id) == job_id, col(Job.status) == JobStatus.running)
                .values(
                    status=JobStatus.done,
                    result_sha256=result_sha256,
                    chunks_done=Job.chunks_total,
                    updated_at=utcnow(),
                )
            ).rowcount
            if flipped != 1:
                session.rollback()
                return 0, False
            records = session.exec(
                select(ChunkRecord.id, ChunkRecord.contributor_id, ChunkRecord.work_units)
                .where(ChunkRecord.job_id == job_id)
                .order_by(col(ChunkRecord.chunk_index))
            ).all()
            credits = [
                accounting.Credit(record_id, contributor_id, job_id, work_units)
                for record_id, contributor_id, work_units in records
                if contributor_id is not None and contributor_id not in struck
            ]
            statuses = accounting.credit_work_many(session, credits)
            session.commit()
        credited = sum(
            credit.work_units
            for credit, status in zip(credits, statuses, strict=True)
            if status == "created"
        )
        return credited, True

"""Accepted chunks in SQL and the blob store, and the job's credits once it is done.

* :meth:`ChunkStore.record`: one ``ChunkRecord`` per ``<job id>:<chunk index>``
  with the chunk's value in the blob store (so a resumed job skips it) and how
  it was verified; a chunk computed again (its producer was caught) overwrites
  its record.  The node's speed EWMA is updated in the same transaction.
* :meth:`ChunkStore.completed`: the stored values a resumed job reuses, except
  those of contributors struck in the job (computed again).
* :meth:`ChunkStore.credit_and_finish`: credit only after verification, once
  per job (docs/architecture.md §6): every record is credited to its producer's contributor
  (``accounting.credit_work``, the record id as the key, idempotent), except
  contributors struck in the job, then the job turns ``done``.
"""

from __future__ import annotations

import io
import json

import numpy as np
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import accounting
from pool_api.runner.nodes import NodeBook
from pool_api.store.blobs import BlobStore
from pool_api.store.models import ChunkRecord, Job, JobStatus, utcnow
from workers.cluster.calibration import gpu_key
from workers.cluster.plan import Chunk
from workers.cluster.tasks import ChunkOutput


def pack_value(value: object) -> bytes:
    """A chunk value as bytes: an MSM point as JSON (any curve); an NTT block, a compact
    element array (:mod:`workers.codec.arrays`: 4, 8 or 32 bytes an element), as ``.npy``:
    its little-endian words behind a header that names their dtype and the block's shape."""
    if isinstance(value, tuple):
        return b"J" + json.dumps(value).encode()
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(block, block.dtype.newbyteorder("<")), allow_pickle=False)
    return b"A" + buffer.getvalue()


def _as_tuple(value: object) -> object:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list) else value


def unpack_value(data: bytes) -> object:
    if data[:1] == b"J":
        return _as_tuple(json.loads(data[1:]))
    block = np.asarray(value)
    block = np.load(io.BytesIO(data[1:]), allow_pickle=False)
    return block.astype(block.dtype.newbyteorder("="), copy=False)


class ChunkStore:
    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self.engine = engine
        self.blobs = blobs

    def completed(self, job_id: str, struck: set[int]) -> dict[int, object]:
        """Stored values of this job's chunks, except those of contributors in ``struck``."""
    """The value :func:`pack_value` packed (NTT blocks in native byte order)."""
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
        book: NodeBook,
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
        """Credit every record of a finished job, then mark it done: ``(units, done)``.

        Credits go first (each idempotent by its record id), so a runner that
        dies in between credits nothing twice when the job resumes; the job
        turns ``done`` only if it is still ``running`` (a cancel that lands in
        the few milliseconds between leaves it ``cancelled``).  Nothing is
        credited for a job that is no longer running.
        """
        credited = 0
        with Session(self.engine) as session:
            job = session.get(Job, job_id)
            if job is None or job.status != JobStatus.running:
                return 0, False
            records = session.exec(select(ChunkRecord).where(ChunkRecord.job_id == job_id)).all()
            for record in records:
                if record.contributor_id is None or record.contributor_id in struck:
                    continue
                status = accounting.credit_work(
                    session,
                    credit_id=record.id,
                    contributor_id=record.contributor_id,
                    job_ref=job_id,
                    work_units=record.work_units,
                )
                if status == "created":
                    credited += record.work_units
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
            session.commit()
        return credited, bool(flipped)

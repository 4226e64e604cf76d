"""Groth16 proofs: the job fields ``GET /v1/jobs/{id}/proof`` needs."""

from __future__ import annotations

from sqlalchemy.engine import Connection, Row
from sqlmodel import select

from pool_api.store.models import Job


def proof_job_row(connection: Connection, *, job_id: str) -> Row | None:
    """``(kind, status, result_sha256)`` of a job on a read-engine connection, or ``None``."""
    return connection.execute(
        select(Job.kind, Job.status, Job.result_sha256).where(Job.id == job_id)
    ).first()

"""Tables of the application: contributors, their nodes, jobs and chunk records.

Ledger tables (work credits, accounts, transfers, rewards) belong to
``accounting``; they refer to contributors by ``contributor.id``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contributor(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=64)
    payout_address: str | None = Field(default=None, max_length=128)
    api_key_hash: str = Field(unique=True, index=True, max_length=64)
    """SHA-256 of the current API key (the key itself is shown once, never stored)."""
    api_key_revoked_at: datetime | None = None
    """Set when the key is revoked: it stops working until the key is rotated."""
    banned_at: datetime | None = None
    """Set when the contributor reached ``max_strikes`` strikes: its nodes get no more work."""
    created_at: datetime = Field(default_factory=utcnow)


class Invite(SQLModel, table=True):
    """A single-use onboarding token created by the operator (stored hashed)."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    contributor_id: int | None = Field(default=None, foreign_key="contributor.id")


class Node(SQLModel, table=True):
    """A Ray node contributed by a contributor (credited for the chunks it runs)."""

    ray_node_id: str = Field(primary_key=True, max_length=64)
    contributor_id: int = Field(foreign_key="contributor.id", index=True)
    registered_at: datetime = Field(default_factory=utcnow)
    cpu_cores: int | None = None
    gpu_model: str | None = Field(default=None, max_length=128)
    gpu_memory_bytes: int | None = Field(default=None, sa_column=Column(BigInteger))
    speeds_json: str | None = Field(default=None, sa_column=Column(Text))
    """Measured speeds per kernel, JSON ``{kernel: work units per second}``."""
    registration_sha256: str | None = Field(default=None, unique=True, index=True, max_length=64)
    """SHA-256 of the node's registration secret: the Ray node advertises the custom resource
    ``proverpool_node_<this>`` and only the machine that started it knows the secret
    (:mod:`pool_api.membership`).  ``None`` only for rows registered before it existed."""


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class Job(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=8)
    """``msm``, ``ntt`` or ``groth16``."""
    curve: str | None = Field(default=None, max_length=32)
    field: str | None = Field(default=None, max_length=32)
    inverse: bool = False
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    idempotency_key: str | None = Field(default=None, unique=True, index=True, max_length=128)
    """The client's ``Idempotency-Key``: a retried submission returns this job."""
    input_sha256: str = Field(max_length=64)
    """Name of the input blob in the content-addressed blob directory."""
    status: JobStatus = Field(default=JobStatus.queued, index=True)
    chunks_done: int = 0
    chunks_total: int = 0
    plan_json: str | None = Field(default=None, sa_column=Column(Text))
    """Chunk counts chosen when the job first ran; reused when it resumes."""
    result_sha256: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, sa_column=Column(Text))
    zkey_sha256: str | None = Field(default=None, max_length=64)
    """``groth16`` jobs: the proving key (:class:`Zkey`); the input blob is the ``.wtns``."""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Zkey(SQLModel, table=True):
    """A Groth16 proving key uploaded once (the ``.zkey`` bytes are a blob named by ``id``)."""

    id: str = Field(primary_key=True, max_length=64)
    """SHA-256 of the ``.zkey`` file (hex), also its name in the blob store."""
    curve: str = Field(max_length=32)
    n_vars: int
    n_public: int
    domain_size: int
    created_at: datetime = Field(default_factory=utcnow)


class ChunkRecord(SQLModel, table=True):
    """A finished chunk: which node (and contributor) computed it, and its worth."""

    __table_args__ = (UniqueConstraint("job_id", "chunk_index"),)

    id: str = Field(primary_key=True, max_length=48)
    job_id: str = Field(foreign_key="job.id", index=True, max_length=32)
    chunk_index: int
    phase: str = Field(max_length=16)
    ray_node_id: str = Field(max_length=64)
    contributor_id: int | None = Field(default=None, foreign_key="contributor.id")
    work_units: int = Field(sa_column=Column(BigInteger, nullable=False))
    duration_seconds: float
    finished_at: datetime = Field(default_factory=utcnow)
    verification: str = Field(default="checked", max_length=16)
    """How the result was accepted: ``checked`` (NTT check), ``audited`` or ``unaudited`` (MSM)."""
    result_sha256: str | None = Field(default=None, max_length=64)
    """The chunk's value in the blob store, so a resumed job does not compute it again."""


class JobReward(SQLModel, table=True):
    """The one reward of a job (``accounting.models.Reward`` allows several per ``job_ref``;
    the pool pays a job once): its primary key makes a second reward with another
    idempotency key fail in the database, whatever the timing."""

    __tablename__ = "job_reward"  # type: ignore[assignment]

    job_id: str = Field(primary_key=True, foreign_key="job.id", max_length=32)
    reward_id: str = Field(unique=True, index=True, max_length=128)
    """The reward's idempotency key (``Reward.id``)."""
    created_at: datetime = Field(default_factory=utcnow)


class Strike(SQLModel, table=True):
    """A contributor caught returning a wrong result in a job (at most one per job)."""

    __table_args__ = (UniqueConstraint("contributor_id", "job_id"),)

    id: int | None = Field(default=None, primary_key=True)
    contributor_id: int = Field(foreign_key="contributor.id", index=True)
    job_id: str = Field(foreign_key="job.id", index=True, max_length=32)
    ray_node_id: str = Field(max_length=64)
    chunk_index: int
    reason: str = Field(max_length=32)
    """``ntt_check`` (a slice failed its check) or ``msm_audit`` (lost an audit)."""
    created_at: datetime = Field(default_factory=utcnow)

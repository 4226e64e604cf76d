"""Request and response bodies of the HTTP API (numbers beyond 2^53 as decimal strings)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from accounting.types import MAX_UNITS
from pool_api.store.models import JobStatus

Number = StrictStr | StrictInt
"""A non-negative integer: decimal string, ``0x`` hex string, or JSON integer."""


class MsmJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["msm"]
    curve: StrictStr = Field(max_length=32)
    points: list[list[Number] | list[list[Number]]] = Field(
        description="Affine points [x, y]; on a G2 curve each coordinate is [c0, c1]. "
        "Infinity is [0, 0] (G2: [[0, 0], [0, 0]])."
    )
    scalars: list[Number]


class NttJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["ntt"]
    field: StrictStr = Field(max_length=32)
    values: list[Number]
    inverse: StrictBool = False


JobCreate = Annotated[MsmJobCreate | NttJobCreate, Field(discriminator="kind")]


class JobCreated(BaseModel):
    id: str


class JobSummary(BaseModel):
    id: str
    kind: str
    curve: str | None
    field: str | None
    size: int
    status: JobStatus
    progress: Progress
    created_at: datetime


class JobPage(BaseModel):
    items: list[JobSummary]
    total: int = Field(description="Jobs matching the filters.")
    offset: int
    limit: int


class Progress(BaseModel):
    chunks_done: int
    chunks_total: int


class JobPublic(BaseModel):
    id: str
    kind: str
    status: JobStatus
    progress: Progress
    result: list[str] | list[list[str]] | None = Field(
        default=None,
        description="MSM: [x, y] (G2: [[x0, x1], [y0, y1]]); NTT: the output values; "
        "decimal strings.",
    )
    error: str | None = None


class ZkeyPublic(BaseModel):
    """A Groth16 proving key the pool holds (``hash``: SHA-256 of the ``.zkey`` file)."""

    hash: str
    curve: str
    n_vars: int
    n_public: int
    domain_size: int


class Groth16Proof(BaseModel):
    """A done ``groth16`` job's result: snarkjs' ``proof.json`` and ``public.json``."""

    proof: dict[str, str | list[str] | list[list[str]]]
    public: list[str]


class RewardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_units: StrictInt = Field(
        gt=0, le=MAX_UNITS, description="Reward in the token's base unit (at most 10^78 − 1)."
    )
    idempotency_key: StrictStr = Field(min_length=1, max_length=128)


class Share(BaseModel):
    contributor_id: int
    amount_units: int


class RewardPublic(BaseModel):
    status: Literal["created", "exists"]
    job_id: str
    amount_units: int
    fee_bps: int
    fee_units: int
    held_units: int
    shares: list[Share]


class InviteCreated(BaseModel):
    invite: str = Field(description="Single-use onboarding token; shown only here.")
    expires_at: datetime


class ContributorCreate(BaseModel):
    """With ``invite``: a contributor redeems it (no token needed). Without: the operator
    creates the contributor directly (operator token required)."""

    model_config = ConfigDict(extra="forbid")
    invite: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    name: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\- ]+$")
    payout_address: StrictStr | None = Field(default=None, max_length=128)


class ContributorCreated(BaseModel):
    id: int
    name: str
    api_key: str = Field(description="Shown only here; stored hashed.")


class ApiKeyRotated(BaseModel):
    id: int
    api_key: str = Field(description="The new key; the previous one stops working.")


class ContributorPublic(BaseModel):
    id: int
    name: str
    work_units: int
    balance_units: int
    banned: bool = Field(
        default=False, description="Caught cheating max_strikes times: its nodes get no work."
    )


KernelName = Annotated[StrictStr, Field(pattern=r"^[a-z0-9_]{1,48}$")]


class NodeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ray_node_id: StrictStr = Field(pattern=r"^[0-9a-f]{56}$", description="Ray node id (hex).")
    registration_secret: StrictStr = Field(
        min_length=32,
        max_length=128,
        pattern=r"^[0-9A-Za-z_\-]+$",
        description="The secret whose SHA-256 the node advertises as its Ray resource "
        "proverpool_node_<sha256> (proverpool join makes one per node): proof that the "
        "caller started the node.",
    )
    cpu_cores: StrictInt | None = Field(default=None, ge=1, le=65_536)
    gpu_model: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    gpu_memory_bytes: StrictInt | None = Field(default=None, ge=0, le=1 << 50)
    speeds: dict[KernelName, float] = Field(
        default_factory=dict,
        max_length=32,
        description="Measured speed per kernel (e.g. msm_bn254_g1), work units per second.",
    )

    @field_validator("speeds")
    @classmethod
    def _finite_speeds(cls, speeds: dict[str, float]) -> dict[str, float]:
        for kernel, speed in speeds.items():
            if not math.isfinite(speed) or speed < 0:
                raise ValueError(f"speed of {kernel} must be a finite number ≥ 0")
        return speeds


NodeStatus = Literal["online", "offline", "banned"]


class NodePublic(BaseModel):
    ray_node_id: str
    contributor_id: int
    status: NodeStatus
    cpu_cores: int | None = None
    gpu_model: str | None = None
    gpu_memory_bytes: int | None = None
    speeds: dict[str, float] = Field(default_factory=dict)
    work_units: int = Field(default=0, description="Verified work units of its chunks.")
    last_seen_at: datetime | None = Field(
        default=None, description="Last heartbeat (kept when the node goes offline)."
    )
    registered_at: datetime
    last_job_id: str | None = Field(
        default=None, description="The job of its most recently finished chunk."
    )


class Heartbeat(BaseModel):
    ray_node_id: str
    status: NodeStatus
    ttl_seconds: int


JobSummary.model_rebuild()

EVENT_TYPES = ("job.submitted", "job.progress", "node.joined", "node.left", "reward.posted")
"""The event types of ``GET /v1/events`` (the format is in its docstring)."""

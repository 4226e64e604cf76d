"""Request and response bodies of the HTTP API (numbers beyond 2^53 as decimal strings)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from pool_api.models import JobStatus

Number = StrictStr | StrictInt
"""A non-negative integer: decimal string, ``0x`` hex string, or JSON integer."""


class MsmJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["msm"]
    curve: StrictStr
    points: list[list[Number]]
    scalars: list[Number]


class NttJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["ntt"]
    field: StrictStr
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
    result: list[str] | None = Field(
        default=None, description="MSM: [x, y]; NTT: the output values; decimal strings."
    )
    error: str | None = None


class RewardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_units: StrictInt = Field(gt=0, description="Reward in the token's base unit.")
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


class ContributorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\- ]+$")
    payout_address: StrictStr | None = Field(default=None, max_length=128)


class ContributorCreated(BaseModel):
    id: int
    name: str
    api_key: str


class ContributorPublic(BaseModel):
    id: int
    name: str
    work_units: int
    balance_units: int


class NodeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ray_node_id: StrictStr = Field(pattern=r"^[0-9a-f]{56}$", description="Ray node id (hex).")


class NodePublic(BaseModel):
    ray_node_id: str
    contributor_id: int


JobSummary.model_rebuild()

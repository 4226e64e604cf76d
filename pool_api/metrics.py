"""Prometheus metrics (docs/architecture.md §8): ``proverpool_`` prefix, base units, bounded labels.

Counters and histograms are updated where things happen (API, runner); the
gauges of current state (jobs by status, nodes by status) are read from SQL
and Redis at scrape time by :class:`PoolStateCollector`, so every API worker
reports the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")
NODE_STATUSES = ("online", "offline", "banned")


class PoolStateCollector(Collector):
    """``proverpool_jobs`` by status, ``proverpool_nodes`` by status and GPUs online."""

    def __init__(
        self,
        jobs_by_status: Callable[[], dict[str, int]],
        nodes_by_status: Callable[[], tuple[dict[str, int], int]],
    ) -> None:
        self.jobs_by_status = jobs_by_status
        self.nodes_by_status = nodes_by_status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            jobs = self.jobs_by_status()
            nodes, gpus_online = self.nodes_by_status()
        except Exception as exc:  # a scrape must not fail because a store is down
            log.warning("could not read pool state for /metrics: %s", exc)
            return
        job_gauge = GaugeMetricFamily("proverpool_jobs", "Jobs by status.", labels=["status"])
        for name in JOB_STATUSES:
            job_gauge.add_metric([name], jobs.get(name, 0))
        yield job_gauge
        node_gauge = GaugeMetricFamily("proverpool_nodes", "Nodes by status.", labels=["status"])
        for name in NODE_STATUSES:
            node_gauge.add_metric([name], nodes.get(name, 0))
        yield node_gauge
        yield GaugeMetricFamily(
            "proverpool_gpus_online", "Online nodes with a GPU.", value=gpus_online
        )


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
        self.verification_failures = Counter(
            "proverpool_verification_failures_total",
            "Chunk results that failed verification (check or audit).",
            ["kind"],
            registry=self.registry,
        )
        self.work_units = Counter(
            "proverpool_work_units_total", "Work units credited.", ["kind"], registry=self.registry
        )
        self.reward_units = Counter(
            "proverpool_rewards_distributed_units_total",
            "Reward base units split among contributors and the operator.",
            registry=self.registry,
        )

    def watch(self, collector: PoolStateCollector) -> None:
        self.registry.register(collector)

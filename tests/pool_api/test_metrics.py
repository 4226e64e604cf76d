"""Prometheus metrics (issue 6 §6, architecture §8) and the Grafana dashboard that reads them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "proverpool.json"


def _exported_names(registry) -> set[str]:
    names = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
        else:
            names.add(family.name)
    return names


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_metrics_follow_the_conventions_and_feed_the_dashboard(api):
    api.client.post(
        "/v1/jobs",
        json={"kind": "ntt", "field": "babybear", "values": [1, 2]},
        headers=api.operator,
    )
    metrics = api.state.metrics
    metrics.chunk_duration.labels("ntt", "gpu").observe(0.02)
    metrics.verification_failures.labels("msm").inc()
    text = api.client.get("/metrics").text
    assert 'proverpool_jobs{status="queued"} 1.0' in text
    assert 'proverpool_jobs{status="cancelled"} 0.0' in text
    assert (
        'proverpool_chunk_duration_seconds_bucket{backend="gpu",kind="ntt",le="0.05"} 1.0' in text
    )
    assert 'proverpool_verification_failures_total{kind="msm"} 1.0' in text
    assert "proverpool_rewards_distributed_units_total 0.0" in text
    assert 'proverpool_nodes{status="online"} 0.0' in text

    exported = _exported_names(metrics.registry)
    assert all(name.startswith("proverpool_") for name in exported)
    for family in metrics.registry.collect():  # no contributor ids as labels
        for sample in family.samples:
            assert not {"contributor", "contributor_id", "node"} & set(sample.labels)

    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for expr in exprs for name in re.findall(r"proverpool_\w+", expr)}
    assert used - exported == set()
    assert {
        "proverpool_jobs",
        "proverpool_nodes",
        "proverpool_chunk_duration_seconds_bucket",
    } <= used

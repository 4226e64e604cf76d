"""Warm start: the runner loads the head's kernels and calibrates joined nodes before any job."""

from __future__ import annotations

import json
import logging
import time

from sqlmodel import Session, select

from pool_api.runner.warmup import warm_head_kernels
from pool_api.store.models import Job, Node

from runner_pool import make_pool

FIXTURES = (make_pool,)  # used as test arguments


def test_head_kernels_warm_and_check_the_pairing():
    assert warm_head_kernels() >= 0.0
    assert warm_head_kernels() < 5.0  # loaded: a second call is quick


def test_joined_nodes_are_calibrated_before_any_job(make_pool, ray_cluster, caplog):
    caplog.set_level(logging.INFO, logger="pool_api.runner")
    pool = make_pool(warm_start=True)
    pool.add_workers(ray_cluster.worker_node_ids)
    deadline = time.monotonic() + 120
    speeds: dict[str, dict] = {}
    while time.monotonic() < deadline:
        with Session(pool.state.engine) as session:
            speeds = {
                n.ray_node_id: json.loads(n.speeds_json)
                for n in session.exec(select(Node))
                if n.speeds_json and {"msm", "ntt"} <= set(json.loads(n.speeds_json))
            }
        if set(speeds) >= set(ray_cluster.worker_node_ids):
            break
        time.sleep(0.2)
    assert set(speeds) >= set(ray_cluster.worker_node_ids), "nodes were not warmed"
    with Session(pool.state.engine) as session:
        assert session.exec(select(Job)).first() is None  # no job paid for it
    messages = [r.getMessage() for r in caplog.records]
    assert any("head kernels loaded" in m for m in messages)
    assert any(m.startswith("warmed ") for m in messages)


def test_warm_start_can_be_turned_off(make_pool, ray_cluster):
    pool = make_pool(warm_start=False)
    assert pool.state.runner._warm is False

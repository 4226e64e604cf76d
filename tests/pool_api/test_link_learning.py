"""The pool learns each node's link (issue 15 item 4): a probe when the node is first
calibrated, then its real fetches folded in; the link-aware plan uses it and the bases a
node holds, and does not split a job too small to be worth it."""

from __future__ import annotations

import json

from sqlmodel import Session

from pool_api.runner.nodes import NodeBook
from pool_api.store.models import Job, Node
from workers import msm
from workers.cluster.linkplan import LINK_BYTES_PER_SECOND_RANGE, LINK_KEY, bases_held
from workers.cluster.sizing import JobPlan

from runner_pool import job_records, make_pool, msm_body

FIXTURES = (make_pool,)  # used as test arguments


def _speeds(pool, node_id: str) -> dict[str, float]:
    with Session(pool.state.engine) as session:
        node = session.get(Node, node_id)
        assert node is not None
        return json.loads(node.speeds_json or "{}")


def test_links_are_probed_fetches_folded_and_small_jobs_not_split(make_pool, ray_cluster):
    pool = make_pool(link_aware=True, chunks_per_node=1)
    nodes = ray_cluster.worker_node_ids[:2]
    for i, node_id in enumerate(nodes):
        created = pool.client.post(
            "/v1/contributors", json={"name": f"link-{i}"}, headers=pool.operator
        ).json()
        registered = pool.register_node(created, node_id, speeds={"msm": 3e7, "ntt": 3e7})
        assert registered.status_code == 201, registered.text

    body, points, scalars = msm_body(300, seed=41)
    job = pool.wait(pool.submit(body))
    assert job["status"] == "done", job
    assert job["result"] == [str(v) for v in msm("bn254_g1", points, scalars)]
    low, high = LINK_BYTES_PER_SECOND_RANGE
    for node_id in nodes:  # probed over loopback when the job's offers were made
        assert low <= _speeds(pool, node_id)[LINK_KEY] <= high
    # 300 points compute in milliseconds: a second node would only add its latency.
    with Session(pool.state.engine) as session:
        stored = session.get(Job, job["id"])
        assert stored is not None and stored.plan_json
    plan = JobPlan.from_json(stored.plan_json)
    assert plan.slots is not None and len(set(plan.slots.nodes)) == 1
    workers = {r.ray_node_id for r in job_records(pool, job["id"])}
    assert workers == set(plan.slots.nodes)
    assert all(bases_held(n) for n in workers)  # the head knows who holds the bases

    # A fetch the node reports is folded in (clamped, small ones ignored); never credit.
    book = NodeBook(pool.state.engine, "")
    node_id = nodes[0]
    before = book.speeds[node_id][LINK_KEY]
    with Session(pool.state.engine) as session:
        book.observe_link(session, node_id, 1000, 1e-9)  # too small to say anything
        book.observe_link(session, node_id, 1 << 30, 1e-9)  # absurd: clamped
        session.commit()
    after = _speeds(pool, node_id)[LINK_KEY]
    assert before < after <= high

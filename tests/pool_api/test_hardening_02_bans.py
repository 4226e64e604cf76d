"""Issue 14 item 2: bans did not hold at the identity.

The attack: a contributor banned for cheating ``DELETE``\\ d its node; the node, now
unregistered, could never be struck again and its next job's chunks ran on it anyway;
and ``GET /v1/cluster`` still handed the banned contributor the (rotated) Ray token.

What must hold: a banned identity gets no work on any node, no cluster credentials
(``/v1/cluster`` → 403), cannot register nodes, and its registered nodes are fenced:
they stay in the store as banned, deregistering them is refused, and a node whose
registration is gone is not eligible either.
"""

from __future__ import annotations

from sqlmodel import Session, select

from pool_api.runner.nodes import NodeBook
from pool_api.store.models import ChunkRecord, Contributor, Job, Node


def _ban_by_strikes(pool, node_id: str) -> None:
    """The runner's own path: a strike in a job, with ``max_strikes`` reached."""
    with Session(pool.state.engine) as session:
        session.add(Job(id="cheated", kind="ntt", field="babybear", size=4, input_sha256="0" * 64))
        session.commit()
    assert NodeBook(pool.state.engine, "cheated").strike(node_id, 0, "ntt_check", max_strikes=1)


def _chunk_nodes(pool, job_id: str) -> set[str]:
    with Session(pool.state.engine) as session:
        query = select(ChunkRecord.ray_node_id).where(ChunkRecord.job_id == job_id)
        return set(session.exec(query).all())


def _run_job(pool) -> dict:
    body = {"kind": "ntt", "field": "babybear", "values": [str(i) for i in range(256)]}
    created = pool.client.post("/v1/jobs", json=body, headers=pool.operator)
    assert created.status_code == 201, created.text
    job = pool.wait(created.json()["id"])
    assert job["status"] == "done", job
    return job


def test_a_banned_contributor_gets_no_work_and_no_credentials(pool, ray_cluster):
    cheater_node, honest_node = ray_cluster.worker_node_ids
    mallory = pool.add_contributor("mallory", cheater_node)
    pool.add_contributor("bob", honest_node)
    as_mallory = pool.key(mallory)
    assert pool.client.get("/v1/cluster", headers=as_mallory).status_code == 200
    _ban_by_strikes(pool, cheater_node)

    # Deregistering the fenced node is refused: it stays, banned.
    deleted = pool.client.delete(f"/v1/nodes/{cheater_node}", headers=as_mallory)
    assert deleted.status_code == 403, deleted.text
    assert "banned" in deleted.json()["detail"]
    nodes = {n["ray_node_id"]: n["status"] for n in pool.client.get("/v1/nodes").json()}
    assert nodes[cheater_node] == "banned"
    beat = pool.client.post(f"/v1/nodes/{cheater_node}/heartbeat", headers=as_mallory)
    assert beat.json()["status"] == "banned"

    # No Ray address and token for a banned identity.
    cluster = pool.client.get("/v1/cluster", headers=as_mallory)
    assert cluster.status_code == 403, cluster.text
    assert "banned" in cluster.json()["detail"] and "ray_auth_token" not in cluster.text
    # Nor a new node.
    again = pool.register_node(mallory, cheater_node)
    assert again.status_code in (403, 409)

    # Her next job runs on nobody's node of hers.
    job = _run_job(pool)
    assert _chunk_nodes(pool, job["id"]) == {honest_node}

    # Even if the registration were gone (deleted before the ban took effect), the
    # node is nobody's now and gets no chunks; the identity stays banned.
    with Session(pool.state.engine) as session:
        session.delete(session.get(Node, cheater_node))
        session.commit()
        assert session.get(Contributor, mallory["id"]).banned_at is not None
    job = _run_job(pool)
    assert _chunk_nodes(pool, job["id"]) == {honest_node}
    assert pool.client.get("/v1/cluster", headers=as_mallory).status_code == 403

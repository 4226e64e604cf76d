"""Node registration, heartbeats, presence in Redis and node events (issue 6 §2)."""

from __future__ import annotations

import json
import time

import pytest
from sqlmodel import Session

from pool_api.live import presence
from pool_api.store.models import ChunkRecord, Job

from ray_cluster import secret_of

HARDWARE = {
    "cpu_cores": 16,
    "gpu_model": "NVIDIA H100",
    "gpu_memory_bytes": 80 * 2**30,
    "speeds": {"msm_bn254_g1": 1.5e6, "ntt_bn254_fr": 2.5e7},
}


_IDS: list[str] = []


@pytest.fixture(autouse=True)
def _fresh_node_ids(ray_cluster):
    """The session's two live worker nodes (registration takes only nodes alive in Ray that
    advertise the caller's secret), offline at the start of each test: the external Redis
    of the PostgreSQL runs is shared by the tests."""
    global NODE_A, NODE_B
    NODE_A, NODE_B = ray_cluster.worker_node_ids
    _IDS[:] = [NODE_A, NODE_B]


@pytest.fixture
def api(make_api, ray_cluster):
    """The API without a runner, on the session's Ray cluster, its nodes offline."""
    return _offline(make_api(ray_address=ray_cluster.address))


def _offline(api):
    for node_id in _IDS:
        presence.leave(api.state.events.client, node_id)
    return api


NODE_A = NODE_B = ""


def _events(api):
    pubsub = api.state.events.client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("proverpool:events")
    return pubsub


def _next_event(pubsub, timeout_seconds: float = 10) -> dict:
    """The next event about this test's nodes."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            event = json.loads(message["data"])
            if event.get("ray_node_id") in _IDS:
                return event
    raise AssertionError("no event")


def test_register_heartbeat_and_list(api):
    carol = api.add_contributor("carol")
    dave = api.add_contributor("dave")
    pubsub = _events(api)
    registered = api.register_node(carol, NODE_A, **HARDWARE)
    assert registered.status_code == 201, registered.text
    assert registered.json()["status"] == "online"
    assert _next_event(pubsub) == {
        "type": "node.joined",
        "ray_node_id": NODE_A,
        "contributor_id": 1,
    }
    beat = api.client.post(f"/v1/nodes/{NODE_A}/heartbeat", headers=api.key(carol))
    assert beat.status_code == 200, beat.text
    assert beat.json() == {"ray_node_id": NODE_A, "status": "online", "ttl_seconds": 30}
    assert (
        api.client.post(f"/v1/nodes/{NODE_A}/heartbeat", headers=api.key(dave)).status_code == 403
    )
    assert api.client.post(f"/v1/nodes/{NODE_A}/heartbeat").status_code == 401
    assert (
        api.client.post(f"/v1/nodes/{NODE_B}/heartbeat", headers=api.key(dave)).status_code == 404
    )
    taken = api.register_node(dave, NODE_A)
    assert taken.status_code == 409
    api.register_node(dave, NODE_B)
    api.state.events.client.delete(f"proverpool:node:{NODE_B}:alive")  # B went quiet

    with Session(api.state.engine) as session:
        session.add(Job(id="j1", kind="ntt", field="babybear", size=4, input_sha256="0" * 64))
        session.flush()
        for i, units in enumerate((30, 12)):
            session.add(
                ChunkRecord(
                    id=f"j1:{i}",
                    job_id="j1",
                    chunk_index=i,
                    phase="slice",
                    ray_node_id=NODE_A,
                    contributor_id=1,
                    work_units=units,
                    duration_seconds=0.1,
                )
            )
        session.commit()

    nodes = {n["ray_node_id"]: n for n in api.client.get("/v1/nodes").json()}
    a, b = nodes[NODE_A], nodes[NODE_B]
    assert a["status"] == "online" and a["work_units"] == 42 and a["last_seen_at"]
    assert a["cpu_cores"] == 16 and a["gpu_memory_bytes"] == 80 * 2**30
    assert a["speeds"] == HARDWARE["speeds"]
    assert b["status"] == "offline" and b["work_units"] == 0 and b["gpu_model"] is None
    online = api.client.get("/v1/nodes", params={"status": "online"}).json()
    assert [n["ray_node_id"] for n in online] == [NODE_A]
    metrics = api.client.get("/metrics").text
    assert 'proverpool_nodes{status="online"} 1.0' in metrics
    assert 'proverpool_nodes{status="offline"} 1.0' in metrics
    assert "proverpool_gpus_online 1.0" in metrics


def test_re_registration_updates_the_hardware(api):
    carol = api.add_contributor("carol")
    first = api.register_node(carol, NODE_A)
    assert first.status_code == 201
    again = api.register_node(carol, NODE_A, cpu_cores=8)
    assert again.status_code == 200 and again.json()["cpu_cores"] == 8


def test_presence_expires_and_the_node_leaves(make_api, ray_cluster):
    api = _offline(make_api(node_presence_ttl_seconds=1, ray_address=ray_cluster.address))
    carol = api.add_contributor("carol")
    pubsub = _events(api)
    api.register_node(carol, NODE_A)
    assert _next_event(pubsub)["type"] == "node.joined"
    assert _next_event(pubsub) == {"type": "node.left", "ray_node_id": NODE_A}
    assert api.client.get("/v1/nodes").json()[0]["status"] == "offline"
    api.client.post(f"/v1/nodes/{NODE_A}/heartbeat", headers=api.key(carol))
    assert _next_event(pubsub)["type"] == "node.joined"


def test_bad_hardware_is_refused(api):
    carol = api.add_contributor("carol")
    for bad in (
        {"ray_node_id": "xyz"},
        {"ray_node_id": NODE_A, "cpu_cores": 0},
        {"ray_node_id": NODE_A, "speeds": {"MSM!": 1.0}},
        {"ray_node_id": NODE_A, "speeds": {"msm": -1.0}},
        {"ray_node_id": NODE_A, "gpu_memory_bytes": "lots"},
        {"ray_node_id": NODE_A, "extra": 1},
        {"ray_node_id": NODE_A, "registration_secret": "short"},
        {"ray_node_id": NODE_A, "registration_secret": "not base64url! " * 4},
    ):
        body = {"registration_secret": secret_of(NODE_A), **bad}
        answer = api.client.post("/v1/nodes", json=body, headers=api.key(carol))
        assert answer.status_code == 422, (bad, answer.text)
    assert api.client.get("/v1/nodes").json() == []

"""Issue 14 item 19: fake nodes.

The attack: one contributor registered 300 made-up "H100" nodes in 2.8 s, and the
dashboard and ``proverpool_gpus_online`` showed 300 GPUs.

What must hold: a node id that is no live Ray node advertising the caller's secret is
refused (item 1); a contributor has at most ``PROVERPOOL_MAX_NODES_PER_CONTRIBUTOR``
nodes (409 past it, saying so); and only registered nodes alive in Ray count as online
in ``/v1/nodes``, the dashboard and ``proverpool_gpus_online``, however recently they
heartbeated.
"""

from __future__ import annotations

import secrets
import time

from ray_cluster import extra_workers

FIXTURES = (extra_workers,)  # used as test arguments
H100 = {"gpu_model": "NVIDIA H100", "gpu_memory_bytes": 80 * 2**30, "cpu_cores": 64}
FAKES = 40


def _gpus_online(api) -> tuple[float, int]:
    metrics = api.client.get("/metrics").text
    (line,) = [x for x in metrics.splitlines() if x.startswith("proverpool_gpus_online ")]
    overview = api.client.get("/v1/stats/overview").json()
    return float(line.split()[1]), overview["gpus_online"]


def test_fake_nodes_are_refused_and_registrations_capped(make_api, extra_workers):
    api = make_api(ray_address=extra_workers.address, max_nodes_per_contributor=2)
    mallory = api.add_contributor("mallory")
    made_up = [
        api.client.post(
            "/v1/nodes",
            json={
                "ray_node_id": secrets.token_hex(28),
                "registration_secret": secrets.token_hex(32),
                **H100,
            },
            headers=api.key(mallory),
        ).status_code
        for _ in range(FAKES)
    ]
    assert made_up.count(201) == 0, f"{made_up.count(201)} made-up nodes were registered"
    assert _gpus_online(api) == (0.0, 0)

    # Real nodes: capped per contributor.
    third = extra_workers.add_worker(num_cpus=0)
    nodes = [*extra_workers.worker_node_ids, third.node_id]
    assert api.register_node(mallory, nodes[0], **H100).status_code == 201
    assert api.register_node(mallory, nodes[1], **H100).status_code == 201
    capped = api.register_node(mallory, nodes[2], **H100)
    assert capped.status_code == 409, capped.text
    assert "PROVERPOOL_MAX_NODES_PER_CONTRIBUTOR" in capped.json()["detail"]
    assert api.register_node(mallory, nodes[0], **H100).status_code == 200  # still updates
    assert len(api.client.get("/v1/nodes").json()) == 2


def test_only_nodes_alive_in_ray_count_as_online(make_api, extra_workers):
    api = make_api(ray_address=extra_workers.address)
    carol = api.add_contributor("carol")
    dave = api.add_contributor("dave")
    doomed = extra_workers.add_worker(num_cpus=0)
    assert api.register_node(carol, extra_workers.worker_node_ids[0], **H100).status_code == 201
    assert api.register_node(dave, doomed.node_id, **H100).status_code == 201
    assert _gpus_online(api) == (2.0, 2)

    # The node dies; its last heartbeat is still fresh in Redis (TTL 30 s).
    extra_workers.remove_worker(doomed, graceful=True)
    deadline = time.monotonic() + 30
    while _gpus_online(api) != (1.0, 1):
        assert time.monotonic() < deadline, _gpus_online(api)
        time.sleep(0.5)
    status = {n["ray_node_id"]: n["status"] for n in api.client.get("/v1/nodes").json()}
    assert status == {extra_workers.worker_node_ids[0]: "online", doomed.node_id: "offline"}
    assert 'proverpool_nodes{status="online"} 1.0' in api.client.get("/metrics").text

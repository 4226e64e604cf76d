"""Issue 15 items 2-3 outside the lab: ``POST /v1/nodes/reachability`` against the session's
Ray cluster (a live node is reached: TCP to its raylet and object manager, a pinned task's
round trip; strangers are refused), and the bind shim that keeps Ray on one address.
The lab tests (tests/netlab) cover the unreachable node and the listening sockets."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pool_api.ray_bind import BIND_ENV, bind_environment, build_shim
from pool_api.reachability import node_address

from ray_cluster import secret_of


def test_the_pool_reaches_a_live_node_and_answers_only_its_owner(make_api, ray_cluster):
    api = make_api(ray_address=ray_cluster.address)
    node = ray_cluster.worker_node_ids[0]
    headers = api.key(api.add_contributor("rita"))
    body = {"ray_node_id": node, "registration_secret": secret_of(node)}
    answer = api.client.post("/v1/nodes/reachability", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    reach = answer.json()
    assert reach["reachable"] is True and reach["problem"] is None, reach
    assert set(reach["ports"]) == {"raylet", "object manager"}
    assert reach["address"] and reach["seconds"] < 30

    wrong = {**body, "registration_secret": "0" * 64}
    refused = api.client.post("/v1/nodes/reachability", json=wrong, headers=headers)
    assert refused.status_code == 403, refused.text
    dead = {**body, "ray_node_id": "ab" * 28}
    refused = api.client.post("/v1/nodes/reachability", json=dead, headers=headers)
    assert refused.status_code == 409, refused.text
    anonymous = api.client.post("/v1/nodes/reachability", json=body)
    assert anonymous.status_code == 401, anonymous.text


def test_join_advertises_the_address_it_reaches_the_pool_from():
    assert node_address("10.1.2.3:6380", "localhost") == "127.0.0.1"  # a pool on this host
    assert node_address("127.0.0.1:6380", "pool.example") == "127.0.0.1"


def test_the_bind_shim_narrows_wildcard_binds_only():
    assert bind_environment("127.0.0.1") == ({}, None)  # loopback: Ray's own switch
    shim = build_shim()
    if shim is None:
        pytest.skip("no C compiler: the shim cannot be built (join warns and goes on)")
    code = (
        "import socket\n"
        "a = socket.socket(); a.bind(('0.0.0.0', 0))\n"
        "b = socket.socket(socket.AF_INET6); b.bind(('::', 0))\n"
        "c = socket.socket(); c.bind(('127.0.0.1', 0))\n"
        "print(a.getsockname()[0], b.getsockname()[0], c.getsockname()[0])\n"
    )
    env = {**os.environ, "LD_PRELOAD": str(shim), BIND_ENV: "127.0.0.2"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["127.0.0.2", "::ffff:127.0.0.2", "127.0.0.1"], out
    env.pop(BIND_ENV)  # without the address the shim changes nothing
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[:2] == ["0.0.0.0", "::"], out

"""``GET /v1/version``, ``GET /v1/cluster`` and ``DELETE /v1/nodes/{id}`` (issue 7 §2)."""

from __future__ import annotations

import pytest

from pool_api.membership import advertised_ray_address, pool_version


def test_version_is_public(api):
    answer = api.client.get("/v1/version")
    assert answer.json() == {"name": "proverpool", "version": pool_version()}


def test_cluster_needs_a_key_and_a_shared_ray(make_api, monkeypatch):
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    private = make_api()
    carol = private.add_contributor("carol")
    assert private.client.get("/v1/cluster").status_code == 401
    assert private.client.get("/v1/cluster", headers=private.key(carol)).status_code == 409

    shared = make_api(ray_address="127.0.0.1:6380")
    assert shared.client.get("/v1/cluster", headers=shared.key(carol)).json() == {
        "ray_address": "testserver:6380",  # loopback → the host the caller reached the API at
        "ray_auth_token": None,
        "version": pool_version(),
    }
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "t" * 64)
    info = shared.client.get("/v1/cluster", headers=shared.key(carol)).json()
    assert info["ray_auth_token"] == "t" * 64


@pytest.mark.parametrize(
    ("address", "host", "expected"),
    [
        ("127.0.0.1:6380", "pool.example", "pool.example:6380"),
        ("localhost:6380", None, "localhost:6380"),
        ("10.0.0.5:6380", "pool.example", "10.0.0.5:6380"),
    ],
)
def test_advertised_ray_address(address, host, expected):
    assert advertised_ray_address(address, host) == expected


def test_deregister_node(make_api, ray_cluster):
    api = make_api(ray_address=ray_cluster.address)
    carol = api.add_contributor("carol")
    dave = api.add_contributor("dave")
    NODE = ray_cluster.worker_node_ids[0]
    assert api.register_node(carol, NODE).is_success
    assert api.client.delete(f"/v1/nodes/{NODE}").status_code == 401
    assert api.client.delete(f"/v1/nodes/{NODE}", headers=api.key(dave)).status_code == 403
    assert api.client.delete(f"/v1/nodes/{NODE}", headers=api.key(carol)).status_code == 204
    assert api.client.get("/v1/nodes").json() == []
    assert api.client.delete(f"/v1/nodes/{NODE}", headers=api.key(carol)).status_code == 404


def test_join_refuses_another_version_and_a_non_pool(serve, monkeypatch):
    from pool_api.api.routes import cluster
    from pool_api.cli import join
    from pool_api.errors import JoinError

    base_url, _ = serve()
    assert join.PoolClient(base_url).check_version() == pool_version()
    monkeypatch.setattr(cluster, "pool_version", lambda: "0.0.1")
    with pytest.raises(JoinError, match=r"version mismatch: the pool runs proverpool 0\.0\.1"):
        join.PoolClient(base_url).check_version()
    with pytest.raises(JoinError, match="is not a proverpool pool"):
        join.PoolClient(base_url + "/static").check_version()

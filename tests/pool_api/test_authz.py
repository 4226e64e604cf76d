"""Every operator endpoint refuses without the operator token; every contributor endpoint
refuses another contributor's key (issue 6, acceptance); every submission endpoint refuses
anonymous callers and contributor keys (issue 14 item 4).

The routes are enumerated from the application and classified by their auth
dependency, so a new route is tested as soon as it exists; a route without one
must be listed in ``PUBLIC`` (or be a read-only ``GET /v1/stats/…``) or this fails.
"""

from __future__ import annotations

import re

import pytest
from route_auth import api_routes as _routes
from sqlmodel import Session

from pool_api.store.models import Node

PUBLIC = {
    ("GET", "/"),  # the dashboard page
    ("GET", "/v1"),
    ("GET", "/healthz"),
    ("GET", "/v1/version"),  # proverpool join checks it before redeeming an invite
    ("GET", "/metrics"),
    ("GET", "/v1/events"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/{job_id}"),
    ("GET", "/v1/jobs/{job_id}/proof"),
    ("GET", "/v1/zkeys/{sha256}"),
    ("GET", "/v1/contributors"),
    ("GET", "/v1/nodes"),
    ("POST", "/v1/contributors"),  # an invite, or the operator token (tested below)
}


@pytest.fixture
def world(api):
    carol = api.add_contributor("carol")
    dave = api.add_contributor("dave")
    node = "c" * 56
    with Session(api.state.engine) as session:  # registered (POST /v1/nodes needs a live node)
        session.add(Node(ray_node_id=node, contributor_id=carol["id"]))
        session.commit()
    params = {
        "contributor_id": str(carol["id"]),
        "ray_node_id": node,
        "job_id": "0" * 32,
        "batch_id": "batch",
        "withdrawal_id": "w",
        "reward_id": "r",
        "submitter_id": "1",
    }
    return api, carol, dave, params


def _fill(path: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)


def _call(api, method: str, path: str, headers: dict | None = None):
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return api.client.request(method, path, headers=headers or {}, **kwargs)


def test_every_route_is_classified(api):
    routes = _routes(api.client.app)
    assert len(routes) >= 20
    unlisted = [
        (m, p)
        for m, p, auth in routes
        if auth == "public" and (m, p) not in PUBLIC and not (m == "GET" and "/v1/stats/" in p)
    ]
    assert unlisted == [], f"routes without auth that are not declared public: {unlisted}"
    kinds = {auth for _, _, auth in routes}
    assert kinds == {"operator", "contributor", "self_or_operator", "submitter", "public"}


def test_operator_endpoints_refuse_without_the_operator_token(world):
    api, carol, _, params = world
    operator_routes = [(m, p) for m, p, auth in _routes(api.client.app) if auth == "operator"]
    assert ("POST", "/v1/invites") in operator_routes
    for method, path in operator_routes:
        url = _fill(path, params)
        assert _call(api, method, url).status_code == 401, (method, path)
        assert _call(api, method, url, api.key(carol)).status_code == 403, (method, path)
        wrong = {"Authorization": "Bearer not-the-operator"}
        assert _call(api, method, url, wrong).status_code == 403, (method, path)
    # Creating a contributor without an invite is an operator action too.
    body = {"name": "eve"}
    assert api.client.post("/v1/contributors", json=body).status_code == 401
    assert api.client.post("/v1/contributors", json=body, headers=api.key(carol)).status_code == 403


def test_submission_endpoints_refuse_anonymous_callers_and_contributor_keys(world):
    api, carol, _, params = world
    routes = [(m, p) for m, p, auth in _routes(api.client.app) if auth == "submitter"]
    assert set(routes) == {("POST", "/v1/jobs"), ("POST", "/v1/zkeys")}
    for method, path in routes:
        url = _fill(path, params)
        assert _call(api, method, url).status_code == 401, (method, path)
        assert _call(api, method, url, api.key(carol)).status_code == 403, (method, path)


def test_contributor_endpoints_refuse_another_contributors_key(world):
    api, carol, dave, params = world
    routes = _routes(api.client.app)
    owned = [(m, p) for m, p, auth in routes if auth in ("contributor", "self_or_operator")]
    assert ("POST", "/v1/nodes/{ray_node_id}/heartbeat") in owned
    for method, path in owned:
        url = _fill(path, params)
        assert _call(api, method, url).status_code == 401, (method, path)
        bad = {"Authorization": "Bearer pp_not_a_key"}
        assert _call(api, method, url, bad).status_code == 403, (method, path)
        if "{" in path:  # the path names carol's resource: dave's key must not reach it
            answer = _call(api, method, url, api.key(dave))
            assert answer.status_code == 403, (method, path, answer.text)
            own = _call(api, method, url, api.key(carol))
            assert own.status_code not in (401, 403), (method, path, own.text)
            # The call may have rotated or revoked carol's key: give her a fresh one.
            fresh = api.client.post(
                f"/v1/contributors/{carol['id']}/keys/rotate", headers=api.operator
            )
            carol["api_key"] = fresh.json()["api_key"]

"""Every bad input gets a 4xx naming the problem, and nothing is stored."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from pool_api.store.models import Contributor, Job
from workers.params import BN254_P, FIELDS

from ray_cluster import secret_of

R = FIELDS["bn254_fr"].modulus
G = ["1", "2"]
OFF_CURVE = ["1", "3"]


def _msm(**overrides) -> dict:
    body = {"kind": "msm", "curve": "bn254_g1", "points": [G, G], "scalars": ["1", "2"]}
    body.update(overrides)
    return body


def _ntt(**overrides) -> dict:
    body = {"kind": "ntt", "field": "bn254_fr", "values": ["1", "2", "3", "4"]}
    body.update(overrides)
    return body


BAD_JOBS = {
    "unknown curve": (_msm(curve="secp256k1"), "curve"),
    "unknown field": (_ntt(field="mersenne31"), "field"),
    "off-curve point": (_msm(points=[G, OFF_CURVE]), "points"),
    "coordinate out of range": (_msm(points=[G, [str(BN254_P), "2"]]), "points"),
    "length mismatch": (_msm(scalars=["1"]), "scalars"),
    "scalar out of range": (_msm(scalars=["1", str(R)]), "scalars"),
    "negative scalar": (_msm(scalars=["1", "-1"]), "scalars"),
    "value out of range": (_ntt(values=["1", "2", "3", str(R)]), "values"),
    "size not a power of two": (_ntt(values=["1", "2", "3"]), "values"),
    "empty ntt": (_ntt(values=[]), "values"),
    "not a number": (_ntt(values=["1", "2", "x3", "4"]), "values"),
    "float": (_ntt(values=["1", "2", 3.5, "4"]), "values"),
    "boolean": (_ntt(values=["1", "2", True, "4"]), "values"),
    "point not a pair": (_msm(points=[G, ["1"]]), "points"),
    "unknown kind": ({"kind": "fft", "values": ["1"]}, "kind"),
    "missing field": ({"kind": "ntt", "values": ["1"]}, "field"),
    "extra field": (_ntt(colour="blue"), "colour"),
    "inverse not a bool": (_ntt(inverse="yes"), "inverse"),
}


def _job_rows(pool) -> int:
    with Session(pool.state.engine) as session:
        return session.exec(select(func.count()).select_from(Job)).one()


def _blobs(pool) -> list:
    root = pool.settings.blob_dir
    return list(root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("case", sorted(BAD_JOBS))
def test_bad_job_is_refused_and_nothing_stored(pool, case):
    body, field = BAD_JOBS[case]
    answer = pool.client.post("/v1/jobs", json=body, headers=pool.operator)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    named = [field in [str(part) for part in d["loc"]] or field in d["msg"] for d in detail]
    assert any(named), detail
    assert _job_rows(pool) == 0
    assert _blobs(pool) == []


def test_malformed_json_is_422(pool):
    answer = pool.client.post(
        "/v1/jobs",
        content=b"{not json",
        headers={"Content-Type": "application/json", **pool.operator},
    )
    assert answer.status_code == 422
    assert _job_rows(pool) == 0


def test_oversize_body_is_413_before_reading(pool):
    big = {"kind": "ntt", "field": "bn254_fr", "values": ["1"] * (1 << 19)}
    answer = pool.client.post("/v1/jobs", json=big, headers=pool.operator)
    assert answer.status_code == 413
    assert "limit" in answer.json()["detail"]
    assert _job_rows(pool) == 0


def test_reward_body_is_validated(pool):
    for body in (
        {"amount_units": 0, "idempotency_key": "a"},
        {"amount_units": -5, "idempotency_key": "a"},
        {"amount_units": 1.5, "idempotency_key": "a"},
        {"amount_units": "10", "idempotency_key": "a"},
        {"amount_units": 10, "idempotency_key": ""},
        {"amount_units": 10},
    ):
        answer = pool.client.post("/v1/jobs/x/reward", json=body, headers=pool.operator)
        assert answer.status_code == 422, (body, answer.text)


def test_operator_endpoints_need_the_operator_token(pool):
    body = {"amount_units": 10, "idempotency_key": "a"}
    assert pool.client.post("/v1/jobs/x/reward", json=body).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert pool.client.post("/v1/jobs/x/reward", json=body, headers=wrong).status_code == 403
    assert pool.client.post("/v1/contributors", json={"name": "eve"}).status_code == 401
    assert (
        pool.client.post("/v1/contributors", json={"name": "eve"}, headers=wrong).status_code == 403
    )
    with Session(pool.state.engine) as session:
        assert session.exec(select(func.count()).select_from(Contributor)).one() == 0


def test_node_registration_needs_a_contributor_key(pool, ray_cluster):
    node_id = ray_cluster.worker_node_ids[0]
    node = {"ray_node_id": node_id, "registration_secret": secret_of(node_id)}
    assert pool.client.post("/v1/nodes", json=node).status_code == 401
    bad = {"Authorization": "Bearer pp_wrong"}
    assert pool.client.post("/v1/nodes", json=node, headers=bad).status_code == 403
    alice = pool.add_contributor("alice")
    mallory = pool.add_contributor("mallory")
    as_alice = {"Authorization": f"Bearer {alice['api_key']}"}
    as_mallory = {"Authorization": f"Bearer {mallory['api_key']}"}
    assert pool.client.post("/v1/nodes", json=node, headers=as_alice).status_code == 201
    assert pool.client.post("/v1/nodes", json=node, headers=as_mallory).status_code == 409
    bad_id = {"ray_node_id": "not-a-node", "registration_secret": secret_of(node_id)}
    assert pool.client.post("/v1/nodes", json=bad_id, headers=as_alice).status_code == 422
    duplicate = pool.client.post("/v1/contributors", json={"name": "alice"}, headers=pool.operator)
    assert duplicate.status_code == 409


def test_health_and_metrics(pool):
    health = pool.client.get("/healthz")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    assert health.json()["redis"] == "ok"
    pool.client.post("/v1/jobs", json=_ntt(), headers=pool.operator)
    text = pool.client.get("/metrics").text
    assert 'proverpool_jobs_submitted_total{kind="ntt"} 1.0' in text

"""Jobs over HTTP beyond JSON: binary bodies and results (architecture §4), cancel, limits."""

from __future__ import annotations

import random

import pytest

from workers import msm, ntt
from workers.codec.arrays import decode_elements, elements_from_ints, encode_elements, encode_points
from workers.params import FIELDS
from workers.reference import random_points

BABYBEAR = FIELDS["babybear"].modulus
R = FIELDS["bn254_fr"].modulus
OCTET = {"Content-Type": "application/octet-stream"}


def test_binary_jobs_end_to_end(pool, ray_cluster):
    pool.add_contributor("alice", ray_cluster.worker_node_ids[0])
    rng = random.Random(6)
    values = [rng.randrange(BABYBEAR) for _ in range(64)]
    created = pool.client.post(
        "/v1/jobs",
        content=encode_elements("babybear", elements_from_ints("babybear", values)),
        params={"kind": "ntt", "field": "babybear"},
        headers=OCTET | pool.operator,
    )
    assert created.status_code == 201, created.text
    points = random_points("bn254_g1", 16, rng)
    scalars = [rng.randrange(R) for _ in points]
    body = encode_points("bn254_g1", points) + b"".join(k.to_bytes(32, "little") for k in scalars)
    created_msm = pool.client.post(
        "/v1/jobs",
        content=body,
        params={"kind": "msm", "curve": "bn254_g1"},
        headers=OCTET | pool.operator,
    )
    assert created_msm.status_code == 201, created_msm.text

    ntt_job = pool.wait(created.json()["id"])
    assert [int(v) for v in ntt_job["result"]] == list(ntt("babybear", values))
    raw = pool.client.get(f"/v1/jobs/{ntt_job['id']}", params={"format": "binary"})
    assert raw.headers["content-type"] == "application/octet-stream"
    expected = ntt("babybear", values)
    assert raw.content == encode_elements("babybear", elements_from_ints("babybear", expected))
    assert len(raw.content) == 64 * 4
    assert decode_elements("babybear", raw.content).tolist() == expected

    msm_job = pool.wait(created_msm.json()["id"])
    expected = tuple(msm("bn254_g1", points, scalars))
    assert tuple(int(v) for v in msm_job["result"]) == expected
    by_accept = pool.client.get(
        f"/v1/jobs/{msm_job['id']}", headers={"Accept": "application/octet-stream"}
    )
    assert by_accept.content == encode_points("bn254_g1", [expected])


def test_bad_binary_bodies_are_refused(api):
    off_curve = (1).to_bytes(32, "little") + (3).to_bytes(32, "little")
    cases = [
        ({"kind": "ntt", "field": "babybear"}, b"\x01\x00\x00"),  # not whole elements
        ({"kind": "ntt", "field": "babybear"}, (BABYBEAR).to_bytes(4, "little") * 2),
        ({"kind": "ntt", "field": "nope"}, b"\x00" * 8),
        ({"kind": "ntt", "field": "babybear"}, b"\x00" * 12),  # 3 is not a power of two
        ({"field": "babybear"}, b"\x00" * 8),  # no kind
        ({"kind": "msm", "curve": "bn254_g1"}, off_curve + b"\x00" * 32),
        ({"kind": "msm", "curve": "bn254_g1"}, b"\x00" * 95),
        ({"kind": "msm"}, b"\x00" * 96),
    ]
    for params, content in cases:
        answer = api.client.post(
            "/v1/jobs", content=content, params=params, headers=OCTET | api.operator
        )
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["detail"]
    text = api.client.post(
        "/v1/jobs", content=b"x", headers={"Content-Type": "text/plain", **api.operator}
    )
    assert text.status_code == 415 and "Content-Type" in text.json()["detail"]
    assert api.client.get("/v1/jobs").json()["total"] == 0


def _queued_job(api) -> str:
    created = api.client.post(
        "/v1/jobs",
        json={"kind": "ntt", "field": "babybear", "values": [1, 2, 3, 4]},
        headers=api.operator,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_cancel_a_queued_job(api):
    job_id = _queued_job(api)
    assert api.client.post(f"/v1/jobs/{job_id}/cancel").status_code == 401
    cancelled = api.client.post(f"/v1/jobs/{job_id}/cancel", headers=api.operator)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert api.client.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    again = api.client.post(f"/v1/jobs/{job_id}/cancel", headers=api.operator)
    assert again.status_code == 409
    assert api.client.post("/v1/jobs/nope/cancel", headers=api.operator).status_code == 404
    listed = api.client.get("/v1/jobs", params={"status": "cancelled"}).json()
    assert [j["id"] for j in listed["items"]] == [job_id]
    no_result = api.client.get(f"/v1/jobs/{job_id}", params={"format": "binary"})
    assert no_result.status_code == 409
    assert 'proverpool_jobs{status="cancelled"} 1.0' in api.client.get("/metrics").text


def test_a_streamed_body_over_the_limit_is_refused(api):
    def chunks():
        for _ in range(40):
            yield b"\x00" * 32768  # 1.25 MiB in all, no Content-Length

    answer = api.client.post(
        "/v1/jobs",
        content=chunks(),
        params={"kind": "ntt", "field": "babybear"},
        headers=OCTET | api.operator,
    )
    assert answer.status_code == 413
    assert "limit" in answer.json()["detail"]
    declared = api.client.post("/v1/jobs", content=b"\x00" * (1 << 20) + b"\x00" * 4, headers=OCTET)
    assert declared.status_code == 413


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_rate_limits_per_key_and_per_ip(make_api):
    api = make_api(rate_limit_ip_requests=3, rate_limit_key_requests=2)
    statuses = [api.client.get("/v1/jobs").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.client.get("/v1/jobs")
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 61
    assert "rate limit" in limited.json()["detail"]
    assert api.client.get("/healthz").status_code == 200  # only /v1 is limited
    assert api.client.post("/v1/invites", headers=api.operator).status_code == 201  # exempt
    key = api.key(api.add_contributor("carol"))  # a real key: a bucket of its own
    codes = [api.client.get("/v1/nodes", headers=key).status_code for _ in range(3)]
    assert codes == [200, 200, 429]

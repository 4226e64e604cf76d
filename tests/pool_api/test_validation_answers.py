"""Issue 17 item 10: validation answers are short, never echo the input, and say what fits.

One app (no job runner, SQLite, embedded Redis) serves every case of the module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from pool_api.errors import MAX_MESSAGE_CHARS
from pool_api.main import create_app
from pool_api.settings import Settings
from pool_api.store.models import Job

OPERATOR_TOKEN = "validation-test-operator-token-0123456789"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
KIND_MESSAGE = "kind must be one of msm, ntt, groth16"
G = ["1", "2"]


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("validation") / "data",
        operator_token=OPERATOR_TOKEN,
        max_body_bytes=16 << 20,
        rate_limit_ip_requests=10**9,
        rate_limit_key_requests=10**9,
        rate_limit_auth_failures=10**9,
    )
    with TestClient(create_app(settings, start_runner=False)) as test_client:
        yield test_client


def _jobs(client: TestClient) -> int:
    with Session(client.app.state.pool.engine) as session:
        return session.exec(select(func.count()).select_from(Job)).one()


def _post(client: TestClient, body: object) -> tuple[int, list[dict]]:
    answer = client.post("/v1/jobs", json=body, headers=OPERATOR)
    return answer.status_code, answer.json()["detail"]


def test_a_large_request_with_one_typo_gets_a_short_answer_without_its_input(client):
    big = "1" * 76
    points = [[big, big]] * 6000
    # one typo in a ~1.4 MB body: "scalar" for "scalars"
    body = {"kind": "msm", "curve": "bn254_g1", "points": points, "scalar": [big] * 6000}
    assert len(json.dumps(body)) > 1_300_000
    answer = client.post("/v1/jobs", json=body, headers=OPERATOR)
    assert answer.status_code == 422
    assert len(answer.content) < 1000, answer.text[:2000]
    for detail in answer.json()["detail"]:
        assert set(detail) == {"loc", "msg", "type"}
    assert big not in answer.text
    assert _jobs(client) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "fft", "field": "bn254_fr", "values": ["1"]},
        {"kind": "groth16", "values": ["1"]},
        {"field": "bn254_fr", "values": ["1", "2"]},
    ],
    ids=["unknown", "groth16 as json", "missing"],
)
def test_an_unknown_or_missing_kind_names_the_kinds(client, body):
    status, detail = _post(client, body)
    assert status == 422
    assert detail[0]["loc"] == ["body", "kind"]
    assert detail[0]["msg"].startswith(KIND_MESSAGE)
    assert _jobs(client) == 0


def test_an_unknown_binary_kind_names_the_kinds(client):
    headers = {**OPERATOR, "Content-Type": "application/octet-stream"}
    answer = client.post("/v1/jobs?kind=fft", content=b"\0" * 32, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {"loc": ["query", "kind"], "msg": KIND_MESSAGE, "type": "literal_error"}
    ]
    answer = client.post("/v1/jobs", content=b"\0" * 32, headers=headers)  # no ?kind= at all
    assert answer.status_code == 422
    assert KIND_MESSAGE in answer.json()["detail"][0]["msg"]
    assert _jobs(client) == 0


def test_an_empty_msm_is_refused(client):
    status, detail = _post(
        client, {"kind": "msm", "curve": "bn254_g1", "points": [], "scalars": []}
    )
    assert status == 422
    assert detail == [
        {
            "loc": ["body", "points"],
            "msg": "an MSM needs at least one point and scalar",
            "type": "KernelInputError",
        }
    ]
    headers = {**OPERATOR, "Content-Type": "application/octet-stream"}
    answer = client.post("/v1/jobs?kind=msm&curve=bn254_g1", content=b"", headers=headers)
    assert answer.status_code == 422
    assert "at least one point" in answer.json()["detail"][0]["msg"]
    assert _jobs(client) == 0


def test_messages_quoting_what_they_refuse_stay_short(client):
    status, detail = _post(
        client, {"kind": "msm", "curve": "bn254_g1", "points": [G], "scalars": ["z" * 100_000]}
    )
    assert status == 422
    assert len(detail[0]["msg"]) <= MAX_MESSAGE_CHARS
    status, detail = _post(
        client, {"kind": "msm", "curve": "c" * 100_000, "points": [G], "scalars": ["1"]}
    )
    assert status == 422 and detail[0]["loc"][-1] == "curve"
    assert len(str(detail)) < 500
    answer = client.post(
        "/v1/contributors",
        json={"invite": "i" * 100_000, "name": "eve", "payout_address": "x"},
        headers=OPERATOR,
    )
    assert answer.status_code == 422 and len(answer.content) < 1000
    assert _jobs(client) == 0

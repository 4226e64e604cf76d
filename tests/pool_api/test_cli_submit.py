"""``proverpool submit groth16`` over real HTTP against the pool's own app (uvicorn, the job
runner, the test Ray cluster): the key is uploaded once, the proof comes back and passes the
pairing check, snarkjs' files are written; bad input and an unreachable pool exit 2."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from pool_api.cli.app import app
from pool_api.main import create_app
from pool_api.settings import Settings
from pool_api.store import migrate
from pool_api.store.models import Job, Zkey

from ray_cluster import secret_of
from runner_pool import OPERATOR_TOKEN

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "groth16"
ZKEY = FIXTURES / "chain10.zkey"
WTNS = FIXTURES / "chain10.w2.wtns"


@pytest.fixture(scope="module")
def server(ray_cluster, tmp_path_factory):
    """The pool (with its runner, SQLite, embedded Redis) under uvicorn: ``(url, app)``."""
    tmp_path = tmp_path_factory.mktemp("cli_submit_pool")
    db_url = f"sqlite:///{tmp_path / 'pool.sqlite3'}"
    migrate.upgrade_url(db_url)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        operator_token=OPERATOR_TOKEN,
        ray_address=ray_cluster.address,
        msm_min_chunk_points=128,
        max_body_bytes=4 << 20,
    )
    pool_app = create_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(pool_app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the pool did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    for i, node_id in enumerate(ray_cluster.worker_node_ids):  # only registered nodes work
        created = httpx.post(
            f"{url}/v1/contributors", json={"name": f"worker-{i}"}, headers=operator
        ).json()
        registered = httpx.post(
            f"{url}/v1/nodes",
            json={"ray_node_id": node_id, "registration_secret": secret_of(node_id)},
            headers={"Authorization": f"Bearer {created['api_key']}"},
        )
        assert registered.status_code == 201, registered.text
    yield url, pool_app
    uv.should_exit = True
    thread.join(15)


def submit(url: str, tmp_path: Path, *extra: str, wtns: Path = WTNS):
    out, public = tmp_path / "proof.json", tmp_path / "public.json"
    args = ["submit", "groth16", str(ZKEY), str(wtns), "--out", str(out), "--public", str(public)]
    result = CliRunner().invoke(
        app, [*args, "--pool", url, "--quiet", "--token", OPERATOR_TOKEN, *extra]
    )
    return result, out, public


def _jobs(pool_app) -> int:
    with Session(pool_app.state.pool.engine) as session:
        return session.exec(select(func.count()).select_from(Job)).one()


def _stored_keys(pool_app) -> int:
    with Session(pool_app.state.pool.engine) as session:
        return session.exec(select(func.count()).select_from(Zkey)).one()


def test_submit_writes_snarkjs_files(server, tmp_path):
    url, pool_app = server
    result, out, public = submit(url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "done" in result.output
    proof = json.loads(out.read_text())
    assert proof["protocol"] == "groth16" and proof["curve"] == "bn128"
    inputs = json.loads((FIXTURES / "chain10.w2.input.json").read_text())
    assert json.loads(public.read_text())[1:] == [inputs["b"], inputs["c"]]
    # The key is uploaded once and reused; the same command again finds its first job.
    result, _, _ = submit(url, tmp_path)
    assert result.exit_code == 0, result.output
    assert _stored_keys(pool_app) == 1


def test_submit_failures(server, tmp_path, monkeypatch):
    url, pool_app = server
    before = _stored_keys(pool_app)
    # A witness of another circuit is refused before anything is sent.
    result, out, _ = submit(url, tmp_path, wtns=FIXTURES / "chain12.w1.wtns")
    assert result.exit_code == 2 and "1004 signals" in result.output
    assert not out.exists() and _stored_keys(pool_app) == before
    # A wrong token: the pool refuses the submission (403), exit 4, nothing queued.
    jobs_before = _jobs(pool_app)
    result, out, _ = submit(url, tmp_path, "--token", "not-a-submitter-key")
    assert result.exit_code == 4 and "403" in result.output, result.output
    assert not out.exists() and _jobs(pool_app) == jobs_before
    # No pool there: exit 3 (unreachable); the URL also comes from PROVERPOOL_URL.
    monkeypatch.setenv("PROVERPOOL_URL", "http://127.0.0.1:9")
    out, public = tmp_path / "p.json", tmp_path / "q.json"
    result = CliRunner().invoke(
        app, ["submit", "groth16", str(ZKEY), str(WTNS), "--out", str(out), "--public", str(public)]
    )
    assert result.exit_code == 3 and "127.0.0.1:9" in result.output

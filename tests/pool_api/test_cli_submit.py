"""``proverpool submit groth16`` over real HTTP, against a small reference server of the
interface proposed in :mod:`pool_api.cli_submit` (the pool's own routes are not wired yet):
it stores keys by hash, proves with the real :class:`workers.groth16.Groth16Prover`, and can be
told to fail a job or to return a corrupted proof."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from typer.testing import CliRunner

from pool_api.cli import app
from workers.errors import Groth16InputError
from workers.groth16 import Groth16Prover, check_witness, read_wtns, read_zkey

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "groth16"
ZKEY = FIXTURES / "chain10.zkey"
WTNS = FIXTURES / "chain10.w2.wtns"


def reference_app(mode: dict) -> FastAPI:
    api = FastAPI()
    keys: dict[str, object] = {}
    jobs: dict[str, dict] = {}

    def key_info(digest: str) -> dict:
        zkey = keys[digest]
        return {
            "hash": digest,
            "n_vars": zkey.n_vars,
            "n_public": zkey.n_public,
            "domain_size": zkey.domain_size,
        }

    @api.get("/v1/zkeys/{digest}")
    def get_key(digest: str) -> dict:
        if digest not in keys:
            raise HTTPException(404, f"no zkey {digest}")
        return key_info(digest)

    @api.post("/v1/zkeys", status_code=201)
    async def post_key(request: Request) -> dict:
        body = await request.body()
        try:
            zkey = read_zkey(body)
        except Groth16InputError as exc:
            raise HTTPException(422, str(exc)) from exc
        digest = hashlib.sha256(body).hexdigest()
        keys[digest] = zkey
        mode["uploads"] = mode.get("uploads", 0) + 1
        return key_info(digest)

    @api.post("/v1/jobs", status_code=201)
    async def post_job(request: Request, kind: str, zkey: str) -> dict:
        if kind != "groth16" or zkey not in keys:
            raise HTTPException(404, f"no zkey {zkey}")
        try:
            witness = read_wtns(await request.body())
            check_witness(keys[zkey], witness)
        except Groth16InputError as exc:
            raise HTTPException(422, str(exc)) from exc
        job_id = uuid.uuid4().hex
        jobs[job_id] = {"zkey": zkey, "witness": witness, "polls": 0}
        return {"id": job_id}

    @api.get("/v1/jobs/{job_id}")
    def get_job(job_id: str) -> dict:
        job = jobs[job_id]
        job["polls"] += 1
        status, done = "running", 2
        if job["polls"] >= 2:
            if mode.get("fail"):
                status = "failed"
            else:
                proof = Groth16Prover().prove(keys[job["zkey"]], job["witness"])
                job["proof"] = proof
                status, done = "done", 5
        error = "chunk 3 failed for good" if status == "failed" else None
        return {
            "id": job_id,
            "kind": "groth16",
            "status": status,
            "progress": {"chunks_done": done, "chunks_total": 5},
            "result": None,
            "error": error,
        }

    @api.get("/v1/jobs/{job_id}/proof")
    def get_proof(job_id: str) -> dict:
        proof = jobs[job_id].get("proof")
        if proof is None:
            raise HTTPException(409, "not done")
        body = proof.proof_json()
        if mode.get("corrupt"):
            body["pi_a"], body["pi_c"] = body["pi_c"], body["pi_a"]
        return {"proof": body, "public": proof.public_json()}

    return api


@pytest.fixture(scope="module")
def server():
    mode: dict = {}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(reference_app(mode), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "reference server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", mode
    uv.should_exit = True
    thread.join(10)


def submit(url: str, tmp_path: Path, *extra: str, wtns: Path = WTNS):
    out, public = tmp_path / "proof.json", tmp_path / "public.json"
    args = ["submit", "groth16", str(ZKEY), str(wtns), "--out", str(out), "--public", str(public)]
    result = CliRunner().invoke(app, [*args, "--pool", url, "--quiet", *extra])
    return result, out, public


def test_submit_writes_snarkjs_files(server, tmp_path):
    url, mode = server
    mode.clear()
    result, out, public = submit(url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "done" in result.output
    proof = json.loads(out.read_text())
    assert proof["protocol"] == "groth16" and proof["curve"] == "bn128"
    assert len(json.loads(public.read_text())) == 3
    # The key is uploaded once and reused.
    result, _, _ = submit(url, tmp_path)
    assert result.exit_code == 0, result.output
    assert mode["uploads"] == 1


def test_submit_failures(server, tmp_path, monkeypatch):
    url, mode = server
    mode.clear()
    mode["fail"] = True
    result, out, _ = submit(url, tmp_path)
    assert result.exit_code == 1 and "chunk 3 failed for good" in result.output
    assert not out.exists()
    mode.clear()
    mode["corrupt"] = True
    result, out, _ = submit(url, tmp_path)
    assert result.exit_code == 1 and "pairing check" in result.output
    assert not out.exists()
    # A witness of another circuit is refused before anything is sent.
    mode.clear()
    mode["uploads"] = 0
    result, _, _ = submit(url, tmp_path, wtns=FIXTURES / "chain12.w1.wtns")
    assert result.exit_code == 2 and "1004 signals" in result.output
    assert mode["uploads"] == 0
    # No pool there: exit 2; the URL also comes from PROVERPOOL_URL.
    monkeypatch.setenv("PROVERPOOL_URL", "http://127.0.0.1:9")
    out, public = tmp_path / "p.json", tmp_path / "q.json"
    result = CliRunner().invoke(
        app, ["submit", "groth16", str(ZKEY), str(WTNS), "--out", str(out), "--public", str(public)]
    )
    assert result.exit_code == 2 and "127.0.0.1:9" in result.output

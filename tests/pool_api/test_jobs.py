"""The walking skeleton over HTTP: submit, split, run on Ray, combine, credit, reward."""

from __future__ import annotations

import random

import pytest
from sqlmodel import Session, select

from pool_api.store.chunks import unpack_value
from pool_api.store.models import ChunkRecord, Job, JobStatus
from workers import msm, ntt
from workers.codec import arrays
from workers.codec.limb_arrays import limbs_to_points
from workers.params import CURVES, FIELDS
from workers.reference import random_points

R = FIELDS["bn254_fr"].modulus
CURVE = CURVES["bn254_g1"]


def msm_body(points, scalars) -> dict:
    return {
        "kind": "msm",
        "curve": "bn254_g1",
        "points": [[str(x), str(y)] for x, y in points],
        "scalars": [str(k) for k in scalars],
    }


def test_msm_job_end_to_end_credits_both_nodes(pool, ray_cluster):
    alice = pool.add_contributor("alice", ray_cluster.worker_node_ids[0])
    bob = pool.add_contributor("bob", ray_cluster.worker_node_ids[1])
    points = random_points("bn254_g1", 64, random.Random(1))
    scalars = [random.Random(2).randrange(R) for _ in points]
    created = pool.client.post("/v1/jobs", json=msm_body(points, scalars), headers=pool.operator)
    assert created.status_code == 201, created.text
    job = pool.wait(created.json()["id"])
    assert job["status"] == "done", job
    assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
    assert job["progress"]["chunks_done"] == job["progress"]["chunks_total"] >= 2

    with Session(pool.state.engine) as session:
        records = session.exec(select(ChunkRecord).where(ChunkRecord.job_id == job["id"])).all()
    assert len(records) == job["progress"]["chunks_total"]
    owner = dict(zip(ray_cluster.worker_node_ids, (alice["id"], bob["id"]), strict=True))
    assert all(r.contributor_id == owner[r.ray_node_id] for r in records)
    assert sum(r.work_units for r in records) == 64 * 240

    board = {row["id"]: row for row in pool.client.get("/v1/contributors").json()}
    assert board[alice["id"]]["work_units"] + board[bob["id"]]["work_units"] == 64 * 240

    # A reward is split exactly (PROP, 5% fee by default) and is idempotent.
    body = {"amount_units": 1_000_001, "idempotency_key": "reward-1"}
    reward = pool.client.post(f"/v1/jobs/{job['id']}/reward", json=body, headers=pool.operator)
    assert reward.status_code == 201, reward.text
    posted = reward.json()
    assert posted["status"] == "created"
    assert posted["fee_units"] == 1_000_001 * 500 // 10_000
    total = (
        posted["fee_units"]
        + posted["held_units"]
        + sum(s["amount_units"] for s in posted["shares"])
    )
    assert total == 1_000_001
    before = pool.client.get("/v1/contributors").json()
    again = pool.client.post(f"/v1/jobs/{job['id']}/reward", json=body, headers=pool.operator)
    assert again.status_code == 200 and again.json()["status"] == "exists"
    assert pool.client.get("/v1/contributors").json() == before
    assert sum(row["balance_units"] for row in before) == 1_000_001 - posted["fee_units"]
    changed = {"amount_units": 5, "idempotency_key": "reward-1"}
    conflict = pool.client.post(f"/v1/jobs/{job['id']}/reward", json=changed, headers=pool.operator)
    assert conflict.status_code == 409
    assert pool.client.get("/v1/contributors").json() == before


def test_ntt_job_forward_and_inverse(pool, ray_cluster):
    pool.add_workers(ray_cluster.worker_node_ids)  # only registered nodes get chunks
    rng = random.Random(3)
    values = [rng.randrange(R) for _ in range(256)]
    for inverse in (False, True):
        body = {"kind": "ntt", "field": "bn254_fr", "values": [str(v) for v in values]}
        body["inverse"] = inverse
        created = pool.client.post("/v1/jobs", json=body, headers=pool.operator)
        assert created.status_code == 201, created.text
        job = pool.wait(created.json()["id"])
        assert job["status"] == "done", job
        assert [int(v) for v in job["result"]] == ntt("bn254_fr", values, inverse=inverse)


def test_hex_and_integer_numbers_are_accepted(pool, ray_cluster):
    pool.add_workers(ray_cluster.worker_node_ids)
    body = {"kind": "ntt", "field": "bn254_fr", "values": ["0x01", 2, "3", "0X4"]}
    job = pool.wait(pool.client.post("/v1/jobs", json=body, headers=pool.operator).json()["id"])
    assert [int(v) for v in job["result"]] == ntt("bn254_fr", [1, 2, 3, 4])


def test_a_job_without_credited_work_has_its_reward_held(pool):
    """A done job nobody is credited for (unregistered nodes get no chunks at all, issue 14
    item 1, so this is a job whose only workers were struck): its reward is held."""
    pool.state.runner.stop()
    with Session(pool.state.engine) as session:
        session.add(
            Job(
                id="nocredit",
                kind="ntt",
                field="bn254_fr",
                size=4,
                input_sha256="x" * 64,
                status=JobStatus.done,
            )
        )
        session.commit()
    reward = pool.client.post(
        "/v1/jobs/nocredit/reward",
        json={"amount_units": 999, "idempotency_key": "held"},
        headers=pool.operator,
    ).json()
    assert reward["shares"] == []
    assert reward["fee_units"] + reward["held_units"] == 999


def test_reward_needs_a_finished_job(pool):
    with Session(pool.state.engine) as session:
        session.add(Job(id="queued1", kind="ntt", field="bn254_fr", size=4, input_sha256="x" * 64))
        session.commit()
    pool.state.runner.stop()  # keep it queued
    body = {"amount_units": 10, "idempotency_key": "k"}
    assert (
        pool.client.post("/v1/jobs/nope/reward", json=body, headers=pool.operator).status_code
        == 404
    )
    answer = pool.client.post("/v1/jobs/queued1/reward", json=body, headers=pool.operator)
    assert answer.status_code == 409
    assert pool.client.get("/v1/jobs/nope").status_code == 404


@pytest.mark.parametrize("field", ["bls12_381_fr", "goldilocks", "babybear"])
def test_ntt_job_on_every_field(pool, ray_cluster, field):
    """Every field through the pool; its blobs at rest are compact words (4, 8 or 32 bytes an
    element: the input, the result and every chunk value)."""
    pool.add_workers(ray_cluster.worker_node_ids)
    rng = random.Random(field)
    values = [rng.randrange(FIELDS[field].modulus) for _ in range(64)]
    body = {"kind": "ntt", "field": field, "values": [str(v) for v in values], "inverse": True}
    job = pool.wait(pool.client.post("/v1/jobs", json=body, headers=pool.operator).json()["id"])
    assert job["status"] == "done", job
    expected = ntt(field, values, inverse=True)
    assert [int(v) for v in job["result"]] == expected
    with Session(pool.state.engine) as session:
        row = session.get(Job, job["id"])
        records = session.exec(select(ChunkRecord).where(ChunkRecord.job_id == job["id"])).all()
    blobs = pool.state.blobs
    stored_input, stored_result = blobs.get(row.input_sha256), blobs.get(row.result_sha256)
    assert stored_input == arrays.encode_elements(field, arrays.elements_from_ints(field, values))
    assert stored_result == arrays.encode_elements(
        field, arrays.elements_from_ints(field, expected)
    )
    assert len(stored_input) == len(stored_result) == 64 * arrays.element_width(field)
    chunks = [unpack_value(blobs.get(r.result_sha256)) for r in records]
    assert all(c.dtype == arrays.element_dtype(field) for c in chunks)
    assert sum(c.nbytes for c in chunks) == 2 * len(stored_result)  # both phases, n each


def test_idempotency_key_returns_the_first_job(pool):
    body = {"kind": "ntt", "field": "bn254_fr", "values": ["1", "2", "3", "4"]}
    key = {"Idempotency-Key": "submit-42"}
    first = pool.client.post("/v1/jobs", json=body, headers=key | pool.operator)
    assert first.status_code == 201, first.text
    again = pool.client.post("/v1/jobs", json=body, headers=key | pool.operator)
    assert again.status_code == 200 and again.json() == first.json()
    other = dict(body, values=["1", "2", "3", "5"])
    assert pool.client.post("/v1/jobs", json=other, headers=key | pool.operator).status_code == 409
    assert (
        pool.client.post("/v1/jobs", json=body, headers=pool.operator).json()["id"]
        != first.json()["id"]
    )
    too_long = {"Idempotency-Key": "k" * 129}
    assert (
        pool.client.post("/v1/jobs", json=body, headers=too_long | pool.operator).status_code == 422
    )
    listed = pool.client.get("/v1/jobs").json()
    assert listed["total"] == 2


def test_list_jobs_filters_and_pages(pool, ray_cluster):
    pool.add_workers(ray_cluster.worker_node_ids)
    ids = []
    for n in (2, 4, 8):
        body = {"kind": "ntt", "field": "bn254_fr", "values": [str(i) for i in range(n)]}
        ids.append(pool.client.post("/v1/jobs", json=body, headers=pool.operator).json()["id"])
    for job_id in ids:
        pool.wait(job_id)
    page = pool.client.get("/v1/jobs", params={"limit": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    rest = pool.client.get("/v1/jobs", params={"limit": 2, "offset": 2}).json()
    assert {j["id"] for j in page["items"] + rest["items"]} == set(ids)
    assert (
        pool.client.get("/v1/jobs", params={"status": "done", "kind": "ntt"}).json()["total"] == 3
    )
    assert pool.client.get("/v1/jobs", params={"kind": "msm"}).json()["total"] == 0
    assert pool.client.get("/v1/jobs", params={"status": "nonsense"}).status_code == 422
    assert pool.client.get("/v1/jobs", params={"limit": 0}).status_code == 422


def _json_point(point) -> list:
    return [
        [str(c) for c in coordinate] if isinstance(coordinate, tuple) else str(coordinate)
        for coordinate in point
    ]


@pytest.mark.parametrize("curve", ["bls12_381_g1", "bn254_g2"])
def test_msm_job_on_other_curves_json_and_binary(pool, ray_cluster, curve):
    """Every curve runs through the pool; results come back as JSON (G2 nested) and binary."""
    pool.add_contributor(f"c-{curve}", ray_cluster.worker_node_ids[0])
    rng = random.Random(3)
    points = random_points(curve, 6, rng)
    order = CURVES[curve].order
    scalars = [rng.randrange(order) for _ in points[:-1]] + [order - 1]
    body = {"kind": "msm", "curve": curve, "points": [_json_point(p) for p in points]}
    body["scalars"] = [str(k) for k in scalars]
    created = pool.client.post("/v1/jobs", json=body, headers=pool.operator)
    assert created.status_code == 201, created.text
    job = pool.wait(created.json()["id"])
    assert job["status"] == "done", job
    expected = msm(curve, points, scalars)
    assert job["result"] == _json_point(expected)
    raw = pool.client.get(f"/v1/jobs/{job['id']}?format=binary")
    assert raw.status_code == 200, raw.text
    assert limbs_to_points(arrays.decode_points(curve, raw.content), curve) == [expected]

"""Issue 14 item 5: a chunk result is accepted exactly as it was verified.

The fault: the head checked a converted copy of a worker's reply and kept the worker's
own object.  A worker replying with ``int64`` words (the right bits) could pass the
check, and its blocks, joined with honest ``uint64`` ones, turned the NTT result into
``float64`` (every output wrong, nobody struck); a reply of another type (a list for an
MSM point, an object that is not a ``ChunkOutput`` at all) crashed the job instead of
failing its check.

What must hold: every reply is put in one canonical form (dtype, shape, C-contiguous
base ``ndarray``; an MSM point as a tuple of ints on the curve) before it is checked,
and that exact value is checked, recorded and combined.  A reply that converts without
loss is accepted; one that does not is a failed check (the node is struck).  Either way
the job ends ``done`` with the right result: never ``float64``, never a crash.

The odd replies come from real worker nodes whose environment sets
``PROVERPOOL_TEST_REPLY_FORM`` (honoured in test mode only, workers/cluster/tasks.py).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from sqlmodel import Session, select

from pool_api.store.blobs import BlobStore
from pool_api.store.chunks import unpack_value
from pool_api.store.models import Strike
from workers import msm, ntt
from workers.cluster import verify
from workers.codec.arrays import element_dtype
from workers.params import CURVES, FIELDS

from ray_cluster import extra_workers
from runner_pool import job_records, make_pool, msm_body

FIXTURES = (extra_workers, make_pool)  # used as test arguments
REPLY_FORM = "PROVERPOOL_TEST_REPLY_FORM"


def _strikes(pool, contributor_id: int) -> list[Strike]:
    with Session(pool.state.engine) as session:
        return list(session.exec(select(Strike).where(Strike.contributor_id == contributor_id)))


def _ntt_job(field: str, n: int, seed: int) -> tuple[dict, list[int]]:
    rng = random.Random(seed)
    values = [rng.randrange(FIELDS[field].modulus) for _ in range(n)]
    return {"kind": "ntt", "field": field, "values": [str(v) for v in values]}, values


def _odd_pool(make_pool, extra_workers, form: str, **settings):
    """A test-mode pool: two honest nodes and carol's node, which replies in ``form``."""
    odd = extra_workers.add_worker(env_vars={REPLY_FORM: form})
    pool = make_pool(chunks_per_node=3, **settings)
    pool.add_contributor("alice", extra_workers.worker_node_ids[0])
    pool.add_contributor("bob", extra_workers.worker_node_ids[1])
    carol = pool.add_contributor("carol", odd.node_id)
    return pool, carol, odd


def _stored_blocks_canonical(pool, job_id: str, field: str) -> None:
    blobs: BlobStore = pool.state.blobs
    for record in job_records(pool, job_id):
        value = unpack_value(blobs.get(record.result_sha256))
        assert isinstance(value, np.ndarray) and value.dtype == element_dtype(field), record.id


@pytest.mark.parametrize("field", ["goldilocks", "bn254_fr", "babybear"])
def test_int64_ntt_replies_right_result_or_struck(make_pool, extra_workers, field):
    pool, carol, odd = _odd_pool(make_pool, extra_workers, "int64")
    body, values = _ntt_job(field, 1 << 10, seed=5)
    job = pool.wait(pool.submit(body))
    assert job["status"] == "done", job
    assert job["result"] == [str(v) for v in ntt(field, values)]
    _stored_blocks_canonical(pool, job["id"], field)
    records = job_records(pool, job["id"])
    if field == "babybear":  # uint32 words as int64: converted without loss, accepted
        assert not _strikes(pool, carol["id"])
        assert any(r.ray_node_id == odd.node_id for r in records)
    else:  # 64-bit words ≥ 2^63 read as negative int64: no lossless form, a failed check
        assert len(_strikes(pool, carol["id"])) == 1
        assert all(r.contributor_id != carol["id"] for r in records)


@pytest.mark.parametrize("kind", ["ntt", "msm"])
def test_junk_reply_is_a_failed_check_not_a_crash(make_pool, extra_workers, kind):
    pool, carol, _ = _odd_pool(make_pool, extra_workers, "junk", audit_rate=0.0)
    if kind == "ntt":
        body, values = _ntt_job("bn254_fr", 1 << 10, seed=6)
        expected = [str(v) for v in ntt("bn254_fr", values)]
    else:
        body, points, scalars = msm_body(96, seed=6)
        expected = [str(v) for v in msm("bn254_g1", points, scalars)]
    job = pool.wait(pool.submit(body))
    assert job["status"] == "done", job
    assert job["result"] == expected
    assert len(_strikes(pool, carol["id"])) == 1
    assert all(r.contributor_id != carol["id"] for r in job_records(pool, job["id"]))


def test_list_msm_reply_kept_as_the_checked_point(make_pool, extra_workers):
    pool, carol, odd = _odd_pool(make_pool, extra_workers, "list", audit_rate=1.0)
    body, points, scalars = msm_body(96, seed=7)
    job = pool.wait(pool.submit(body))
    assert job["status"] == "done", job
    assert [int(v) for v in job["result"]] == list(msm("bn254_g1", points, scalars))
    assert not _strikes(pool, carol["id"])  # a list of the right ints converts without loss
    records = job_records(pool, job["id"])
    assert any(r.ray_node_id == odd.node_id for r in records)
    for record in records:
        value = unpack_value(pool.state.blobs.get(record.result_sha256))
        assert type(value) is tuple and all(type(c) is int for c in value)


# --- the canonical forms themselves (no Ray) -------------------------------------------------


def test_canonical_block_keeps_one_exact_array():
    honest = np.arange(24, dtype=np.uint64).reshape(2, 3, 4)
    fortran = np.asfortranarray(honest)
    kept = verify.canonical_block("bn254_fr", fortran, (2, 3, 4))
    assert kept.flags.c_contiguous and kept.dtype == np.uint64 and type(kept) is np.ndarray
    assert np.array_equal(kept, honest) and kept is not fortran
    big_endian = honest.astype(">u8")
    assert verify.canonical_block("bn254_fr", big_endian, (2, 3, 4)).dtype == np.dtype("<u8")
    small = np.arange(6, dtype=np.int64).reshape(2, 3)
    assert verify.canonical_block("babybear", small, (2, 3)).dtype == np.uint32
    for bad, shape in [
        (honest.view(np.int64) - 1, (2, 3, 4)),  # a negative word
        (honest.astype(np.float64), (2, 3, 4)),
        (honest.astype(object), (2, 3, 4)),
        (honest.tolist(), (2, 3, 4)),
        (honest, (2, 3)),
        (honest[:1], (2, 3, 4)),
        (np.full((2, 3), 1 << 40, dtype=np.uint64), (2, 3)),  # too wide for BabyBear
    ]:
        field = "babybear" if len(shape) == 2 else "bn254_fr"
        with pytest.raises(ValueError):
            verify.canonical_block(field, bad, shape)
    # Joined with honest blocks, the kept arrays stay uint64 (never float64).
    joined = np.concatenate(
        [honest, verify.canonical_block("bn254_fr", honest.view(np.int64), (2, 3, 4))]
    )
    assert joined.dtype == np.uint64


def test_canonical_point_checks_type_range_and_curve():
    g = CURVES["bn254_g1"].generator
    assert verify.canonical_point("bn254_g1", [np.uint64(0), 0]) == (0, 0)
    assert verify.canonical_point("bn254_g1", list(g)) == g
    p = CURVES["bn254_g1"].base_modulus
    for bad in [g[0], (g[0],), (float(g[0]), g[1]), (g[0], g[1] + 1), (g[0] + p, g[1]), "xy", None]:
        with pytest.raises(ValueError):
            verify.canonical_point("bn254_g1", bad)
    g2 = CURVES["bn254_g2"].generator
    assert verify.canonical_point("bn254_g2", [list(g2[0]), list(g2[1])]) == g2
    with pytest.raises(ValueError):
        verify.canonical_point("bn254_g2", g)

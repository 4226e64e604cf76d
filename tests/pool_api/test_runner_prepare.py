"""Pipelined jobs: the next queued Groth16 job's witness and H scalars, prepared ahead."""

from __future__ import annotations

import threading

import numpy as np

from pool_api.runner import prepare
from pool_api.runner.prepare import JobPreparer
from pool_api.store.blobs import BlobStore
from pool_api.store.models import Job
from workers.groth16 import Groth16Prover, read_wtns, read_zkey

from snarkjs_tools import FIXTURES


def _job(blobs: BlobStore, job_id: str, zkey: str, wtns: str, kind: str = "groth16") -> Job:
    zkey_sha = blobs.put((FIXTURES / zkey).read_bytes())
    input_sha = blobs.put((FIXTURES / wtns).read_bytes())
    return Job(id=job_id, kind=kind, size=1, input_sha256=input_sha, zkey_sha256=zkey_sha)


def test_prepared_job_has_the_witness_and_h_scalars(tmp_path):
    blobs = BlobStore(tmp_path)
    preparer = JobPreparer(blobs)
    try:
        job = _job(blobs, "a" * 32, "chain10.zkey", "chain10.w2.wtns")
        preparer.ahead(job)
        preparer.ahead(job)  # once is enough
        prepared = preparer.take(job.id)
        assert prepared is not None
        zkey = read_zkey((FIXTURES / "chain10.zkey").read_bytes())
        witness = read_wtns((FIXTURES / "chain10.w2.wtns").read_bytes())
        assert np.array_equal(prepared.witness, witness)
        expected = Groth16Prover().h_task(zkey, witness).scalars
        assert np.array_equal(prepared.h_scalars, expected)
        assert preparer.take(job.id) is None  # taken once
    finally:
        preparer.shutdown()


def test_only_groth16_jobs_and_failures_fall_back(tmp_path):
    blobs = BlobStore(tmp_path)
    preparer = JobPreparer(blobs)
    try:
        msm_job = _job(blobs, "b" * 32, "chain10.zkey", "chain10.w1.wtns", kind="msm")
        preparer.ahead(msm_job)
        assert preparer.take(msm_job.id) is None
        foreign = _job(blobs, "c" * 32, "chain10.zkey", "chain12.w1.wtns")  # another key's
        preparer.ahead(foreign)
        assert preparer.take(foreign.id) is None  # the executor refuses it in turn
        assert preparer.take("d" * 32) is None
    finally:
        preparer.shutdown()


def test_at_most_a_few_jobs_are_kept(tmp_path, monkeypatch):
    blobs = BlobStore(tmp_path)
    preparer = JobPreparer(blobs)
    try:
        jobs = [
            _job(blobs, f"{i:032x}", "chain10.zkey", f"chain10.w{i % 3 + 1}.wtns")
            for i in range(prepare.AHEAD_JOBS + 1)
        ]
        for job in jobs:
            preparer.ahead(job)
        assert jobs[0].id not in preparer._ahead  # the oldest was dropped
        for future in list(preparer._ahead.values()):
            future.result(timeout=60)
        assert preparer.take(jobs[0].id) is None
        assert all(preparer.take(job.id) is not None for job in jobs[1:])
    finally:
        preparer.shutdown()


def test_a_preparation_not_started_yet_is_left_to_the_executor(tmp_path):
    blobs = BlobStore(tmp_path)
    preparer = JobPreparer(blobs)
    release = threading.Event()
    real = preparer._prepare

    def held(zkey_sha256: str, input_sha256: str):
        release.wait(60)
        return real(zkey_sha256, input_sha256)

    preparer._prepare = held  # type: ignore[method-assign]
    try:
        first = _job(blobs, "e" * 32, "chain10.zkey", "chain10.w3.wtns")
        second = _job(blobs, "f" * 32, "chain10.zkey", "chain10.w1.wtns")
        preparer.ahead(first)
        preparer.ahead(second)  # queued behind the first, which is held
        assert preparer.take(second.id) is None  # cancelled: the executor computes it
        release.set()
        assert preparer.take(first.id) is not None  # under way: waited for
    finally:
        release.set()
        preparer.shutdown()

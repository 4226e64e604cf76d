"""Groth16 jobs (issue 8): proving keys uploaded once, witnesses proved across the pool.

* **Keys**: a ``.zkey`` is parsed and validated on upload
  (:func:`workers.groth16.read_zkey`), stored once in the blob store under its
  SHA-256 and described by a :class:`~pool_api.store.models.Zkey` row.  Parsed keys
  stay in a small in-process LRU (:data:`ZKEYS`), so many witnesses against one
  key parse it once.
* **Jobs**: the ``.wtns`` is validated against the key on submission
  (:func:`workers.groth16.read_wtns`, ``check_witness``) and stored as the job's
  input blob; the job row refers to the key (``Job.zkey_sha256``).
* **Proving** (:func:`run_groth16`): the prover of :mod:`workers.groth16.prover`
  (Groth, EUROCRYPT 2016, §3.2, in snarkjs' conventions) with the NTT work for
  ``H`` on the head and its five MSMs (A, B1, C, H on ``bn254_g1``, B2 on
  ``bn254_g2``) each split into chunks across the nodes by
  :func:`workers.cluster.dispatch.run_msm` under the job's policy (audits, strikes,
  retries, resumable chunk records) and credited like MSM chunks
  (:mod:`workers.cluster.costs`).  Chunk indices are offset so they are unique across
  the five MSMs (records ``<job>:<index>`` do not collide and a resumed job
  finds each chunk).  The proof is checked with the pairing check
  (:func:`workers.groth16.verify`) before the job is ``done``; if it fails,
  every chunk is computed again with a full audit (audit rate 1.0), and the job
  fails if the proof still does not verify.  The result blob is
  ``{"proof": proof.json, "public": public.json}`` (snarkjs' files).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from pool_api.errors import NotFoundError
from pool_api.store.blobs import BlobStore
from pool_api.store.models import Job, Zkey
from workers.cluster import dispatch
from workers.cluster.plan import Chunk, plan_msm
from workers.errors import ProofVerificationError
from workers.groth16 import (
    Groth16Prover,
    MsmTask,
    Proof,
    VerificationKey,
    ZKey,
    check_witness,
    read_wtns,
    read_zkey,
    verify,
)
from workers.params import CURVES

if TYPE_CHECKING:
    from pool_api.runner.loop import JobRunner
    from pool_api.runner.nodes import NodeBook

log = logging.getLogger(__name__)

ZKEY_CURVE = "bn254"
"""The only curve of snarkjs' Groth16 keys the prover takes (``bn128`` in snarkjs)."""
CALIBRATION_CURVE, CALIBRATION_FIELD = "bn254_g1", "bn254_fr"


class ZkeyCache:
    """Parsed proving keys (and their verification keys) by SHA-256, least recently used out."""

    def __init__(self, entries: int = 4) -> None:
        self.entries = entries
        self._keys: OrderedDict[str, tuple[ZKey, VerificationKey]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, sha256: str, zkey: ZKey) -> None:
        with self._lock:
            self._keys[sha256] = (zkey, VerificationKey.from_zkey(zkey))
            self._keys.move_to_end(sha256)
            while len(self._keys) > self.entries:
                self._keys.popitem(last=False)

    def get(self, blobs: BlobStore, sha256: str) -> tuple[ZKey, VerificationKey]:
        """The parsed key stored as blob ``sha256`` (parsed on a miss)."""
        with self._lock:
            found = self._keys.get(sha256)
            if found is not None:
                self._keys.move_to_end(sha256)
                return found
        self.put(sha256, read_zkey(blobs.get(sha256)))
        with self._lock:
            return self._keys[sha256]


ZKEYS = ZkeyCache()
"""The head's parsed keys (a blob's content never changes, so one cache serves every app)."""


# --- API side -------------------------------------------------------------------
def store_zkey(engine: Engine, blobs: BlobStore, raw: bytes) -> tuple[Zkey, bool]:
    """Validate and store a ``.zkey`` once: ``(its row, newly stored)``.

    Raises :class:`workers.errors.Groth16InputError` (422) for a malformed or
    unsupported key; nothing is stored then.
    """
    sha256 = hashlib.sha256(raw).hexdigest()
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Zkey, sha256)
        if row is not None:
            return row, False
    zkey = read_zkey(raw)
    blobs.put(raw)
    ZKEYS.put(sha256, zkey)
    row = Zkey(
        id=sha256,
        curve=ZKEY_CURVE,
        n_vars=zkey.n_vars,
        n_public=zkey.n_public,
        domain_size=zkey.domain_size,
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # a concurrent upload of the same key stored it first
            session.rollback()
            return find_zkey(engine, sha256), False
    return row, True


def find_zkey(engine: Engine, sha256: str) -> Zkey:
    """The key's row, or :class:`~pool_api.errors.NotFoundError` (404)."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Zkey, sha256)
    if row is None:
        raise NotFoundError(f"no zkey {sha256!r}; upload it with POST /v1/zkeys")
    return row


def parse_groth16_job(
    engine: Engine, blobs: BlobStore, raw: bytes, zkey_sha256: str | None
) -> tuple[Job, bytes]:
    """Validate a ``.wtns`` body against a stored key; ``(job without id, input blob)``.

    404 for an unknown key, 422 (:class:`~workers.errors.Groth16InputError`)
    for a malformed witness or one of another circuit.
    """
    if zkey_sha256 is None:
        from workers.errors import KernelInputError

        raise KernelInputError("a groth16 job needs ?zkey=<sha256 of the .zkey>", field="zkey")
    row = find_zkey(engine, zkey_sha256)
    zkey, _ = ZKEYS.get(blobs, row.id)
    check_witness(zkey, read_wtns(raw))
    job = Job(id="", kind="groth16", size=zkey.n_vars, input_sha256="", zkey_sha256=row.id)
    return job, raw


def proof_body(blob: bytes) -> dict[str, Any]:
    """The stored result of a ``groth16`` job: ``{"proof": …, "public": …}``."""
    return json.loads(blob)


# --- runner side ----------------------------------------------------------------
def _plan(runner: JobRunner, job: Job, tasks: list[MsmTask], eligible: dict[str, int]) -> dict:
    """Chunks per MSM (``chunks_per_node`` per slot, at least ``msm_min_chunk_points`` each),
    chosen once and stored so a resumed job keeps its chunk indices."""
    if job.plan_json:
        return json.loads(job.plan_json)
    wanted = max(1, sum(eligible.values())) * runner.settings.chunks_per_node
    per_chunk = runner.settings.msm_min_chunk_points
    counts = {task.name: min(wanted, max(1, task.scalars.shape[0] // per_chunk)) for task in tasks}
    runner._update_job(job.id, plan_json=json.dumps({"msm_chunks": counts}))
    return {"msm_chunks": counts}


def plan_chunks(tasks: list[MsmTask], counts: dict[str, int]) -> dict[str, list[Chunk]]:
    """Each MSM's chunks, indices offset so they are unique across the five MSMs."""
    plans: dict[str, list[Chunk]] = {}
    offset = 0
    for task in tasks:
        chunks = plan_msm(task.curve, task.scalars.shape[0], counts[task.name])
        plans[task.name] = [dataclasses.replace(c, index=c.index + offset) for c in chunks]
        offset += len(chunks)
    return plans


def _prove(
    runner: JobRunner,
    job: Job,
    book: NodeBook,
    prover: Groth16Prover,
    zkey: ZKey,
    witness: Any,
    tasks: list[MsmTask],
    plans: dict[str, list[Chunk]],
    completed: dict[int, object],
    full_audit: bool,
) -> Proof:
    sums: dict[str, Any] = {}
    for task in tasks:
        chunks = plans[task.name]
        if task.scalars.shape[0] == 0:
            sums[task.name] = CURVES[task.curve].infinity
            continue
        policy = runner._policy(job, book, "msm", chunks)
        if full_audit:
            policy = dataclasses.replace(policy, audit={c.index for c in chunks})
        sums[task.name] = dispatch.run_msm(
            task.curve,
            task.bases,
            task.scalars,
            chunks,
            policy=policy,
            completed=completed,
            test_mode=runner.settings.test_mode,
        )
    return prover.assemble(zkey, witness, sums)


def run_groth16(runner: JobRunner, job: Job, book: NodeBook) -> bytes:
    """Prove the job's witness across the pool (module docstring); the result blob."""
    assert job.zkey_sha256 is not None
    zkey, vk = ZKEYS.get(runner.blobs, job.zkey_sha256)
    witness = read_wtns(runner.blobs.get(job.input_sha256))
    prover = Groth16Prover()  # NTTs on the head; the MSMs go through dispatch below
    tasks = prover.msm_tasks(zkey, witness)
    eligible = book.eligible(dispatch.alive_cpu_nodes())
    book.calibrate(list(eligible), CALIBRATION_CURVE, CALIBRATION_FIELD)
    plans = plan_chunks(tasks, _plan(runner, job, tasks, eligible)["msm_chunks"])
    completed = runner.store.completed(job.id, book.struck_contributors())
    total = sum(len(chunks) for chunks in plans.values())
    runner._update_job(job.id, chunks_total=total, chunks_done=min(total, len(completed)))
    args = (runner, job, book, prover, zkey, witness, tasks, plans)
    proof = _prove(*args, completed, full_audit=False)
    if not verify(vk, proof):
        log.warning("job %s: proof fails the pairing check; full audit and recompute", job.id)
        runner.metrics.verification_failures.labels("groth16").inc()
        proof = _prove(*args, {}, full_audit=True)
        if not verify(vk, proof):
            raise ProofVerificationError("the proof fails the pairing check after a full audit")
    body = {"proof": proof.proof_json(), "public": proof.public_json()}
    return json.dumps(body).encode()

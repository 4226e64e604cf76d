"""Groth16 jobs: a witness proved across the pool against a stored key.

The prover of :mod:`workers.groth16.prover` (Groth, EUROCRYPT 2016, §3.2, in snarkjs'
conventions) computes ``H``'s NTTs on the head; its five MSMs (A, B1, C, H on
``bn254_g1``, B2 on ``bn254_g2``) are each split into chunks across the nodes by
:func:`workers.cluster.dispatch.run_msm` under the job's policy (audits, strikes,
retries, resumable chunk records) and credited like MSM chunks
(:mod:`workers.cluster.costs`).  Chunk indices are offset so they are unique across
the five MSMs (records ``<job>:<index>`` do not collide and a resumed job finds each
chunk).  The proof passes the pairing check (:func:`workers.groth16.verify`) before the
job is ``done``; if it fails, every chunk is computed again under a full audit, and
the job fails if the proof still does not verify.  The result blob is
``{"proof": proof.json, "public": public.json}`` (snarkjs' files).  Keys and witnesses
are validated and stored by :mod:`pool_api.store.zkeys`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from pool_api.runner.context import JobContext
from pool_api.store.zkeys import ZKEYS
from workers.cluster import dispatch
from workers.cluster.plan import Chunk
from workers.cluster.sizing import JobPlan, choose_equal_msm_parts
from workers.errors import ProofVerificationError
from workers.groth16 import Groth16Prover, MsmTask, Proof, ZKey, read_wtns, verify
from workers.params import CURVES

log = logging.getLogger(__name__)


def plan_chunks(tasks: list[MsmTask], plan: JobPlan) -> dict[str, list[Chunk]]:
    """Each MSM's chunks, indices offset so they are unique across the five MSMs."""
    plans: dict[str, list[Chunk]] = {}
    offset = 0
    for task in tasks:
        chunks = plan.msm_chunks(task.curve, task.scalars.shape[0], task.name)
        plans[task.name] = [dataclasses.replace(c, index=c.index + offset) for c in chunks]
        offset += len(chunks)
    return plans


class Groth16Executor:
    kind = "groth16"

    def run(self, ctx: JobContext) -> bytes:
        """Prove the job's witness across the pool (module docstring); the result blob."""
        job, settings = ctx.job, ctx.settings
        if job.zkey_sha256 is None:
            raise ValueError(f"job {job.id} names no proving key")
        zkey, vk = ZKEYS.get(ctx.blobs, job.zkey_sha256)
        witness = read_wtns(ctx.input_blob())
        prover = Groth16Prover()  # NTTs on the head; the MSMs go through dispatch below
        tasks = prover.msm_tasks(zkey, witness)
        offers = ctx.offers()
        plan = ctx.plan(
            lambda: choose_equal_msm_parts(
                {task.name: task.scalars.shape[0] for task in tasks},
                offers,
                chunks_per_node=settings.chunks_per_node,
                min_chunk_points=settings.msm_min_chunk_points,
            )
        )
        plans = plan_chunks(tasks, plan)
        completed = ctx.completed()
        ctx.start_chunks(sum(len(chunks) for chunks in plans.values()), len(completed))
        proof = _prove(ctx, prover, zkey, witness, tasks, plans, completed, full_audit=False)
        if not verify(vk, proof):
            log.warning("job %s: proof fails the pairing check; full audit and recompute", job.id)
            ctx.metrics.verification_failures.labels("groth16").inc()
            proof = _prove(ctx, prover, zkey, witness, tasks, plans, {}, full_audit=True)
            if not verify(vk, proof):
                raise ProofVerificationError("the proof fails the pairing check after a full audit")
        body = {"proof": proof.proof_json(), "public": proof.public_json()}
        return json.dumps(body).encode()


def _prove(
    ctx: JobContext,
    prover: Groth16Prover,
    zkey: ZKey,
    witness: Any,
    tasks: list[MsmTask],
    plans: dict[str, list[Chunk]],
    completed: dict[int, object],
    *,
    full_audit: bool,
) -> Proof:
    sums: dict[str, Any] = {}
    for task in tasks:
        chunks = plans[task.name]
        if task.scalars.shape[0] == 0:
            sums[task.name] = CURVES[task.curve].infinity
            continue
        sums[task.name] = dispatch.run_msm(
            task.curve,
            task.bases,
            task.scalars,
            chunks,
            policy=ctx.policy("msm", chunks, full_audit=full_audit),
            completed=completed,
            test_mode=ctx.settings.test_mode,
        )
    return prover.assemble(zkey, witness, sums)

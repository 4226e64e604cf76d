"""Groth16 jobs: a witness proved across the pool against a stored key.

The prover of :mod:`workers.groth16.prover` (Groth, EUROCRYPT 2016, §3.2, in snarkjs'
conventions) needs five MSMs (A, B1, C, H on ``bn254_g1``, B2 on ``bn254_g2``).  They run
under **one schedule** (:func:`workers.cluster.dispatch.run_msm_set`): the chunks of all
five share one queue, the costliest first, so no MSM waits for another's last chunk; the
A, B1, B2 and C chunks start at once (their scalars are the witness) while the head
computes H's scalars (``A·B − C`` on the coset: three inverse and three coset NTTs) on a
thread of its own, and the H chunks join the queue the moment they are there.  The plan
is the one a bare MSM job gets (:func:`workers.cluster.sizing.choose_groth16_plan`): chunks
sized by each slot's measured speed, GPU slots for the ``bn254_g1`` chunks where the
backend covers them, equal parts where no speed is known.  Chunks run under the job's
policy (audits, strikes, retries, resumable chunk records) and are credited like MSM
chunks (:mod:`workers.cluster.costs`); their indices are offset so they are unique across
the five MSMs (records ``<job>:<index>`` do not collide and a resumed job finds each
chunk).  The proof passes the pairing check (:func:`workers.groth16.verify`) before the
job is ``done``; if it fails, every chunk is computed again under a full audit, and
the job fails if the proof still does not verify.  The result blob is
``{"proof": proof.json, "public": public.json}`` (snarkjs' files).  Keys and witnesses
are validated and stored by :mod:`pool_api.store.zkeys`.  A job the runner prepared
ahead (:mod:`pool_api.runner.prepare`) starts with its witness and H scalars at hand.
"""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np

from pool_api.runner.context import JobContext
from pool_api.store.zkeys import ZKEYS
from workers.cluster import dispatch
from workers.cluster.dispatch import MsmPart
from workers.cluster.linkplan import MsmLoad, bases_held
from workers.cluster.plan import Chunk
from workers.cluster.sizing import JobPlan, choose_groth16_plan
from workers.errors import ProofVerificationError
from workers.gpu import driver
from workers.groth16 import Groth16Prover, Proof, read_wtns, verify
from workers.params import CURVES

log = logging.getLogger(__name__)


MSM_CURVES = {"A": "bn254_g1", "B1": "bn254_g1", "B2": "bn254_g2", "C": "bn254_g1", "H": "bn254_g1"}
"""The five MSMs of a proof, in the order their chunk indices are laid out."""


def plan_chunks(sizes: dict[str, int], plan: JobPlan) -> dict[str, list[Chunk]]:
    """Each MSM's chunks (``sizes``: points by name), indices offset so they are unique
    across the five MSMs; G2 chunks are sized for CPU slots where the GPU lacks the curve."""
    plans: dict[str, list[Chunk]] = {}
    offset = 0
    for name, curve in MSM_CURVES.items():
        gpu = driver.supported("msm", curve)
        chunks = plan.msm_chunks(curve, sizes[name], name, gpu=gpu)
        plans[name] = [dataclasses.replace(c, index=c.index + offset) for c in chunks]
        offset += len(chunks)
    return plans


def link_loads(first: list, h_points: np.ndarray, sizes: dict[str, int]) -> list[MsmLoad]:
    """The five MSMs for the link-aware planner: curve, size, basis hash."""
    loads = [MsmLoad(t.curve, sizes[t.name], dispatch.bases_sha256(t.bases)) for t in first]
    return [*loads, MsmLoad(MSM_CURVES["H"], sizes["H"], dispatch.bases_sha256(h_points))]


class Groth16Executor:
    kind = "groth16"

    def run(self, ctx: JobContext) -> bytes:
        """Prove the job's witness across the pool (module docstring); the result blob."""
        job, settings = ctx.job, ctx.settings
        if job.zkey_sha256 is None:
            raise ValueError(f"job {job.id} names no proving key")
        zkey, vk = ZKEYS.get(ctx.blobs, job.zkey_sha256)
        prepared = ctx.preparer.take(job.id) if ctx.preparer is not None else None
        witness = prepared.witness if prepared is not None else read_wtns(ctx.input_blob())
        prover = Groth16Prover()  # NTTs on the head; the MSMs go through dispatch below
        first = prover.witness_tasks(zkey, witness)  # checks the witness against the key
        sizes = {task.name: task.scalars.shape[0] for task in first}
        sizes["H"] = zkey.domain_size
        offers = [dataclasses.replace(o, holds=bases_held(o.node_id)) for o in ctx.offers()]
        plan = ctx.plan(
            lambda: choose_groth16_plan(
                sizes,
                offers,
                gpu_supported=driver.supported("msm", "bn254_g1"),
                chunks_per_node=settings.chunks_per_node,
                min_chunk_points=settings.msm_min_chunk_points,
                link_aware=settings.link_aware,
                loads=link_loads(first, zkey.h_points, sizes) if settings.link_aware else (),
            )
        )
        plans = plan_chunks(sizes, plan)
        preferred, gpu_chunks = plan.placement(
            list(plans.values()), [driver.supported("msm", c) for c in MSM_CURVES.values()]
        )
        completed = ctx.completed()
        ctx.start_chunks(sum(len(chunks) for chunks in plans.values()), len(completed))
        h_scalars: list[np.ndarray] = []  # computed once, kept for a recomputation
        if prepared is not None:  # prepared while the job before it ran
            h_scalars.append(prepared.h_scalars)

        def h_part() -> MsmPart:
            if not h_scalars:
                h_scalars.append(prover.h_task(zkey, witness).scalars)
            return MsmPart("H", MSM_CURVES["H"], zkey.h_points, h_scalars[0], plans["H"])

        def prove(done: dict[int, object], full_audit: bool) -> Proof:
            chunks = [c for name in MSM_CURVES for c in plans[name] if sizes[name] > 0]
            parts = [
                MsmPart(t.name, t.curve, t.bases, t.scalars, plans[t.name])
                for t in first
                if sizes[t.name] > 0
            ]
            sums = dispatch.run_msm_set(
                parts,
                policy=ctx.policy("msm", chunks, preferred, gpu_chunks, full_audit=full_audit),
                late=h_part if sizes["H"] > 0 else None,
                completed=done,
                test_mode=settings.test_mode,
                gpu_chunks=gpu_chunks,
            )
            for name, curve in MSM_CURVES.items():
                sums.setdefault(name, CURVES[curve].infinity)
            return prover.assemble(zkey, witness, sums)

        proof = prove(completed, full_audit=False)
        if not verify(vk, proof):
            log.warning("job %s: proof fails the pairing check; full audit and recompute", job.id)
            ctx.metrics.verification_failures.labels("groth16").inc()
            proof = prove({}, full_audit=True)
            if not verify(vk, proof):
                raise ProofVerificationError("the proof fails the pairing check after a full audit")
        body = {"proof": proof.proof_json(), "public": proof.public_json()}
        return json.dumps(body).encode()

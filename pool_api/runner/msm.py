"""MSM jobs: chunks of points across the nodes, audited, summed on the head.

The plan is speed-sized where nodes have speeds (:func:`workers.cluster.sizing.choose_msm_plan`),
by predicted completion time with ``PROVERPOOL_LINK_AWARE`` (each node's link, bases it
already holds counted as free: :mod:`workers.cluster.linkplan`);
chunks run under the job's policy (:meth:`JobContext.policy`: audits at the pool's rate,
strikes, retries, stragglers) through :func:`workers.cluster.dispatch.run_msm`, and the
result is stored as the point encoding of ``docs/architecture.md`` §4.
"""

from __future__ import annotations

import dataclasses

from pool_api.runner.context import CALIBRATION_FIELD, JobContext
from workers.cluster import dispatch
from workers.cluster.linkplan import bases_held
from workers.cluster.sizing import choose_msm_plan
from workers.codec import arrays
from workers.gpu import driver
from workers.params import CURVES


class MsmExecutor:
    kind = "msm"

    def run(self, ctx: JobContext) -> bytes:
        job, settings = ctx.job, ctx.settings
        curve = job.curve
        if curve not in CURVES:
            raise ValueError(f"job {job.id} names no known curve ({curve!r})")
        # Validated in full (curve, subgroup) when it was submitted; lengths and ranges again here.
        bases, scalars = arrays.decode_msm_input(
            curve, ctx.input_blob(), job.size, check_points=False
        )
        offers = [
            dataclasses.replace(o, holds=bases_held(o.node_id))
            for o in ctx.offers(curve, CALIBRATION_FIELD)
        ]
        plan = ctx.plan(
            lambda: choose_msm_plan(
                curve,
                job.size,
                offers,
                gpu_supported=driver.supported("msm", curve),
                chunks_per_node=settings.chunks_per_node,
                min_chunk_points=settings.msm_min_chunk_points,
                link_aware=settings.link_aware,
                bases_sha256=dispatch.bases_sha256(bases) if settings.link_aware else "",
            )
        )
        chunks = plan.msm_chunks(curve, job.size)
        preferred, gpu_chunks = plan.placement([chunks])
        completed = ctx.completed()
        ctx.start_chunks(len(chunks), len(completed))
        if job.size == 0:
            return arrays.encode_points(curve, [CURVES[curve].infinity])
        point = dispatch.run_msm(
            curve,
            bases,
            scalars,
            chunks,
            policy=ctx.policy("msm", chunks, preferred, gpu_chunks),
            completed=completed,
            test_mode=settings.test_mode,
            gpu_chunks=gpu_chunks,
        )
        return arrays.encode_points(curve, [point])

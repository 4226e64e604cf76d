"""NTT jobs: the four-step NTT across the nodes, every slice checked on the head.

Both phases are sized by node speed where speeds are known
(:func:`workers.cluster.sizing.choose_ntt_plan`); the slices run through
:func:`workers.cluster.dispatch.run_ntt`, which checks each one
(:func:`workers.cluster.verify.check_ntt_slice`) before it is accepted and recorded.
Input and result are the field's compact element words (``docs/architecture.md`` §4).
"""

from __future__ import annotations

from pool_api.runner.context import JobContext
from workers.cluster import dispatch
from workers.cluster.sizing import choose_ntt_plan
from workers.codec import arrays
from workers.gpu import driver
from workers.params import FIELDS


class NttExecutor:
    kind = "ntt"

    def run(self, ctx: JobContext) -> bytes:
        job, settings = ctx.job, ctx.settings
        field = job.field
        if field not in FIELDS:
            raise ValueError(f"job {job.id} names no known field ({field!r})")
        values = arrays.decode_elements(field, ctx.input_blob())
        offers = ctx.offers()  # speeds in work units per second, whatever the field
        plan = ctx.plan(
            lambda: choose_ntt_plan(
                job.size,
                offers,
                gpu_supported=driver.supported("ntt", field),
                chunks_per_node=settings.chunks_per_node,
                min_chunk_elements=settings.ntt_min_chunk_elements,
            )
        )
        ntt_plan = plan.ntt_plan(field, job.size)
        preferred, gpu_chunks = plan.placement([ntt_plan.column_chunks, ntt_plan.row_chunks])
        completed = ctx.completed()
        ctx.start_chunks(len(ntt_plan.chunks), len(completed))
        out = dispatch.run_ntt(
            field,
            values,
            ntt_plan,
            inverse=job.inverse,
            policy=ctx.policy("ntt", ntt_plan.chunks, preferred, gpu_chunks),
            completed=completed,
            test_mode=settings.test_mode,
            gpu_chunks=gpu_chunks,
        )
        return arrays.encode_elements(field, out)

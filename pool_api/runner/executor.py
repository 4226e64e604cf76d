"""The one interface between the runner's loop and the job kinds.

An executor computes one job's result from a :class:`~pool_api.runner.context.JobContext`
and returns the result blob; it raises :class:`~workers.errors.JobInterrupted` when the
job is cancelled or the runner stops at a chunk boundary, and anything else to fail the
job.  Crediting and marking the job done are the loop's, after ``run`` returns
(:meth:`pool_api.store.chunks.ChunkStore.credit_and_finish`).
"""

from __future__ import annotations

from typing import Protocol

from pool_api.runner.context import JobContext


class Executor(Protocol):
    kind: str
    """The ``Job.kind`` this executor runs."""

    def run(self, ctx: JobContext) -> bytes:
        """Compute the job across the pool; the result blob (stored by the loop)."""
        ...

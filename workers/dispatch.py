"""Running a planned job on Ray: submit chunks, bound what is in flight, combine.

Follows Ray's design patterns: big shared inputs are ``ray.put`` once and
passed by reference to every chunk; at most ``max_in_flight`` chunk tasks are
pending at a time (``ray.wait`` returns the first finished one); chunk tasks
are spread over the nodes.  Each finished chunk is handed to ``on_chunk``
(the caller records and credits it) before the next one is awaited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import ray

from workers import tasks
from workers.errors import DispatchError
from workers.params import CURVES, FIELDS
from workers.plan import Chunk, NttPlan
from workers.reference import Point, sum_points
from workers.tasks import ChunkOutput

ChunkCallback = Callable[[Chunk, ChunkOutput], None]
SCHEDULING = "SPREAD"


def run_chunks(
    chunks: Sequence[Chunk],
    submit: Callable[[Chunk], ray.ObjectRef],
    *,
    max_in_flight: int,
    on_chunk: ChunkCallback | None = None,
) -> dict[int, object]:
    """Run ``chunks`` with at most ``max_in_flight`` pending; values by chunk index."""
    if max_in_flight < 1:
        raise ValueError("max_in_flight must be at least 1")
    waiting = list(reversed(chunks))
    pending: dict[ray.ObjectRef, Chunk] = {}
    values: dict[int, object] = {}
    try:
        while waiting or pending:
            while waiting and len(pending) < max_in_flight:
                chunk = waiting.pop()
                pending[submit(chunk)] = chunk
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                chunk = pending.pop(ref)
                try:
                    output: ChunkOutput = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    raise DispatchError(
                        f"chunk {chunk.index} ({chunk.phase}) failed: {exc}"
                    ) from exc
                values[chunk.index] = output.value
                if on_chunk is not None:
                    on_chunk(chunk, output)
    finally:
        for ref in pending:
            ray.cancel(ref)
    return values


def run_msm(
    curve: str,
    bases: np.ndarray,
    scalars: np.ndarray,
    chunks: Sequence[Chunk],
    *,
    max_in_flight: int = 8,
    on_chunk: ChunkCallback | None = None,
) -> Point:
    """Distributed MSM: partial sums of point chunks, added on the head."""
    if curve not in CURVES:
        raise DispatchError(f"unknown curve {curve!r}")
    bases_ref = ray.put(bases)
    scalars_ref = ray.put(scalars)
    task = tasks.msm_chunk.options(scheduling_strategy=SCHEDULING)
    values = run_chunks(
        chunks,
        lambda c: task.remote(curve, bases_ref, scalars_ref, c.start, c.stop),
        max_in_flight=max_in_flight,
        on_chunk=on_chunk,
    )
    return sum_points(curve, (values[c.index] for c in chunks))  # type: ignore[misc]


def run_ntt(
    field: str,
    values: np.ndarray,
    plan: NttPlan,
    *,
    inverse: bool = False,
    max_in_flight: int = 8,
    on_chunk: ChunkCallback | None = None,
) -> np.ndarray:
    """Distributed four-step NTT (see :mod:`workers.plan`) of canonical limbs ``(n, 4)``."""
    if field not in FIELDS:
        raise DispatchError(f"unknown field {field!r}")
    n, n1, n2 = plan.n, plan.n1, plan.n2
    if values.shape[0] != n:
        raise DispatchError(f"plan is for size {n}, values have {values.shape[0]}")
    limbs = values.shape[1]
    columns = np.ascontiguousarray(values.reshape(n1, n2, limbs).transpose(1, 0, 2))
    columns_ref = ray.put(columns)
    column_task = tasks.ntt_columns_chunk.options(scheduling_strategy=SCHEDULING)
    blocks = run_chunks(
        plan.column_chunks,
        lambda c: column_task.remote(field, columns_ref, c.start, c.stop, n),
        max_in_flight=max_in_flight,
        on_chunk=on_chunk,
    )
    twiddled_t = np.concatenate([blocks[c.index] for c in plan.column_chunks])  # (n2, n1)
    matrix_ref = ray.put(np.ascontiguousarray(twiddled_t.transpose(1, 0, 2)))  # (n1, n2)
    scale = pow(n, -1, FIELDS[field].modulus) if inverse else None
    row_task = tasks.ntt_rows_chunk.options(scheduling_strategy=SCHEDULING)
    rows = run_chunks(
        plan.row_chunks,
        lambda c: row_task.remote(field, matrix_ref, c.start, c.stop, scale),
        max_in_flight=max_in_flight,
        on_chunk=on_chunk,
    )
    result = np.concatenate([rows[c.index] for c in plan.row_chunks])  # (n1, n2): C[k1][k2]
    out = np.ascontiguousarray(result.transpose(1, 0, 2)).reshape(n, limbs)
    if inverse:
        out = out[(-np.arange(n)) % n]
    return out

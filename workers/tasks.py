"""Ray tasks: one chunk of an MSM or a four-step NTT slice on the node running it.

The task bodies call the CPU kernels directly on limb arrays (the inputs were
validated once on the head).  Shared inputs arrive as object-store arrays
(zero-copy, read-only); a task copies only its own slice.  Every task reports
the Ray node that ran it, so the head can credit that node's contributor.

Each task holds one CPU (``num_cpus=1``), so its kernels run on one thread:
``numba.set_num_threads(1)`` at the top of every task body (numba's thread
count is per calling thread, so this binds exactly the thread running the
task; see :func:`workers.arith.kernel_threads`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import ray

from workers import cpu_msm, cpu_ntt


@dataclass(frozen=True)
class ChunkOutput:
    """What a chunk task returns: its value and where/how long it ran."""

    value: Any
    node_id: str
    duration_seconds: float


def _finish(value: Any, started: float) -> ChunkOutput:
    node_id = ray.get_runtime_context().get_node_id()
    return ChunkOutput(value, node_id, time.perf_counter() - started)


@ray.remote(num_cpus=1)
def msm_chunk(
    curve: str, bases: np.ndarray, scalars: np.ndarray, start: int, stop: int
) -> ChunkOutput:
    """Partial MSM over points ``[start, stop)``: an affine point."""
    numba.set_num_threads(1)  # one CPU per task
    started = time.perf_counter()
    value = cpu_msm.msm_limbs(curve, bases[start:stop].copy(), scalars[start:stop].copy())
    return _finish(value, started)


@ray.remote(num_cpus=1)
def ntt_columns_chunk(
    field: str, columns: np.ndarray, start: int, stop: int, n: int
) -> ChunkOutput:
    """Four-step phase 1 on columns ``[start, stop)``.

    ``columns`` is the input viewed as an ``(n2, n1)`` matrix (row ``j2`` holds
    column ``j2`` of the ``(n1, n2)`` input); each row gets an NTT of size
    ``n1`` and then entry ``[j2][k1]`` is multiplied by ``ω_n^{j2·k1}``.
    """
    numba.set_num_threads(1)  # one CPU per task
    started = time.perf_counter()
    block = cpu_ntt.ntt_rows_limbs(field, columns[start:stop].copy())
    block = cpu_ntt.twiddle_limbs(field, block, n, start)
    return _finish(block, started)


@ray.remote(num_cpus=1)
def ntt_rows_chunk(
    field: str, matrix: np.ndarray, start: int, stop: int, scale: int | None
) -> ChunkOutput:
    """Four-step phase 2 on rows ``[start, stop)``: an NTT of size ``n2`` per row."""
    numba.set_num_threads(1)  # one CPU per task
    started = time.perf_counter()
    block = cpu_ntt.ntt_rows_limbs(field, matrix[start:stop].copy())
    if scale is not None:
        block = cpu_ntt.scale_limbs(field, block, scale)
    return _finish(block, started)

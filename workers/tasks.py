"""Ray tasks: one chunk of an MSM or a four-step NTT slice on the node running it.

The task bodies call the CPU kernels directly on limb arrays (the inputs were
validated once on the head).  Shared inputs arrive as object-store arrays
(zero-copy, read-only); a task copies only its own slice.  Every task reports
the Ray node that ran it, so the head can credit that node's contributor.

Test mode (never in production): a chunk task is given the pool's
``test_mode`` flag; only when it is set does the node's environment
``PROVERPOOL_TEST_CORRUPT_FRACTION`` (corrupt that fraction of this node's
results: an MSM drops its last point, an NTT slice changes one element — the
"skip some work" cheat) or ``PROVERPOOL_TEST_SLOWDOWN_FACTOR`` (sleep so the
chunk takes that many times longer: a straggler) take effect.  With the flag
off both variables are refused (ignored, with a warning).  :func:`calibrate`
is never slowed: it stands for the speed the node showed when it joined.

Each task holds one CPU (``num_cpus=1``), so its kernels run on one thread:
``numba.set_num_threads(1)`` at the top of every task body (numba's thread
count is per calling thread, so this binds exactly the thread running the
task; see :func:`workers.arith.kernel_threads`).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import ray

from workers import cpu_msm, cpu_ntt
from workers.calibration import measure_speeds

log = logging.getLogger(__name__)
CORRUPT_ENV = "PROVERPOOL_TEST_CORRUPT_FRACTION"
SLOWDOWN_ENV = "PROVERPOOL_TEST_SLOWDOWN_FACTOR"


@dataclass(frozen=True)
class ChunkOutput:
    """What a chunk task returns: its value and where/how long it ran."""

    value: Any
    node_id: str
    duration_seconds: float
    fetched_bytes: int = 0
    """Shared input this task had to pull (MSM bases missing from its worker's cache)."""


def _test_env(name: str, test_mode: bool) -> float | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    if not test_mode:
        log.warning("%s is set but the pool is not in test mode: refused", name)
        return None
    return float(raw)


def _corrupt_now(test_mode: bool) -> bool:
    fraction = _test_env(CORRUPT_ENV, test_mode)
    return fraction is not None and random.random() < fraction


def _finish(
    value: Any, started: float, test_mode: bool = False, fetched_bytes: int = 0
) -> ChunkOutput:
    node_id = ray.get_runtime_context().get_node_id()
    elapsed = time.perf_counter() - started
    slowdown = _test_env(SLOWDOWN_ENV, test_mode)
    if slowdown is not None and slowdown > 1:
        time.sleep(elapsed * (slowdown - 1) + 0.05 * (slowdown - 1))
        elapsed = time.perf_counter() - started
    return ChunkOutput(value, node_id, elapsed, fetched_bytes)


def _corrupt_block(block: np.ndarray) -> np.ndarray:
    """One element changed (kept canonical): 0 ↔ 1 in its low limb."""
    block = block.copy()
    if block.size:
        flat = block.reshape(-1, block.shape[-1])
        flat[0, 0] = np.uint64(0) if flat[0].any() else np.uint64(1)
        if flat[0, 0] == 0:
            flat[0, 1:] = 0
    return block


BASES_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
"""MSM bases this worker process holds, by SHA-256 of their bytes (most recent last)."""
BASES_CACHE_ENTRIES = 4


def cached_bases(sha256: str, box: list[ray.ObjectRef]) -> tuple[np.ndarray, int]:
    """The bases named ``sha256``: from this process's cache, else pulled via ``box[0]``.

    The reference travels inside a list, so Ray does not resolve it before the
    task starts: a repeated job whose bases are cached ships only its scalars.
    Returns the bases and how many bytes were pulled (0 on a hit).
    """
    bases = BASES_CACHE.get(sha256)
    if bases is not None:
        BASES_CACHE.move_to_end(sha256)
        return bases, 0
    bases = ray.get(box[0])
    BASES_CACHE[sha256] = bases
    while len(BASES_CACHE) > BASES_CACHE_ENTRIES:
        BASES_CACHE.popitem(last=False)
    return bases, int(bases.nbytes)


@ray.remote(num_cpus=1)
def msm_chunk(
    curve: str,
    bases_sha256: str,
    bases_box: list[ray.ObjectRef],
    scalars: np.ndarray,
    start: int,
    stop: int,
    test_mode: bool = False,
) -> ChunkOutput:
    """Partial MSM over points ``[start, stop)``: an affine point."""
    numba.set_num_threads(1)  # one CPU per task
    bases, fetched = cached_bases(bases_sha256, bases_box)
    started = time.perf_counter()
    if stop > start and _corrupt_now(test_mode):
        stop -= 1  # the cheat: skip the last point
    value = cpu_msm.msm_limbs(curve, bases[start:stop].copy(), scalars[start:stop].copy())
    return _finish(value, started, test_mode, fetched)


@ray.remote(num_cpus=1)
def ntt_columns_chunk(
    field: str, columns: np.ndarray, start: int, stop: int, n: int, test_mode: bool = False
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
    if _corrupt_now(test_mode):
        block = _corrupt_block(block)
    return _finish(block, started, test_mode)


@ray.remote(num_cpus=1)
def ntt_rows_chunk(
    field: str,
    matrix: np.ndarray,
    start: int,
    stop: int,
    scale: int | None,
    test_mode: bool = False,
) -> ChunkOutput:
    """Four-step phase 2 on rows ``[start, stop)``: an NTT of size ``n2`` per row."""
    numba.set_num_threads(1)  # one CPU per task
    started = time.perf_counter()
    block = cpu_ntt.ntt_rows_limbs(field, matrix[start:stop].copy())
    if scale is not None:
        block = cpu_ntt.scale_limbs(field, block, scale)
    if _corrupt_now(test_mode):
        block = _corrupt_block(block)
    return _finish(block, started, test_mode)


@ray.remote(num_cpus=1)
def calibrate(curve: str, field: str) -> tuple[str, dict[str, float]]:
    """``(node id, work units per second by kernel)``: :func:`workers.calibration.measure_speeds`
    on the node this task runs on."""
    speeds = measure_speeds(curve, field)
    return ray.get_runtime_context().get_node_id(), speeds

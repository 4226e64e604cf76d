"""Ray tasks: one chunk of an MSM or a four-step NTT slice on the node running it.

The task bodies call the CPU kernels directly on the compact arrays of
:mod:`workers.codec.arrays` (the inputs were validated once on the head), and
return that format.  Shared inputs arrive as object-store arrays
(zero-copy, read-only); a task copies only its own slice.  Every task reports
the Ray node that ran it, so the head can credit that node's contributor.

Test mode (never in production): a chunk task is given the pool's
``test_mode`` flag; only when it is set does the node's environment
``PROVERPOOL_TEST_CORRUPT_FRACTION`` (corrupt that fraction of this node's
results: an MSM drops its last point, an NTT slice changes one element — the
"skip some work" cheat) or ``PROVERPOOL_TEST_SLOWDOWN_FACTOR`` (sleep so the
chunk takes that many times longer: a straggler) or ``PROVERPOOL_TEST_REPLY_FORM``
(reply in another form: ``int64`` — an NTT slice as ``int64`` words, same bits —,
``list`` — the value as nested lists —, ``junk`` — a string instead of a
:class:`ChunkOutput`) take effect.  With the flag off these variables are refused
(ignored, with a warning).  :func:`calibrate`
is never slowed: it stands for the speed the node showed when it joined.

Each task holds one CPU (``num_cpus=1``), so its kernels run on one thread:
``numba.set_num_threads(1)`` at the top of every task body (numba's thread
count is per calling thread, so this binds exactly the thread running the
task; see :func:`workers.fields.mont4.kernel_threads`).

GPU nodes (issue 4): a node that advertises Ray's ``GPU`` resource offers, per
device, one GPU slot beside its CPU slots.  A chunk planned for a GPU slot
(whose kernel the GPU backend covers: MSM on ``bn254_g1``, NTT over
``bn254_fr``/``bls12_381_fr``, :func:`workers.gpu.driver.supported`) is submitted
with a whole device (:func:`gpu_options`); every other chunk, on any node,
asks for none.  Ray makes only the task's device visible to it
(``CUDA_VISIBLE_DEVICES``), so the task runs the GPU kernels
(:mod:`workers.gpu.cupy_backend`) exactly when it was given a device and CuPy sees it
(:func:`chunk_backend`), else the CPU kernels — a node that advertises a GPU
it cannot use logs why and computes on the CPU.  :class:`ChunkOutput` says
which backend ran.  The inverse's scaling stays on the CPU (``O(n)`` next to
the ``O(n log n)`` NTT); the four-step twiddles are the head's.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import ray

from workers.cluster.calibration import measure_speeds
from workers.codec.limb_arrays import points_to_limbs
from workers.gpu import cupy_backend, driver
from workers.msm import pippenger
from workers.ntt import radix2
from workers.params import CURVES

log = logging.getLogger(__name__)
CORRUPT_ENV = "PROVERPOOL_TEST_CORRUPT_FRACTION"
SLOWDOWN_ENV = "PROVERPOOL_TEST_SLOWDOWN_FACTOR"
REPLY_FORM_ENV = "PROVERPOOL_TEST_REPLY_FORM"


@dataclass(frozen=True)
class ChunkOutput:
    """What a chunk task returns: its value and where/how long it ran."""

    value: Any
    node_id: str
    duration_seconds: float
    fetched_bytes: int = 0
    """Shared input this task had to pull (MSM bases missing from its worker's cache)."""
    backend: str = "cpu"
    """Which kernels computed it: ``"cpu"`` or ``"gpu"``."""
    fetch_seconds: float = 0.0
    """How long pulling ``fetched_bytes`` took (the node's link, for planning; never credit)."""


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
    value: Any,
    started: float,
    test_mode: bool = False,
    fetched_bytes: int = 0,
    backend: str = "cpu",
    fetch_seconds: float = 0.0,
) -> ChunkOutput:
    node_id = ray.get_runtime_context().get_node_id()
    elapsed = time.perf_counter() - started
    slowdown = _test_env(SLOWDOWN_ENV, test_mode)
    if slowdown is not None and slowdown > 1:
        time.sleep(elapsed * (slowdown - 1) + 0.05 * (slowdown - 1))
        elapsed = time.perf_counter() - started
    output = ChunkOutput(value, node_id, elapsed, fetched_bytes, backend, fetch_seconds)
    return _reply_form(output, test_mode)


def _reply_form(output: ChunkOutput, test_mode: bool) -> Any:
    """``output`` in the form ``PROVERPOOL_TEST_REPLY_FORM`` asks for (test mode only)."""
    form = os.environ.get(REPLY_FORM_ENV)
    if not form:
        return output
    if not test_mode:
        log.warning("%s is set but the pool is not in test mode: refused", REPLY_FORM_ENV)
        return output
    value = output.value
    if form == "junk":
        return f"not a chunk output ({type(value).__name__})"
    if form == "list":
        value = value.tolist() if isinstance(value, np.ndarray) else list(value)
    elif form == "int64" and isinstance(value, np.ndarray):
        value = value.view(np.int64) if value.itemsize == 8 else value.astype(np.int64)
    return dataclasses.replace(output, value=value)


def _corrupt_block(block: np.ndarray) -> np.ndarray:
    """One element of a ``(rows, m)`` or ``(rows, m, 4)`` block changed (kept canonical):
    0 ↔ 1 in its low word."""
    block = block.copy()
    if block.size:
        flat = block.reshape(block.shape[0] * block.shape[1], -1)  # (elements, words)
        flat[0, 0] = 0 if flat[0].any() else 1
        if flat[0, 0] == 0:
            flat[0, 1:] = 0
    return block


# --- GPU or CPU ---------------------------------------------------------------------------

_NODE_GPUS: dict[str, int] = {}
"""Ray node id → whole GPUs it advertises (Ray resources are fixed for a node's life)."""
_GPU_WARNED: set[str] = set()
"""Reasons already logged by this process for not using an assigned GPU (logged once each)."""


def node_gpus(node_id: str) -> int:
    """Whole GPUs the alive Ray node ``node_id`` advertises (``0`` if none or unknown), cached."""
    if node_id not in _NODE_GPUS:
        for node in ray.nodes():
            if node.get("Alive"):
                _NODE_GPUS[node["NodeID"]] = math.floor(node.get("Resources", {}).get("GPU", 0))
    return _NODE_GPUS.get(node_id, 0)


def gpu_options(where: object, *kernels: tuple[str, str]) -> dict[str, float]:
    """Extra ``.options`` for a task on ``where`` that should run ``kernels`` on a GPU.

    ``where``: a Ray node id or a ``NodeAffinitySchedulingStrategy``;
    ``kernels``: ``(kind, curve or field)`` pairs, kind ``"msm"`` or ``"ntt"``.
    ``{"num_gpus": 1}`` (a whole device: one GPU chunk at a time per device,
    the node's other slots run CPU chunks) when the node advertises a GPU and
    the GPU backend covers one of the kernels, else ``{}``: a CPU-only node, or
    a kernel only the CPU has, is never made to wait for a GPU.
    """
    node_id = where if isinstance(where, str) else getattr(where, "node_id", None)
    if not node_id or not any(driver.supported(kind, name) for kind, name in kernels):
        return {}
    return {"num_gpus": 1} if node_gpus(node_id) >= 1 else {}


def _warn_once(reason: str, message: str, *args: object) -> None:
    if reason not in _GPU_WARNED:
        _GPU_WARNED.add(reason)
        log.warning(message, *args)


def chunk_backend(kind: str, name: str, gpu_assigned: bool | None = None) -> str:
    """``"gpu"`` or ``"cpu"``: the kernels a chunk of ``kind`` on ``name`` runs with here.

    The GPU when the GPU backend covers it, this task holds a GPU
    (``gpu_assigned``; by default whether Ray gave the running task a GPU id)
    and CuPy sees a device and loads the kernels; otherwise the CPU, with a
    warning (once per process and reason) when a GPU was assigned but is
    unusable.
    """
    if not driver.supported(kind, name):
        return "cpu"
    if gpu_assigned is None:  # (``ray.get_gpu_ids`` would start a local Ray outside one)
        gpu_assigned = ray.is_initialized() and bool(ray.get_gpu_ids())
    if not gpu_assigned:
        return "cpu"
    if not cupy_backend.gpu_available():
        _warn_once(
            "no device",
            "this node advertises a GPU and the task was given it, but CuPy sees no "
            "CUDA device (CuPy missing, no driver, or CUDA_VISIBLE_DEVICES=%r): chunks run "
            "on the CPU kernels",
            os.environ.get("CUDA_VISIBLE_DEVICES"),
        )
        return "cpu"
    try:
        # compiles (or loads CuPy's cached) kernels once per process, untimed
        cupy_backend.launcher()
    except Exception as exc:  # a broken toolkit must not fail the chunk: the CPU can do it
        _warn_once("no kernels", "the GPU kernels do not load (%s): chunks run on the CPU", exc)
        return "cpu"
    return "gpu"


def _computed(backend: str, on_gpu: Callable[[], Any], on_cpu: Callable[[], Any]) -> tuple:
    """``(value, backend used)``: ``on_gpu()`` if ``backend`` is ``"gpu"`` and it succeeds,
    else ``on_cpu()`` (a GPU failure — out of memory, a CUDA error — is logged, not fatal)."""
    if backend == "gpu":
        try:
            return on_gpu(), "gpu"
        except Exception:
            log.exception("GPU kernel failed: computing this chunk on the CPU")
    return on_cpu(), "cpu"


BASES_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
"""MSM bases this worker process holds, by SHA-256 of their bytes (most recent last)."""
BASES_CACHE_ENTRIES = 6
"""A Groth16 proving key's five bases and one more: with fewer, the five cycle through the
least-recently-used cache and every proof pulls them all again."""


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
    scalars_offset: int = 0,
) -> ChunkOutput:
    """Partial MSM over points ``[start, stop)``: an affine point.

    ``scalars`` holds the scalars of points ``[scalars_offset, scalars_offset + len)``: the
    head ships each chunk only its own scalars (``scalars_offset = start``)."""
    numba.set_num_threads(1)  # one CPU per task
    fetch_started = time.perf_counter()
    bases, fetched = cached_bases(bases_sha256, bases_box)
    fetch_seconds = time.perf_counter() - fetch_started
    backend = chunk_backend("msm", curve)
    started = time.perf_counter()
    if stop > start and _corrupt_now(test_mode):
        stop -= 1  # the cheat: skip the last point
    part_bases = bases[start:stop].copy()
    part_scalars = scalars[start - scalars_offset : stop - scalars_offset].copy()
    value, backend = _computed(
        backend,
        lambda: cupy_backend.msm_gpu(curve, part_bases, part_scalars),
        lambda: pippenger.msm_limbs(curve, part_bases, part_scalars),
    )
    return _finish(value, started, test_mode, fetched, backend, fetch_seconds)


@ray.remote(num_cpus=1)
def ntt_rows_chunk(
    field: str,
    matrix: np.ndarray,
    start: int,
    stop: int,
    scale: int | None,
    test_mode: bool = False,
) -> ChunkOutput:
    """An NTT per row of ``matrix[start:stop]`` (times ``scale`` if given): a slice of either
    four-step phase (the columns of the input, or the rows of the twiddled matrix)."""
    numba.set_num_threads(1)  # one CPU per task
    backend = chunk_backend("ntt", field)
    started = time.perf_counter()
    part = matrix[start:stop].copy()
    block, backend = _computed(
        backend,
        lambda: cupy_backend.ntt_rows_gpu(field, part),
        lambda: radix2.ntt_rows_limbs(field, part),
    )
    if scale is not None:
        block = radix2.scale_limbs(field, block, scale)
    if _corrupt_now(test_mode):
        block = _corrupt_block(block)
    return _finish(block, started, test_mode, backend=backend)


WARM_CURVES = ("bn254_g1", "bn254_g2")
"""Curves whose MSM kernels a node loads when it is calibrated (a Groth16 job's two)."""


@ray.remote(num_cpus=1)
def calibrate(curve: str, field: str) -> tuple[str, dict[str, float]]:
    """``(node id, work units per second by kernel)``:
    :func:`workers.cluster.calibration.measure_speeds`
    on the node this task runs on, the GPU included when the task was given one
    (submitted with :func:`gpu_options`, as the GPU slot's chunks are)."""
    use_gpu = any(chunk_backend(k, n) == "gpu" for k, n in (("msm", curve), ("ntt", field)))
    speeds = measure_speeds(curve, field, use_gpu=use_gpu)
    for other in WARM_CURVES:  # load the kernels of a Groth16 job's other MSMs too
        if other != curve:
            bases = points_to_limbs([CURVES[other].generator] * 2, other)
            pippenger.msm_limbs(other, bases, np.ones((2, 4), dtype=np.uint64))
    return ray.get_runtime_context().get_node_id(), speeds


@ray.remote(num_cpus=0)
def link_probe(boxes: list[ray.ObjectRef]) -> tuple[str, int, float]:
    """``(node id, bytes, seconds)``: the node's pull of ``boxes[1]`` (a few MiB from the
    head), less the time of pulling ``boxes[0]`` (a few bytes: the round trip), so what is
    left is the link's throughput (:mod:`workers.cluster.linkplan`)."""
    started = time.perf_counter()
    ray.get(boxes[0])
    round_trip = time.perf_counter() - started
    started = time.perf_counter()
    payload = ray.get(boxes[1])
    seconds = time.perf_counter() - started
    node_id = ray.get_runtime_context().get_node_id()
    return node_id, int(payload.nbytes), max(seconds - round_trip, seconds / 2)

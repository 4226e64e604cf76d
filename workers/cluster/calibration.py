"""A node's speed per kernel: a short MSM and NTT, timed on one thread and the GPU (no Ray here).

Used by the pool's calibration task on each node (:func:`workers.cluster.tasks.calibrate`) and
by ``proverpool join`` before the node starts. Speeds are in work units per second
(:mod:`workers.cluster.costs`), so the scheduler can size chunks for each node (issue 4).

With ``use_gpu``, where CuPy sees a device and the GPU backend covers the kernel
(:func:`workers.gpu.driver.supported`), the GPU is timed too, under its own key
(``msm_gpu``, ``ntt_gpu``; :func:`gpu_key`): a GPU node offers one GPU slot per device
beside its CPU slots, and the runner sizes the chunks of each slot by its own speed.
The GPU gets larger inputs (:data:`CALIBRATION_GPU_MSM_POINTS`,
:data:`CALIBRATION_GPU_NTT_SHAPE`): at the CPU's sizes its launch and transfer
overheads would dominate, and the GPU slot takes larger chunks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numba
import numpy as np

from workers.cluster.costs import msm_work_units, ntt_work_units
from workers.codec.arrays import elements_from_ints
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.gpu import cupy_backend, driver
from workers.msm import pippenger
from workers.ntt import radix2
from workers.params import CURVES

log = logging.getLogger(__name__)
CALIBRATION_MSM_POINTS = 1 << 10
CALIBRATION_NTT_LOG_SIZE = 12
CALIBRATION_GPU_MSM_POINTS = 1 << 16
CALIBRATION_GPU_NTT_SHAPE = (16, 1 << 12)
"""Rows × size of the GPU's NTT: a four-step slice of a 2^24 transform."""

Run = Callable[[], object]


def _timed(run: Run, units: int) -> float:
    started = time.perf_counter()
    run()
    return units / max(time.perf_counter() - started, 1e-6)


def _gpu_runs(curve: str, field: str) -> dict[str, tuple[Run, int]]:
    """The GPU's runs and their work units, for the kernels it covers."""
    runs: dict[str, tuple[Run, int]] = {}
    rng = np.random.default_rng(1)
    if driver.supported("msm", curve):
        m = CALIBRATION_GPU_MSM_POINTS
        generator = points_to_limbs([CURVES[curve].generator], curve)
        bases = np.ascontiguousarray(np.broadcast_to(generator, (m, *generator.shape[1:])))
        scalars = rng.integers(0, 1 << 64, size=(m, 4), dtype=np.uint64, endpoint=False)
        scalars[:, 3] &= np.uint64((1 << 58) - 1)  # below 2^250 < r
        runs["msm"] = (
            lambda: cupy_backend.msm_gpu(curve, bases, scalars),
            msm_work_units(curve, m),
        )
    if driver.supported("ntt", field):
        count, size = CALIBRATION_GPU_NTT_SHAPE
        matrix = np.zeros((count, size, 4), dtype=np.uint64)
        matrix[..., 0] = (np.arange(count * size, dtype=np.uint64) * 7919 % 1000003).reshape(
            count, size
        )
        runs["ntt"] = (
            lambda: cupy_backend.ntt_rows_gpu(field, matrix),
            ntt_work_units(field, size, count),
        )
    return runs


def measure_speeds(
    curve: str, field: str, step: Callable[[str], None] | None = None, use_gpu: bool = False
) -> dict[str, float]:
    """Work units per second: ``msm``/``ntt`` on one thread, ``msm_gpu``/``ntt_gpu`` on the GPU.

    Each kernel runs twice and the second run is timed, so loading numba's cache
    (and compiling the CUDA kernels) does not count. The MSM bases are copies of the
    generator. ``use_gpu``: time the GPU too (see the module docstring); without a usable
    device this is logged and only the CPU is timed. ``step`` (if given) hears
    ``"<kernel> warm"`` and ``"<kernel> timed"`` as the runs finish.
    """
    numba.set_num_threads(1)
    m = CALIBRATION_MSM_POINTS
    bases = points_to_limbs([CURVES[curve].generator] * m, curve)
    scalars = ints_to_limbs([(i * 0x9E3779B97F4A7C15 + 1) % (1 << 250) for i in range(m)])
    size = 1 << CALIBRATION_NTT_LOG_SIZE
    rows = elements_from_ints(field, [(i * 7919) % 1000003 for i in range(size)])[np.newaxis]
    gpu_runs: dict[str, tuple[Run, int]] = {}
    if use_gpu:
        gpu_runs = _gpu_runs(curve, field) if _gpu_usable() else {}
    speeds: dict[str, float] = {}
    for kernel, run, units in (
        ("msm", lambda: pippenger.msm_limbs(curve, bases, scalars), msm_work_units(curve, m)),
        ("ntt", lambda: radix2.ntt_rows_limbs(field, rows), ntt_work_units(field, size, 1)),
    ):
        on_gpu = gpu_runs.get(kernel)
        run()
        if on_gpu:
            on_gpu[0]()
        if step:
            step(f"{kernel} warm")
        speeds[kernel] = _timed(run, units)
        if on_gpu:
            speeds[gpu_key(kernel)] = _timed(*on_gpu)
            log.info(
                "calibration %s: CPU %.3g, GPU %.3g work units/s",
                kernel,
                speeds[kernel],
                speeds[gpu_key(kernel)],
            )
        if step:
            step(f"{kernel} timed")
    return speeds


def gpu_key(kernel: str) -> str:
    """The speeds key of ``kernel`` (``"msm"``, ``"ntt"``) on a node's GPU slot."""
    return f"{kernel}_gpu"


def _gpu_usable() -> bool:
    if cupy_backend.gpu_available():
        return True
    log.warning("calibration: no CUDA device visible to CuPy; timing the CPU only")
    return False

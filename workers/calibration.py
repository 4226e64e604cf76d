"""A node's speed per kernel: a short MSM and NTT, timed on one thread (no Ray here).

Used by the pool's calibration task on each node (:func:`workers.tasks.calibrate`) and
by ``proverpool join`` before the node starts. Speeds are in work units per second
(:mod:`workers.costs`), so the scheduler can size chunks for each node.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numba
import numpy as np

from workers import cpu_msm, cpu_ntt
from workers.costs import msm_work_units, ntt_work_units
from workers.encoding import ints_to_limbs, points_to_limbs
from workers.params import CURVES

CALIBRATION_MSM_POINTS = 1 << 10
CALIBRATION_NTT_LOG_SIZE = 12


def measure_speeds(
    curve: str, field: str, step: Callable[[str], None] | None = None
) -> dict[str, float]:
    """Work units per second of ``{"msm", "ntt"}`` on one thread.

    Each kernel runs twice and the second run is timed, so loading numba's cache
    does not count. The MSM bases are copies of the generator. ``step`` (if given)
    hears ``"<kernel> warm"`` and ``"<kernel> timed"`` as the runs finish.
    """
    numba.set_num_threads(1)
    m = CALIBRATION_MSM_POINTS
    bases = points_to_limbs([CURVES[curve].generator] * m, curve)
    scalars = ints_to_limbs([(i * 0x9E3779B97F4A7C15 + 1) % (1 << 250) for i in range(m)])
    size = 1 << CALIBRATION_NTT_LOG_SIZE
    rows = ints_to_limbs([(i * 7919) % 1000003 for i in range(size)])[np.newaxis]
    speeds: dict[str, float] = {}
    for kernel, run, units in (
        ("msm", lambda: cpu_msm.msm_limbs(curve, bases, scalars), msm_work_units(curve, m)),
        ("ntt", lambda: cpu_ntt.ntt_rows_limbs(field, rows), ntt_work_units(field, size, 1)),
    ):
        run()
        if step:
            step(f"{kernel} warm")
        started = time.perf_counter()
        run()
        speeds[kernel] = units / max(time.perf_counter() - started, 1e-6)
        if step:
            step(f"{kernel} timed")
    return speeds

"""Cold-start costs paid at startup and at join, not by the first customer.

A pool's first job used to pay for everything a process does once: connecting the
head's Ray driver, loading (or compiling) the numba kernels the head runs for a job —
the NTTs and QAP products of a Groth16 witness, the pairing check, the MSMs that settle
a disputed audit — and, on every node, starting a Ray worker process and loading its
kernels.  With ``PROVERPOOL_WARM_START`` (on by default) the runner pays them before any
job is queued:

* :func:`warm_head_kernels` once, when the runner takes the lease (Ray is connected
  first, so a pool that cannot reach Ray says so at startup);
* :class:`NodeWarmer` whenever the runner is idle: every alive registered node without
  measured speeds is calibrated (:meth:`pool_api.runner.nodes.NodeBook.calibrate`), which
  starts a worker process on it, loads its MSM and NTT kernels — both Groth16 curves
  (:func:`workers.cluster.calibration.measure_speeds`) — and gives the first job's plan
  the node's speeds.  A node that joins is therefore warm a moment later.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sqlalchemy.engine import Engine

from pool_api.runner.nodes import NodeBook
from workers.cluster import runtime
from workers.codec.limb_arrays import points_to_limbs
from workers.groth16 import qap
from workers.groth16.pairing import pairing_product_is_one
from workers.groth16.points import g1_on_curve, g2_on_curve
from workers.msm import pippenger
from workers.ntt.radix2 import ntt_rows_limbs
from workers.params import BN254_P, CURVES

log = logging.getLogger(__name__)
NODE_CHECK_SECONDS = 1.0
"""How often an idle runner looks for nodes to warm."""
WARM_CURVE, WARM_FIELD = "bn254_g1", "bn254_fr"


def warm_head_kernels() -> float:
    """Run every kernel the head needs for a job once, on tiny inputs; seconds taken."""
    started = time.perf_counter()
    rows = np.zeros((3, 8, 4), dtype=np.uint64)
    coefficients = ntt_rows_limbs(qap.FIELD, rows, True, None)
    evaluations = ntt_rows_limbs(qap.FIELD, coefficients, False, qap.coset_shift(8))
    qap.h_scalars(evaluations)
    qap.evaluate_abc(
        np.zeros(0, dtype=np.uint32),
        np.zeros(0, dtype=np.uint32),
        np.zeros(0, dtype=np.uint32),
        np.zeros((0, 4), dtype=np.uint64),
        np.zeros((1, 4), dtype=np.uint64),
        8,
    )
    for curve in ("bn254_g1", "bn254_g2"):  # the head settles disputed audits itself
        generator = CURVES[curve].generator
        bases = points_to_limbs([generator, generator], curve)
        pippenger.msm_limbs(curve, bases, np.ones((2, 4), dtype=np.uint64))
    g1, g2 = CURVES["bn254_g1"].generator, CURVES["bn254_g2"].generator
    assert g1_on_curve(g1) and g2_on_curve(g2)  # type: ignore[arg-type]
    minus_g1 = (g1[0], BN254_P - g1[1])
    if not pairing_product_is_one([(g1, g2), (minus_g1, g2)]):  # type: ignore[list-item]
        raise RuntimeError("the pairing check fails on e(g1, g2)·e(−g1, g2): broken kernels")
    return time.perf_counter() - started


class NodeWarmer:
    """Calibrates (and so warms) alive registered nodes that have no speeds yet."""

    def __init__(self, engine: Engine, unregistered_may_work: bool) -> None:
        self.engine = engine
        self.unregistered_may_work = unregistered_may_work
        self._checked_at = 0.0

    def warm_new_nodes(self) -> list[str]:
        """The nodes warmed now (at most every :data:`NODE_CHECK_SECONDS`)."""
        now = time.monotonic()
        if now - self._checked_at < NODE_CHECK_SECONDS:
            return []
        self._checked_at = now
        book = NodeBook(self.engine, "", unregistered_may_work=self.unregistered_may_work)
        eligible = book.eligible(runtime.alive_cpu_nodes())
        cold = [n for n in eligible if book.needs_calibration(n)]  # speeds or link unknown
        if not cold:
            return []
        started = time.perf_counter()
        book.calibrate(cold, WARM_CURVE, WARM_FIELD)
        warmed = [n for n in cold if book.speeds.get(n)]
        if warmed:
            log.info(
                "warmed %d new node(s) in %.1f s (kernels loaded, speeds measured)",
                len(warmed),
                time.perf_counter() - started,
            )
        return warmed

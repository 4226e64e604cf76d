"""A job in the scale model: the real planner and scheduler on :class:`SimBackend`.

:func:`simulate_job` does what the runner does for an MSM or a Groth16 job
(:mod:`pool_api.runner.msm`, :mod:`pool_api.runner.groth16`,
:func:`workers.cluster.dispatch.run_msm_set`) with the same code where it decides anything:
node offers with calibrated speeds, links and the bases they hold → :func:`choose_msm_plan` /
:func:`choose_groth16_plan` (link-aware unless ``Knobs.link_aware`` is off)
→ the chunks (:func:`pool_api.runner.groth16.plan_chunks`) and their placement → an audit
sample → a :class:`Policy` → :func:`run_placed`, costliest chunks first, with a Groth16
proof's H chunks joining late (once the head has computed H's scalars).  Only the tasks are
simulated (:mod:`bench.simulate_model`); the head's own work outside the loop (H's scalars,
the pairing check) is a measured figure.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from bench.simulate_model import HeadModel, SimBackend, SimNode, TaskSpec
from pool_api.runner.groth16 import MSM_CURVES, plan_chunks
from workers.cluster import sizing, verify
from workers.cluster.calibration import gpu_key
from workers.cluster.linkplan import LINK_KEY, MsmLoad
from workers.cluster.plan import Chunk
from workers.cluster.scheduler import Policy, run_placed
from workers.cluster.sizing import NodeOffer
from workers.gpu import driver

SCALAR_BYTES = 32
POINT_BYTES = {"bn254_g1": 64, "bn254_g2": 128}
"""Bytes per affine point in the limb arrays the head ships (x, y; G2 over F_p²)."""


def _interpolate(table: Sequence[Sequence[float]], points: int) -> float:
    """Seconds for ``points`` from ``[(points, seconds), ...]`` (log-log between rows; below
    the first row along the first segment's slope; beyond the last, linear in points)."""
    rows = sorted((float(p), float(s)) for p, s in table)
    if points >= rows[-1][0]:
        return rows[-1][1] * points / rows[-1][0]
    if len(rows) == 1:
        return rows[0][1] * points / rows[0][0]
    i = max(1, bisect.bisect_right([p for p, _ in rows], points))
    (p0, s0), (p1, s1) = rows[i - 1], rows[i]
    slope = math.log(s1 / s0) / math.log(p1 / p0)
    return s0 * (max(points, 1) / p0) ** slope


@dataclass(frozen=True)
class Costs:
    """Measured chunk costs: ``cpu[curve]`` one CPU slot, ``gpu[curve]`` one GPU, as
    ``[(points, seconds), ...]``."""

    cpu: Mapping[str, Sequence[Sequence[float]]]
    gpu: Mapping[str, Sequence[Sequence[float]]] = field(default_factory=dict)

    def cpu_seconds(self, curve: str, points: int) -> float:
        return _interpolate(self.cpu[curve], points)

    def gpu_seconds(self, curve: str, points: int) -> float | None:
        table = self.gpu.get(curve)
        return _interpolate(table, points) if table else None


@dataclass(frozen=True)
class Knobs:
    """The pool's settings the plan and the loop read (defaults: :class:`Settings`')."""

    max_in_flight: int = 8
    chunks_per_node: int = 2
    msm_min_chunk_points: int = 1024
    audit_rate: float = 0.05
    straggler_factor: float = 4.0
    straggler_min_seconds: float = 2.0
    link_aware: bool = True


@dataclass(frozen=True)
class Speeds:
    """What calibration tells the planner: work units per second of a CPU slot (times the
    node's ``cpu_factor``) and of a GPU."""

    cpu_msm: float
    gpu_msm: float | None = None


@dataclass
class Outcome:
    seconds: float
    chunks: int
    copies: int
    speculative: int
    bytes_per_node: float
    head_bytes: int
    loop_seconds: float
    accepted_on: dict[str, int]


def _offers(nodes: Sequence[SimNode], speeds: Speeds, holds: Sequence[str]) -> list[NodeOffer]:
    """The nodes as the runner offers them: calibrated speeds, the measured link (which
    only a link-aware plan reads) and the bases each holds."""
    offers = []
    for node in nodes:
        node_speeds = {"msm": speeds.cpu_msm * node.cpu_factor}
        node_speeds[LINK_KEY] = node.link_bytes_per_second
        if node.gpus and speeds.gpu_msm:
            node_speeds[gpu_key("msm")] = speeds.gpu_msm
        offer = NodeOffer(node.node_id, node.slots, node.gpus, node_speeds, frozenset(holds))
        offers.append(offer)
    return offers


def simulate_job(
    kind: str,
    n_points: int,
    nodes: Sequence[SimNode],
    costs: Costs,
    speeds: Speeds,
    head: HeadModel,
    *,
    knobs: Knobs = Knobs(),
    cached_bases: bool = True,
    h_seconds: float = 0.0,
    tail_seconds: float = 0.0,
    seed: int = 0,
    charge_loop: bool = False,
) -> Outcome:
    """One ``kind`` job (``"msm"`` on ``bn254_g1``, or ``"groth16"``: five MSMs of
    ``n_points``) on ``nodes``; ``h_seconds``: when H's chunks join, ``tail_seconds``: the
    head's work after the last chunk (assembly, pairing check)."""
    curves = {"msm": "bn254_g1"} if kind == "msm" else dict(MSM_CURVES)
    offers = _offers(nodes, speeds, list(curves) if cached_bases else [])
    common = {
        "gpu_supported": driver.supported("msm", "bn254_g1"),
        "chunks_per_node": knobs.chunks_per_node,
        "min_chunk_points": knobs.msm_min_chunk_points,
        "link_aware": knobs.link_aware,
    }
    if kind == "msm":
        plan = sizing.choose_msm_plan("bn254_g1", n_points, offers, bases_sha256="msm", **common)
        phases = {"msm": plan.msm_chunks("bn254_g1", n_points)}
    else:
        sizes = dict.fromkeys(MSM_CURVES, n_points)
        loads = [MsmLoad(curve, n_points, name) for name, curve in MSM_CURVES.items()]
        plan = sizing.choose_groth16_plan(sizes, offers, loads=loads, **common)
        phases = plan_chunks(sizes, plan)
    on_gpu = [driver.supported("msm", curves[name]) for name in phases]
    preferred, gpu_chunks = plan.placement(list(phases.values()), on_gpu)
    name_of = {c.index: name for name, chunks in phases.items() for c in chunks}
    by_index = {c.index: c for chunks in phases.values() for c in chunks}
    rng = random.Random(seed)
    audit = verify.audit_sample(sorted(by_index), knobs.audit_rate, rng)
    by_id = {n.node_id: n for n in nodes}
    cached = [(n.node_id, name) for n in nodes for name in phases] if cached_bases else []
    backend = SimBackend(nodes, costs, head, seed=seed, cached=cached, charge_loop=charge_loop)
    accepted_on: dict[str, int] = {}

    def expected(chunk: Chunk, node_id: str) -> float:
        node = by_id[node_id]
        if chunk.index in gpu_chunks and node.gpus and speeds.gpu_msm:
            return chunk.work_units / speeds.gpu_msm
        return chunk.work_units / (speeds.cpu_msm * node.cpu_factor)

    def on_accept(chunk: Chunk, output: object, how: str) -> None:
        node_id = output.node_id  # type: ignore[attr-defined]
        accepted_on[node_id] = accepted_on.get(node_id, 0) + 1

    def submit(chunk: Chunk, node_id: str) -> int:
        name = name_of[chunk.index]
        curve = curves[name]
        spec = TaskSpec(
            curve=curve,
            points=chunk.size,
            scalar_bytes=chunk.size * SCALAR_BYTES,
            bases_key=name,
            bases_bytes=n_points * POINT_BYTES[curve],
            on_gpu=chunk.index in gpu_chunks and driver.supported("msm", curve),
        )
        return backend.submit(chunk.index, node_id, spec)

    def settle(chunk: Chunk) -> object:
        """A chunk no other owner can audit: recomputed on the head, in the loop's thread."""
        backend.busy_head(costs.cpu_seconds(curves[name_of[chunk.index]], chunk.size))
        return ("sum", chunk.index)

    policy = Policy(
        nodes=lambda: {n.node_id: n.slots for n in nodes},
        settle=settle,
        max_in_flight=knobs.max_in_flight,
        audit=audit,
        preferred=dict(preferred),
        expected_seconds=expected,
        straggler_factor=knobs.straggler_factor,
        straggler_min_seconds=knobs.straggler_min_seconds,
        on_accept=on_accept,
    )
    late_names = ["H"] if kind == "groth16" else []
    first = [c for name, chunks in phases.items() if name not in late_names for c in chunks]
    first.sort(key=lambda c: -c.work_units)  # run_msm_set: costliest first
    later: Future[Sequence[Chunk]] | None = None
    if late_names:
        later = Future()
        h_chunks = [c for name in late_names for c in phases[name]]
        backend.at(h_seconds, lambda: later.set_result(h_chunks))  # type: ignore[union-attr]
    run_placed(first, submit, policy, later, backend=backend)
    received = [backend.state[n.node_id].received_bytes for n in nodes]
    return Outcome(
        seconds=backend.clock + tail_seconds,
        chunks=len(by_index),
        copies=backend.submitted,
        speculative=backend.submitted - len(by_index) - len(audit),
        bytes_per_node=sum(received) / len(received),
        head_bytes=backend.head_bytes,
        loop_seconds=backend.loop_seconds,
        accepted_on=accepted_on,
    )

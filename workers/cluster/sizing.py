"""How a job is cut for the nodes at hand: the typed, stored :class:`JobPlan`.

A plan is chosen once, when a job first runs, and stored with the job (JSON), so a
resumed job keeps its chunk indices and sizes whatever nodes are alive then.  It is
one of two shapes:

* **equal parts**: each MSM of the job in ``parts[name]`` equal chunks (an MSM job
  has one MSM, ``"msm"``; a Groth16 job five, by the prover's names), an NTT job's
  two four-step phases in ``parts["ntt_columns"]`` / ``parts["ntt_rows"]`` equal slices;
* **speed-sized** (:class:`SlotSizing`): one chunk per slot and round, each weighted by
  the speed of the slot it was sized for (work units per second from calibration and
  the running average, :mod:`workers.cluster.calibration`), so every slot finishes at
  about the same time; GPU slots are sized by the GPU's own speed.  The chunk at
  position ``i`` of every phase is *preferred* on the node of slot ``i`` (the
  scheduler gives it elsewhere only when that node is gone).

Pure planning, no Ray: the caller passes the eligible nodes, their slots, speeds
and GPU counts.  The plan turns into chunks with :meth:`JobPlan.msm_chunks` and
:meth:`JobPlan.ntt_plan` (:mod:`workers.cluster.plan`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from workers.cluster.calibration import gpu_key
from workers.cluster.linkplan import (
    DEFAULT_COSTS,
    LINK_KEY,
    LinkCosts,
    MsmLoad,
    NodeCost,
    plan_links,
)
from workers.cluster.plan import Chunk, NttPlan, four_step_shape, plan_msm, plan_ntt
from workers.errors import PlanError

PLAN_VERSION = 1
SAME_SPEED = (0.8, 1.25)
"""Slots whose speeds are within this ratio of the median get equal chunks (calibration noise,
not different machines)."""
NTT_PHASES = ("ntt_columns", "ntt_rows")


@dataclass(frozen=True)
class SlotSizing:
    """One chunk per slot and round: its relative size, the node it was sized for, and
    whether it was sized for the node's GPU."""

    weights: tuple[float, ...]
    nodes: tuple[str, ...]
    gpu_positions: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not self.weights or len(self.weights) != len(self.nodes):
            raise PlanError("a speed-sized plan needs one weight and one node per slot")
        if not all(isinstance(w, float) and math.isfinite(w) and w > 0 for w in self.weights):
            raise PlanError("slot weights must be positive finite numbers")
        if not all(isinstance(n, str) and n for n in self.nodes):
            raise PlanError("slot nodes must be non-empty node ids")
        if not all(isinstance(i, int) and 0 <= i < len(self.nodes) for i in self.gpu_positions):
            raise PlanError("GPU positions must index the slots")


@dataclass(frozen=True)
class JobPlan:
    """A job's chunking (module docstring): ``parts`` or ``slots``, never both."""

    parts: Mapping[str, int] = field(default_factory=dict)
    slots: SlotSizing | None = None

    def __post_init__(self) -> None:
        if (self.slots is None) == (not self.parts):
            raise PlanError("a plan has either equal parts or speed-sized slots")
        for name, count in self.parts.items():
            if not isinstance(name, str) or not isinstance(count, int) or count < 1:
                raise PlanError(f"parts[{name!r}] must be a positive integer")

    # --- storage -----------------------------------------------------------------------
    def to_json(self) -> str:
        body: dict[str, object] = {"version": PLAN_VERSION}
        if self.slots is None:
            body["parts"] = dict(self.parts)
        else:
            body["slots"] = {
                "weights": list(self.slots.weights),
                "nodes": list(self.slots.nodes),
                "gpu_positions": sorted(self.slots.gpu_positions),
            }
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobPlan:
        """The stored plan, checked; :class:`~workers.errors.PlanError` if it is not one."""
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise PlanError(f"stored plan is not JSON: {exc}") from None
        if not isinstance(body, dict) or body.get("version") != PLAN_VERSION:
            raise PlanError(f"stored plan is not a version-{PLAN_VERSION} plan")
        if set(body) - {"version", "parts", "slots"}:
            raise PlanError(f"stored plan has unknown fields {sorted(set(body) - {'version'})}")
        parts, slots = body.get("parts"), body.get("slots")
        if parts is not None:
            if not isinstance(parts, dict):
                raise PlanError("stored plan's parts must be an object")
            return cls(parts=dict(parts))
        if not isinstance(slots, dict) or set(slots) != {"weights", "nodes", "gpu_positions"}:
            raise PlanError("stored plan's slots must have weights, nodes and gpu_positions")
        weights, nodes, gpu = slots["weights"], slots["nodes"], slots["gpu_positions"]
        if not all(isinstance(x, list) for x in (weights, nodes, gpu)):
            raise PlanError("stored plan's slots must hold lists")
        if not all(isinstance(w, int | float) and not isinstance(w, bool) for w in weights):
            raise PlanError("slot weights must be numbers")
        return cls(slots=SlotSizing(tuple(float(w) for w in weights), tuple(nodes), frozenset(gpu)))

    # --- chunks ------------------------------------------------------------------------
    def msm_chunks(
        self, curve: str, n_points: int, name: str = "msm", *, gpu: bool = True
    ) -> list[Chunk]:
        """The chunks of MSM ``name`` (of ``n_points`` points) on ``curve``; with ``gpu``
        false (a curve the GPU backend does not cover) GPU slots are sized as CPU slots."""
        if self.slots is not None:
            return plan_msm(curve, n_points, 0, self.slot_weights(gpu=gpu))
        return plan_msm(curve, n_points, self._part(name))

    def slot_weights(self, *, gpu: bool = True) -> tuple[float, ...]:
        """The slots' weights; without ``gpu`` a GPU slot weighs what its node's CPU slots
        weigh on average (1.0, the typical slot, for a node with no CPU slot in the plan)."""
        assert self.slots is not None
        weights, nodes, on_gpu = self.slots.weights, self.slots.nodes, self.slots.gpu_positions
        if gpu or not on_gpu:
            return weights
        cpu: dict[str, list[float]] = {}
        for i, (weight, node) in enumerate(zip(weights, nodes, strict=True)):
            if i not in on_gpu:
                cpu.setdefault(node, []).append(weight)
        return tuple(
            (sum(cpu[node]) / len(cpu[node]) if cpu.get(node) else 1.0) if i in on_gpu else w
            for i, (w, node) in enumerate(zip(weights, nodes, strict=True))
        )

    def ntt_plan(self, field_name: str, n: int) -> NttPlan:
        """The four-step plan of an NTT of size ``n`` on ``field_name``."""
        if self.slots is not None:
            return plan_ntt(field_name, n, 0, 0, self.slots.weights)
        return plan_ntt(field_name, n, self._part(NTT_PHASES[0]), self._part(NTT_PHASES[1]))

    def placement(
        self, phases: Sequence[Sequence[Chunk]], on_gpu: Sequence[bool] | None = None
    ) -> tuple[dict[int, str], set[int]]:
        """Chunk index → the node it was sized for, and the chunks sized for a GPU slot.

        Position ``i`` of every phase is slot ``i`` (a phase shorter than the slots
        drops the rest); an equal-parts plan prefers no node and uses no GPU slot.
        ``on_gpu[k]`` false keeps phase ``k`` off the GPU (a curve the backend lacks).
        """
        preferred: dict[int, str] = {}
        gpu_chunks: set[int] = set()
        if self.slots is None:
            return preferred, gpu_chunks
        for k, phase in enumerate(phases):
            gpu_phase = on_gpu is None or on_gpu[k]
            for i, chunk in enumerate(phase[: len(self.slots.nodes)]):
                preferred[chunk.index] = self.slots.nodes[i]
                if gpu_phase and i in self.slots.gpu_positions:
                    gpu_chunks.add(chunk.index)
        return preferred, gpu_chunks

    def _part(self, name: str) -> int:
        if name not in self.parts:
            raise PlanError(f"the stored plan has no part {name!r}")
        return self.parts[name]


@dataclass(frozen=True)
class NodeOffer:
    """What one eligible node offers a kernel: CPU slots, GPUs, measured speeds."""

    node_id: str
    slots: int
    gpus: int = 0
    speeds: Mapping[str, float] = field(default_factory=dict)
    """Work units per second by kernel, and the link's bytes per second
    (:data:`workers.cluster.linkplan.LINK_KEY`) once measured."""
    holds: frozenset[str] = frozenset()
    """SHA-256 of the MSM bases the node already holds (pulled by an earlier chunk)."""


def size_for_slots(
    offers: Sequence[NodeOffer],
    kind: str,
    *,
    gpu_supported: bool,
    rounds: int,
    most_chunks: int,
) -> SlotSizing | None:
    """One chunk per slot and round, weighted by the slot's speed for ``kind``, or ``None``.

    A node offers one slot per CPU; where the GPU backend covers the kernel
    (``gpu_supported``) and the node has a GPU with a measured GPU speed, its first
    slot per device is a GPU slot (sized by the GPU's speed).  Rounds come one after
    another, so each node's first chunks fill all its slots.  ``None`` — equal chunks —
    when no slot has a speed or there are more slots than ``most_chunks``.
    """
    nodes: list[str] = []
    weights: list[float] = []
    gpu_positions: set[int] = set()
    for offer in sorted(offers, key=lambda o: o.node_id):
        gpu_speed = offer.speeds.get(gpu_key(kind)) if gpu_supported else None
        gpu_slots = min(offer.gpus, offer.slots) if gpu_speed else 0
        for _ in range(rounds):
            for slot in range(offer.slots):
                if slot < gpu_slots:
                    gpu_positions.add(len(nodes))
                nodes.append(offer.node_id)
                speed = gpu_speed if slot < gpu_slots else offer.speeds.get(kind)
                weights.append(float(speed or 0.0))
    known = sorted(w for w in weights if w > 0)
    if not nodes or len(nodes) > most_chunks or not known:
        return None
    typical = known[len(known) // 2]
    relative = [(w or typical) / typical for w in weights]
    if all(SAME_SPEED[0] <= w <= SAME_SPEED[1] for w in relative):
        relative = [1.0] * len(relative)
    return SlotSizing(tuple(relative), tuple(nodes), frozenset(gpu_positions))


def _same_as_median(values: Sequence[float | None]) -> list[float | None]:
    """``values`` as they are, or all the known ones set to their median when every one is
    within :data:`SAME_SPEED` of it (measurement noise, not different machines or links)."""
    known = sorted(v for v in values if v)
    if not known:
        return list(values)
    median = known[len(known) // 2]
    if all(SAME_SPEED[0] <= v / median <= SAME_SPEED[1] for v in known):
        return [median if v else v for v in values]
    return list(values)


def size_by_links(
    offers: Sequence[NodeOffer],
    loads: Sequence[MsmLoad],
    *,
    gpu_supported: bool,
    rounds: int,
    most_chunks: int,
    costs: LinkCosts = DEFAULT_COSTS,
) -> SlotSizing | None:
    """Slots sized by predicted completion time (:func:`workers.cluster.linkplan.plan_links`):
    transfer over each node's link plus compute plus a per-chunk latency; nodes whose share
    is none get no slot, and a job not worth splitting gets one node's slots only.  The
    kernel is ``msm``; GPU slots as in :func:`size_for_slots`.  ``None`` (the caller falls
    back) when no slot has a speed or even one round has more chunks than ``most_chunks``."""
    known = sorted(s for o in offers if (s := o.speeds.get("msm")))
    if not offers or not known:
        return None
    typical = known[len(known) // 2]
    cpu = _same_as_median([o.speeds.get("msm") or typical for o in offers])
    links = _same_as_median([o.speeds.get(LINK_KEY) for o in offers])
    costed: list[NodeCost] = []
    for offer, cpu_speed, link in zip(offers, cpu, links, strict=True):
        gpu_speed = offer.speeds.get(gpu_key("msm")) if gpu_supported else None
        gpu_slots = min(offer.gpus, offer.slots) if gpu_speed else 0
        speeds = [float(gpu_speed or 0.0)] * gpu_slots + [cpu_speed] * (offer.slots - gpu_slots)
        costed.append(NodeCost(offer.node_id, tuple(speeds), link, offer.holds, gpu_slots))
    by_id = {c.node_id: c for c in costed}
    for tried_rounds in dict.fromkeys((rounds, 1)):
        plan = plan_links(costed, loads, rounds=tried_rounds, costs=costs)
        nodes: list[str] = []
        weights: list[float] = []
        gpu_positions: set[int] = set()
        for node_id in sorted(plan.shares):
            node = by_id[node_id]
            total = sum(node.slot_speeds)
            for _ in range(tried_rounds):
                for slot, speed in enumerate(node.slot_speeds):
                    if slot < node.gpu_slots:
                        gpu_positions.add(len(nodes))
                    nodes.append(node_id)
                    weights.append(plan.shares[node_id] * speed / total / tried_rounds)
        if len(nodes) <= most_chunks:
            top = max(weights)
            return SlotSizing(
                tuple(w / top for w in weights), tuple(nodes), frozenset(gpu_positions)
            )
    return None


def choose_msm_plan(
    curve: str,
    n_points: int,
    offers: Sequence[NodeOffer],
    *,
    gpu_supported: bool,
    chunks_per_node: int,
    min_chunk_points: int,
    link_aware: bool = False,
    bases_sha256: str = "",
) -> JobPlan:
    """An MSM job's plan: speed-sized slots where speeds are known, else equal chunks
    (``chunks_per_node`` per slot, none under ``min_chunk_points`` points).  With
    ``link_aware`` the slots are sized by predicted completion time, links included
    (:func:`size_by_links`; ``bases_sha256`` names the basis, free where a node holds it)."""
    by_size = max(1, n_points // min_chunk_points)
    slots = None
    if link_aware:
        loads = [MsmLoad(curve, n_points, bases_sha256)]
        slots = size_by_links(
            offers, loads, gpu_supported=gpu_supported, rounds=chunks_per_node, most_chunks=by_size
        )
    if slots is None:
        slots = size_for_slots(
            offers, "msm", gpu_supported=gpu_supported, rounds=chunks_per_node, most_chunks=by_size
        )
    if slots is not None:
        return JobPlan(slots=slots)
    wanted = max(1, sum(o.slots for o in offers)) * chunks_per_node
    return JobPlan(parts={"msm": min(wanted, by_size)})


def choose_ntt_plan(
    n: int,
    offers: Sequence[NodeOffer],
    *,
    gpu_supported: bool,
    chunks_per_node: int,
    min_chunk_elements: int,
) -> JobPlan:
    """An NTT job's plan: both four-step phases speed-sized where speeds are known, else
    equal slices (``chunks_per_node`` per slot, none under ``min_chunk_elements``)."""
    n1, n2 = four_step_shape(n)
    by_size = max(1, n // min_chunk_elements)
    slots = size_for_slots(
        offers,
        "ntt",
        gpu_supported=gpu_supported,
        rounds=chunks_per_node,
        most_chunks=min(by_size, n1),
    )
    if slots is not None:
        return JobPlan(slots=slots)
    wanted = max(1, sum(o.slots for o in offers)) * chunks_per_node
    return JobPlan(
        parts={NTT_PHASES[0]: min(wanted, by_size, n2), NTT_PHASES[1]: min(wanted, by_size, n1)}
    )


def choose_groth16_plan(
    sizes: Mapping[str, int],
    offers: Sequence[NodeOffer],
    *,
    gpu_supported: bool,
    chunks_per_node: int,
    min_chunk_points: int,
    link_aware: bool = False,
    loads: Sequence[MsmLoad] = (),
) -> JobPlan:
    """A Groth16 job's plan for its MSMs (``sizes``: points by name): speed-sized slots as
    for an MSM job (:func:`choose_msm_plan`; every MSM is cut by the same slots, the
    biggest bounding how many), else equal parts (:func:`choose_equal_msm_parts`).
    ``gpu_supported``: whether the GPU backend covers ``bn254_g1`` (G2 chunks are then
    sized for the CPU, :meth:`JobPlan.msm_chunks`).  With ``link_aware`` and the MSMs'
    ``loads`` (curve, size, basis hash) the slots are sized by predicted completion time
    (:func:`size_by_links`)."""
    by_size = max(1, max(sizes.values(), default=0) // min_chunk_points)
    slots = None
    if link_aware and loads:
        slots = size_by_links(
            offers, loads, gpu_supported=gpu_supported, rounds=chunks_per_node, most_chunks=by_size
        )
    if slots is None:
        slots = size_for_slots(
            offers, "msm", gpu_supported=gpu_supported, rounds=chunks_per_node, most_chunks=by_size
        )
    if slots is not None:
        return JobPlan(slots=slots)
    return choose_equal_msm_parts(
        sizes, offers, chunks_per_node=chunks_per_node, min_chunk_points=min_chunk_points
    )


def choose_equal_msm_parts(
    sizes: Mapping[str, int],
    offers: Sequence[NodeOffer],
    *,
    chunks_per_node: int,
    min_chunk_points: int,
) -> JobPlan:
    """Equal chunks for several MSMs of one job (a Groth16 proof's five): per MSM
    ``chunks_per_node`` per slot, none under ``min_chunk_points`` points."""
    wanted = max(1, sum(o.slots for o in offers)) * chunks_per_node
    return JobPlan(
        parts={name: min(wanted, max(1, n // min_chunk_points)) for name, n in sizes.items()}
    )

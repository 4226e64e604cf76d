"""Plans that know the links: shares sized by each node's predicted completion time.

A node's time for a share ``f`` (a fraction of every MSM of the job) is modelled as
``a + b·f`` (issue 15 item 4):

* **transfer** over the node's link (``link_bytes_per_second``, measured by a probe when
  the node is first calibrated, then an average of its real fetches,
  :func:`fold_link`): each MSM's bases whole — a chunk task pulls the whole basis the
  first time (:func:`workers.cluster.tasks.cached_bases`) — unless the node already holds
  that basis hash (free), plus its own share of the scalars (:data:`SCALAR_BYTES` a point);
* **compute**: its share of the work units over the summed speed of its slots;
* a fixed **latency** per chunk it runs one after another (``rounds`` × MSMs).

The shares equalise the finish times of the nodes that get any (water-filling: nodes in
order of their fixed cost ``a``, added while the common finish time is still above it),
so a node on a slow link gets a smaller share or none.  The job is **not split** — one
node, the best single one, gets it all — unless the split is predicted at least
``margin`` faster than that node alone.  Pure, no Ray; a node without a measured link
is planned as if its link were free (the link-blind model).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from workers.cluster.costs import msm_work_units

LINK_KEY = "link_bytes_per_second"
"""The key of a node's link throughput in its speeds (``Node.speeds_json``)."""
SCALAR_BYTES = 32
"""Bytes one scalar ships: four ``uint64`` limbs."""
LINK_EWMA_WEIGHT = 0.3
LINK_BYTES_PER_SECOND_RANGE = (1e4, 1e11)
"""What a node's reported throughput is clamped to (80 kbit/s .. 800 Gbit/s)."""
FETCH_MIN_BYTES = 256 * 1024
"""Fetches smaller than this say more about latency than throughput: not folded in."""


HELD_ENTRIES = 6
"""Basis hashes remembered per node: as many as a worker caches
(:data:`workers.cluster.tasks.BASES_CACHE_ENTRIES`)."""
HELD_BASES: dict[str, OrderedDict[str, None]] = {}
"""Node → the basis hashes its accepted chunks used, so pulled or found cached (most recent
last); filled by :func:`workers.cluster.dispatch.run_msm_set` on the head: the planner counts
those bases as free on that node."""


def note_held(node_id: str, sha256: str) -> None:
    """``node_id`` holds the basis ``sha256`` now."""
    held = HELD_BASES.setdefault(node_id, OrderedDict())
    held[sha256] = None
    held.move_to_end(sha256)
    while len(held) > HELD_ENTRIES:
        held.popitem(last=False)


def bases_held(node_id: str) -> frozenset[str]:
    """The basis hashes ``node_id`` is known to hold."""
    return frozenset(HELD_BASES.get(node_id, ()))


def point_bytes(curve: str) -> int:
    """Bytes of one affine base in the compact limb layout (x, y; ``F_p²`` on G2)."""
    limbs = {"bn254_g1": 4, "bn254_g2": 8, "bls12_381_g1": 6, "bls12_381_g2": 12}[curve]
    return 2 * limbs * 8


def fold_link(old: float | None, fetched_bytes: object, fetch_seconds: object) -> float | None:
    """``old`` with one fetch folded in (an EWMA), or ``old`` if the fetch says nothing.

    The numbers come from an untrusted node: non-numbers, non-finite values, fetches under
    :data:`FETCH_MIN_BYTES` and non-positive durations are ignored; the rate is clamped to
    :data:`LINK_BYTES_PER_SECOND_RANGE`.  (It only steers planning, never credit.)
    """
    if type(fetched_bytes) is not int or not isinstance(fetch_seconds, int | float):
        return old
    if fetched_bytes < FETCH_MIN_BYTES or not (0 < fetch_seconds < math.inf):
        return old
    low, high = LINK_BYTES_PER_SECOND_RANGE
    rate = min(high, max(low, fetched_bytes / float(fetch_seconds)))
    if old is None or not (low <= old <= high):
        return rate
    return LINK_EWMA_WEIGHT * rate + (1 - LINK_EWMA_WEIGHT) * old


@dataclass(frozen=True)
class MsmLoad:
    """One MSM of a job, as the planner sees it: its curve, size and basis hash."""

    curve: str
    n_points: int
    bases_sha256: str = ""


@dataclass(frozen=True)
class NodeCost:
    """One node, as the planner sees it: per-slot speeds (work units per second; a GPU
    slot first where it has one), link throughput and the basis hashes it holds."""

    node_id: str
    slot_speeds: tuple[float, ...]
    link_bytes_per_second: float | None = None
    holds: frozenset[str] = frozenset()
    gpu_slots: int = 0


@dataclass(frozen=True)
class LinkCosts:
    chunk_latency_seconds: float = 0.03
    """Fixed cost of one chunk: submit, schedule, result back, record."""
    margin: float = 0.05
    """Split only when predicted at least this fraction faster than the best single node."""


DEFAULT_COSTS = LinkCosts()


@dataclass(frozen=True)
class LinkPlan:
    """Each node's share of every MSM (fractions summing to 1), the predicted seconds,
    and the best single node's predicted seconds (``split`` false: that node alone)."""

    shares: Mapping[str, float]
    predicted_seconds: float
    best_single_seconds: float
    node_seconds: Mapping[str, float] = field(default_factory=dict)

    @property
    def split(self) -> bool:
        return len(self.shares) > 1


def node_line(
    node: NodeCost, loads: Sequence[MsmLoad], rounds: int, costs: LinkCosts
) -> tuple[float, float]:
    """``(a, b)``: the node's predicted seconds for share ``f`` are ``a + b·f``."""
    link = node.link_bytes_per_second
    per_byte = 0.0 if link is None or link <= 0 else 1.0 / link
    fixed_bytes = sum(
        load.n_points * point_bytes(load.curve)
        for load in loads
        if load.n_points > 0 and load.bases_sha256 not in node.holds
    )
    share_bytes = sum(load.n_points * SCALAR_BYTES for load in loads)
    work = sum(msm_work_units(load.curve, load.n_points) for load in loads if load.n_points)
    speed = sum(node.slot_speeds)
    chunks_in_a_row = rounds * sum(1 for load in loads if load.n_points > 0)
    a = fixed_bytes * per_byte + chunks_in_a_row * costs.chunk_latency_seconds
    b = share_bytes * per_byte + work / speed
    return a, b


def plan_links(
    nodes: Sequence[NodeCost],
    loads: Sequence[MsmLoad],
    *,
    rounds: int = 1,
    costs: LinkCosts = DEFAULT_COSTS,
) -> LinkPlan:
    """Shares that minimise the predicted completion time (module docstring)."""
    usable = [n for n in nodes if n.slot_speeds and sum(n.slot_speeds) > 0]
    if not usable:
        raise ValueError("no node with a measured speed to plan on")
    lines = {n.node_id: node_line(n, loads, rounds, costs) for n in usable}
    order = sorted(lines, key=lambda n: (lines[n][0], lines[n][1], n))
    active: list[str] = []
    finish = math.inf
    for node_id in order:
        a, _ = lines[node_id]
        if active and a >= finish:
            break
        trial = [*active, node_id]
        inverse = sum(1 / lines[n][1] for n in trial)
        finish = (1 + sum(lines[n][0] / lines[n][1] for n in trial)) / inverse
        active = trial
    singles = {n: lines[n][0] + lines[n][1] for n in lines}
    best = min(singles, key=lambda n: (singles[n], n))
    if len(active) == 1 or finish > (1 - costs.margin) * singles[best]:
        return LinkPlan({best: 1.0}, singles[best], singles[best], {best: singles[best]})
    raw = {n: max(0.0, (finish - lines[n][0]) / lines[n][1]) for n in active}
    total = sum(raw.values())
    shares = {n: f / total for n, f in raw.items() if f > 0}
    seconds = {n: lines[n][0] + lines[n][1] * f for n, f in shares.items()}
    return LinkPlan(shares, max(seconds.values()), singles[best], seconds)

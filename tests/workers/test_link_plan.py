"""Plans that know the links (issue 15 item 4): :mod:`workers.cluster.linkplan` and
:func:`workers.cluster.sizing.size_by_links`. Pure, no Ray."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.cluster.linkplan import (
    FETCH_MIN_BYTES,
    LINK_BYTES_PER_SECOND_RANGE,
    LINK_KEY,
    LinkCosts,
    MsmLoad,
    NodeCost,
    fold_link,
    node_line,
    plan_links,
)
from workers.cluster.sizing import JobPlan, NodeOffer, choose_groth16_plan, choose_msm_plan

MBIT = 1e6 / 8
MSM_SPEED = 2.5e7  # work units per second on one slot (bn254_g1: 2^18 points in 2.5 s)
N = 1 << 18
LOADS = [MsmLoad("bn254_g1", N, "basis")]


def _offer(node_id: str, mbit: float | None, holds: bool = False) -> NodeOffer:
    speeds = {"msm": MSM_SPEED, "ntt": 1e7}
    if mbit is not None:
        speeds[LINK_KEY] = mbit * MBIT
    return NodeOffer(node_id, 1, speeds=speeds, holds=frozenset({"basis"} if holds else ()))


def _msm_plan(offers: list[NodeOffer], link_aware: bool = True) -> JobPlan:
    return choose_msm_plan(
        "bn254_g1",
        N,
        offers,
        gpu_supported=False,
        chunks_per_node=1,
        min_chunk_points=1024,
        link_aware=link_aware,
        bases_sha256="basis",
    )


def _sizes(plan: JobPlan) -> dict[str, int]:
    sizes: dict[str, int] = {}
    preferred, _ = plan.placement([chunks := plan.msm_chunks("bn254_g1", N)])
    for chunk in chunks:
        sizes[preferred[chunk.index]] = sizes.get(preferred[chunk.index], 0) + chunk.size
    return sizes


def test_fast_links_and_cached_bases_split_by_speed():
    sizes = _sizes(_msm_plan([_offer("a", 1000, True), _offer("b", 1000, True)]))
    assert sum(sizes.values()) == N and abs(sizes["a"] - sizes["b"]) <= 1


def test_a_slow_link_gets_a_smaller_share():
    sizes = _sizes(_msm_plan([_offer("a", 1000, True), _offer("b", 100, True)]))
    assert sizes["a"] > sizes["b"] > 0


def test_a_slow_link_without_the_bases_gets_nothing():
    """At 20 Mbit/s pulling 16 MiB of bases (6.7 s) costs more than the whole job on the node
    that holds them (scalars 3.4 s, compute 2.5 s): the job is not split; link-blind, it is."""
    offers = [_offer("a", 20, holds=True), _offer("b", 20)]
    assert set(_msm_plan(offers).slots.nodes) == {"a"}  # type: ignore[union-attr]
    assert set(_msm_plan(offers, link_aware=False).slots.nodes) == {"a", "b"}  # type: ignore[union-attr]


def test_equal_slow_links_still_split():
    """Each node pulls over its own link, so with every node cold the transfers overlap."""
    assert set(_msm_plan([_offer("a", 20), _offer("b", 20)]).slots.nodes) == {"a", "b"}  # type: ignore[union-attr]


def test_the_node_that_holds_the_bases_is_the_one_chosen():
    plan = _msm_plan([_offer("a", 5), _offer("b", 5, holds=True)])
    assert set(plan.slots.nodes) == {"b"}  # type: ignore[union-attr]


def test_unknown_links_plan_as_before_and_the_plan_stays_a_version_1_plan():
    plan = _msm_plan([_offer("a", None), _offer("b", None)])
    assert len(set(plan.slots.nodes)) == 2  # type: ignore[union-attr]
    assert JobPlan.from_json(plan.to_json()) == plan
    assert '"version": 1' in plan.to_json()


def test_groth16_plans_over_all_five_msms():
    sizes = {"A": 1000, "B1": 1000, "B2": 1000, "C": 1000, "H": 1024}
    curves = {"A": "bn254_g1", "B1": "bn254_g1", "B2": "bn254_g2", "C": "bn254_g1", "H": "bn254_g1"}
    loads = [MsmLoad(curves[k], n, k) for k, n in sizes.items()]
    kwargs = dict(gpu_supported=False, chunks_per_node=2, min_chunk_points=64, link_aware=True)
    holder = NodeOffer("a", 1, speeds=_offer("a", 0.5).speeds, holds=frozenset(sizes))
    slow = [holder, _offer("b", 0.5)]
    assert len(set(choose_groth16_plan(sizes, slow, loads=loads, **kwargs).slots.nodes)) == 1  # type: ignore[union-attr, arg-type]
    fast = [_offer("a", 1000), _offer("b", 1000)]
    assert len(set(choose_groth16_plan(sizes, fast, loads=loads, **kwargs).slots.nodes)) == 2  # type: ignore[union-attr, arg-type]


nodes_strategy = st.lists(
    st.tuples(
        st.lists(st.floats(1e5, 1e8), min_size=1, max_size=4),
        st.one_of(st.none(), st.floats(1e4, 1e10)),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(
    nodes=nodes_strategy,
    n_points=st.integers(1, 1 << 22),
    rounds=st.integers(1, 3),
    latency=st.floats(0, 0.2),
)
def test_water_filling(nodes, n_points, rounds, latency):
    costed = [
        NodeCost(f"n{i}", tuple(s), link, frozenset({"b"} if holds else ()))
        for i, (s, link, holds) in enumerate(nodes)
    ]
    loads = [MsmLoad("bn254_g1", n_points, "b")]
    costs = LinkCosts(chunk_latency_seconds=latency)
    plan = plan_links(costed, loads, rounds=rounds, costs=costs)
    assert math.isclose(sum(plan.shares.values()), 1.0, rel_tol=1e-9)
    assert all(f > 0 for f in plan.shares.values())
    lines = {c.node_id: node_line(c, loads, rounds, costs) for c in costed}
    for node_id, share in plan.shares.items():  # nobody over the predicted time
        a, b = lines[node_id]
        assert a + b * share <= plan.predicted_seconds * (1 + 1e-9) + 1e-12
    singles = [a + b for a, b in lines.values()]
    assert plan.best_single_seconds == pytest.approx(min(singles))
    if plan.split:  # a split only when it beats the best single node by the margin
        assert plan.predicted_seconds <= (1 - costs.margin) * min(singles) * (1 + 1e-9)
    else:
        assert plan.predicted_seconds == pytest.approx(min(singles))


@settings(max_examples=60, deadline=None)
@given(nodes=nodes_strategy, n_points=st.integers(1024, 1 << 20))
def test_slot_plans_cover_every_point(nodes, n_points):
    offers = [
        NodeOffer(
            f"n{i}",
            len(s),
            speeds={"msm": s[0], **({LINK_KEY: link} if link else {})},
            holds=frozenset({"b"} if holds else ()),
        )
        for i, (s, link, holds) in enumerate(nodes)
    ]
    plan = choose_msm_plan(
        "bn254_g1",
        n_points,
        offers,
        gpu_supported=False,
        chunks_per_node=2,
        min_chunk_points=256,
        link_aware=True,
        bases_sha256="b",
    )
    chunks = plan.msm_chunks("bn254_g1", n_points)
    assert sum(c.size for c in chunks) == n_points
    assert [c.start for c in chunks[1:]] == [c.stop for c in chunks[:-1]]


def test_fold_link_clamps_and_ignores_what_says_nothing():
    low, high = LINK_BYTES_PER_SECOND_RANGE
    assert fold_link(None, 1 << 20, 0.1) == pytest.approx((1 << 20) / 0.1)
    assert fold_link(None, 1 << 30, 1e-9) == high
    assert fold_link(None, FETCH_MIN_BYTES, 1e6) == low
    for bad in [(100, 0.1), (1 << 20, 0.0), (1 << 20, -1.0), (1 << 20, math.inf)]:
        assert fold_link(5e6, *bad) == 5e6
    assert fold_link(5e6, 1 << 20, math.nan) == 5e6
    assert fold_link(5e6, True, 0.1) == 5e6
    assert fold_link(5e6, 1 << 20, "0.1") == 5e6
    assert 5e6 < fold_link(5e6, 10_000_000, 1.0) < 1e7  # type: ignore[operator]

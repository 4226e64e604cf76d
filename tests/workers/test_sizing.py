"""The typed job plan: choosing it from node offers, storing it, reading it back checked."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.cluster.sizing import (
    JobPlan,
    NodeOffer,
    SlotSizing,
    choose_equal_msm_parts,
    choose_groth16_plan,
    choose_msm_plan,
    choose_ntt_plan,
    size_for_slots,
)
from workers.errors import PlanError

MSM = {"gpu_supported": True, "chunks_per_node": 2, "min_chunk_points": 16}


def test_equal_chunks_without_speeds() -> None:
    offers = [NodeOffer("a", 2), NodeOffer("b", 1)]
    plan = choose_msm_plan("bn254_g1", 1000, offers, **MSM)
    assert plan.slots is None and plan.parts == {"msm": 6}  # 3 slots × 2 rounds
    chunks = plan.msm_chunks("bn254_g1", 1000)
    assert [c.size for c in chunks] == [167, 167, 167, 167, 166, 166]
    assert plan.placement([chunks]) == ({}, set())


def test_small_jobs_get_fewer_chunks() -> None:
    plan = choose_msm_plan("bn254_g1", 40, [NodeOffer("a", 8)], **MSM)
    assert plan.parts == {"msm": 2}  # 40 points, at least 16 a chunk


def test_speed_sized_slots_follow_speeds_and_gpus() -> None:
    offers = [
        NodeOffer("fast", 1, speeds={"msm": 300.0}),
        NodeOffer("slow", 1, speeds={"msm": 100.0}),
        NodeOffer("gpu", 2, gpus=1, speeds={"msm": 100.0, "msm_gpu": 400.0}),
    ]
    plan = choose_msm_plan("bn254_g1", 1 << 12, offers, **MSM)
    assert plan.slots is not None
    # Sorted by node id, two rounds of each node's slots; the GPU node's first slot is its GPU.
    assert plan.slots.nodes == ("fast", "fast", "gpu", "gpu", "gpu", "gpu", "slow", "slow")
    assert plan.slots.gpu_positions == {2, 4}
    chunks = plan.msm_chunks("bn254_g1", 1 << 12)
    sizes = {c.index: c.size for c in chunks}
    assert sum(sizes.values()) == 1 << 12
    assert abs(sizes[2] - 4 * sizes[6]) <= 4 and abs(sizes[0] - 3 * sizes[6]) <= 3  # 4 : 3 : 1
    preferred, gpu_chunks = plan.placement([chunks])
    assert preferred == dict(enumerate(plan.slots.nodes)) and gpu_chunks == {2, 4}


def test_gpu_speed_ignored_where_the_gpu_backend_does_not_cover_the_kernel() -> None:
    offers = [NodeOffer("gpu", 1, gpus=1, speeds={"ntt": 10.0, "ntt_gpu": 400.0})]
    slots = size_for_slots(offers, "ntt", gpu_supported=False, rounds=1, most_chunks=8)
    assert slots is not None and slots.gpu_positions == frozenset()


def test_close_speeds_are_treated_as_equal() -> None:
    offers = [NodeOffer("a", 1, speeds={"msm": 100.0}), NodeOffer("b", 1, speeds={"msm": 110.0})]
    plan = choose_msm_plan("bn254_g1", 1 << 12, offers, **MSM)
    assert plan.slots is not None and set(plan.slots.weights) == {1.0}


def test_ntt_plan_sizes_both_phases() -> None:
    offers = [NodeOffer("a", 1, speeds={"ntt": 200.0}), NodeOffer("b", 1, speeds={"ntt": 100.0})]
    plan = choose_ntt_plan(
        1 << 16, offers, gpu_supported=False, chunks_per_node=1, min_chunk_elements=1 << 10
    )
    ntt_plan = plan.ntt_plan("bn254_fr", 1 << 16)
    assert [c.size for c in ntt_plan.column_chunks] == [171, 85]
    assert [c.size for c in ntt_plan.row_chunks] == [171, 85]
    equal = choose_ntt_plan(
        1 << 16,
        [NodeOffer("a", 4)],
        gpu_supported=False,
        chunks_per_node=2,
        min_chunk_elements=1 << 10,
    )
    assert equal.parts == {"ntt_columns": 8, "ntt_rows": 8}


def test_groth16_parts_per_msm() -> None:
    plan = choose_equal_msm_parts(
        {"A": 5000, "H": 10}, [NodeOffer("a", 2)], chunks_per_node=2, min_chunk_points=1024
    )
    assert plan.parts == {"A": 4, "H": 1}
    assert len(plan.msm_chunks("bn254_g1", 5000, "A")) == 4
    with pytest.raises(PlanError, match="no part 'B1'"):
        plan.msm_chunks("bn254_g1", 5000, "B1")


def test_groth16_plan_is_speed_sized_and_keeps_g2_off_the_gpu() -> None:
    offers = [
        NodeOffer("cpu", 1, speeds={"msm": 100.0}),
        NodeOffer("gpu", 2, gpus=1, speeds={"msm": 100.0, "msm_gpu": 500.0}),
    ]
    sizes = {"A": 6000, "B1": 6000, "B2": 6000, "C": 5990, "H": 8192}
    plan = choose_groth16_plan(
        sizes, offers, gpu_supported=True, chunks_per_node=1, min_chunk_points=16
    )
    assert plan.slots is not None
    assert plan.slots.nodes == ("cpu", "gpu", "gpu") and plan.slots.gpu_positions == {1}
    g1 = plan.msm_chunks("bn254_g1", 6000, "A")
    g2 = plan.msm_chunks("bn254_g2", 6000, "B2", gpu=False)
    assert [c.size for c in g1] == [857, 4286, 857]  # 1 : 5 : 1
    assert [c.size for c in g2] == [2000, 2000, 2000]  # the GPU slot weighs its CPU's
    g2 = [c.__class__(c.index + 3, c.phase, c.start, c.stop, c.work_units) for c in g2]
    preferred, gpu_chunks = plan.placement([g1, g2], [True, False])
    assert preferred == {0: "cpu", 1: "gpu", 2: "gpu", 3: "cpu", 4: "gpu", 5: "gpu"}
    assert gpu_chunks == {1}
    # Without speeds: equal parts per MSM, as before (resumed jobs keep their stored plan).
    equal = choose_groth16_plan(
        sizes, [NodeOffer("a", 2)], gpu_supported=False, chunks_per_node=2, min_chunk_points=1024
    )
    assert equal.parts == {"A": 4, "B1": 4, "B2": 4, "C": 4, "H": 4}


def test_a_gpu_only_node_weighs_a_typical_slot_off_the_gpu() -> None:
    plan = JobPlan(slots=SlotSizing((1.0, 4.0), ("a", "g"), frozenset({1})))
    assert plan.slot_weights(gpu=False) == (1.0, 1.0)
    assert plan.slot_weights() == (1.0, 4.0)


plans = st.one_of(
    st.dictionaries(
        st.sampled_from(["msm", "A", "ntt_rows"]), st.integers(1, 1 << 20), min_size=1
    ).map(lambda parts: JobPlan(parts=parts)),
    st.lists(
        st.tuples(st.floats(0.01, 100), st.sampled_from(["n1", "n2", "n3"]), st.booleans()),
        min_size=1,
        max_size=12,
    ).map(
        lambda slots: JobPlan(
            slots=SlotSizing(
                tuple(w for w, _, _ in slots),
                tuple(n for _, n, _ in slots),
                frozenset(i for i, (_, _, g) in enumerate(slots) if g),
            )
        )
    ),
)


@given(plans)
def test_a_stored_plan_reads_back_equal(plan: JobPlan) -> None:
    assert JobPlan.from_json(plan.to_json()) == plan


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        "[]",
        '{"parts": {"msm": 2}}',  # no version
        '{"version": 2, "parts": {"msm": 2}}',
        '{"version": 1}',
        '{"version": 1, "parts": {"msm": 0}}',
        '{"version": 1, "parts": {"msm": "2"}}',
        '{"version": 1, "parts": [2]}',
        '{"version": 1, "parts": {"msm": 2}, "extra": 1}',
        '{"version": 1, "slots": {"weights": [1.0], "nodes": []}}',
        '{"version": 1, "slots": {"weights": [1.0], "nodes": ["a", "b"], "gpu_positions": []}}',
        '{"version": 1, "slots": {"weights": [-1.0], "nodes": ["a"], "gpu_positions": []}}',
        '{"version": 1, "slots": {"weights": [NaN], "nodes": ["a"], "gpu_positions": []}}',
        '{"version": 1, "slots": {"weights": [true], "nodes": ["a"], "gpu_positions": []}}',
        '{"version": 1, "slots": {"weights": [1.0], "nodes": [""], "gpu_positions": []}}',
        '{"version": 1, "slots": {"weights": [1.0], "nodes": ["a"], "gpu_positions": [1]}}',
        '{"version": 1, "slots": {"weights": [1.0], "nodes": [7], "gpu_positions": []}}',
    ],
)
def test_a_malformed_stored_plan_is_refused(stored: str) -> None:
    with pytest.raises(PlanError):
        JobPlan.from_json(stored)


def test_a_plan_is_either_parts_or_slots() -> None:
    with pytest.raises(PlanError):
        JobPlan()
    with pytest.raises(PlanError):
        JobPlan(parts={"msm": 1}, slots=SlotSizing((1.0,), ("a",)))
    stored = json.loads(JobPlan(parts={"msm": 3}).to_json())
    assert stored == {"version": 1, "parts": {"msm": 3}}

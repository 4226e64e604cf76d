"""Chunk planning: chunks cover the input exactly once and carry cost-table work units."""

from __future__ import annotations

import pytest

from workers.cluster.costs import msm_work_units, ntt_work_units
from workers.cluster.plan import four_step_shape, plan_msm, plan_ntt


@pytest.mark.parametrize(("n", "parts"), [(1, 1), (1, 5), (10, 3), (1000, 7), (4096, 4)])
def test_msm_chunks_cover_points_once(n, parts):
    chunks = plan_msm("bn254_g1", n, parts)
    covered = [i for c in chunks for i in range(c.start, c.stop)]
    assert covered == list(range(n))
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert max(c.size for c in chunks) - min(c.size for c in chunks) <= 1
    assert sum(c.work_units for c in chunks) == msm_work_units("bn254_g1", n)


def test_empty_msm_has_one_chunk():
    assert len(plan_msm("bn254_g1", 0, 4)) == 1


@pytest.mark.parametrize("log_n", range(0, 21))
def test_four_step_shape(log_n):
    n1, n2 = four_step_shape(1 << log_n)
    assert n1 * n2 == 1 << log_n and n1 <= n2


def test_ntt_plan_phases():
    plan = plan_ntt("bn254_fr", 1 << 10, 5, 3)
    assert (plan.n1, plan.n2) == (32, 32)
    assert [c.index for c in plan.chunks] == list(range(8))
    assert sum(c.size for c in plan.column_chunks) == plan.n2
    assert sum(c.size for c in plan.row_chunks) == plan.n1
    assert plan.row_chunks[0].work_units == ntt_work_units("bn254_fr", 32, plan.row_chunks[0].size)
    assert all(c.work_units > 0 for c in plan.chunks)


@pytest.mark.parametrize(
    ("n", "weights"),
    [(1000, [1, 1]), (1000, [3, 1]), (10, [1e6, 1, 1]), (5, [1, 1, 1, 1, 1, 1, 1]), (1, [2, 1])],
)
def test_weighted_msm_chunks_follow_node_speed(n, weights):
    chunks = plan_msm("bn254_g1", n, 0, weights)
    assert [i for c in chunks for i in range(c.start, c.stop)] == list(range(n))
    assert all(c.size >= 1 for c in chunks)
    assert sum(c.work_units for c in chunks) == msm_work_units("bn254_g1", n)
    if n >= 100:
        total = sum(weights)
        for c, w in zip(chunks, weights, strict=True):
            assert abs(c.size - n * w / total) <= 1


@pytest.mark.parametrize(("log_n", "weights"), [(10, [3, 1]), (12, [1, 1, 2, 4]), (4, [1] * 9)])
def test_weighted_ntt_slices_follow_node_speed(log_n, weights):
    """Both phases split ∝ the weights; a phase shorter than the weights drops the extra ones."""
    plan = plan_ntt("bn254_fr", 1 << log_n, 0, 0, weights)
    assert [c.index for c in plan.chunks] == list(range(len(plan.chunks)))
    for chunks, total in ((plan.column_chunks, plan.n2), (plan.row_chunks, plan.n1)):
        assert [i for c in chunks for i in range(c.start, c.stop)] == list(range(total))
        assert len(chunks) == min(len(weights), total)
        if total >= len(weights):
            whole = sum(weights)
            for c, w in zip(chunks, weights, strict=True):
                assert abs(c.size - total * w / whole) <= 1

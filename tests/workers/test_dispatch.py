"""Distributed MSM and four-step NTT on a real Ray cluster equal the single-process kernels."""

from __future__ import annotations

import random

import numpy as np
import pytest

from workers import msm, ntt
from workers.cluster.dispatch import run_msm, run_ntt
from workers.cluster.plan import plan_msm, plan_ntt
from workers.codec.arrays import element_dtype, element_shape, elements_from_ints, elements_to_ints
from workers.codec.limb_arrays import ints_to_limbs, limbs_to_ints, points_to_limbs
from workers.errors import DispatchError
from workers.params import CURVES, FIELDS, INFINITY
from workers.reference import random_points

R = FIELDS["bn254_fr"].modulus
CURVE = CURVES["bn254_g1"]


@pytest.mark.parametrize("n_chunks", [1, 3, 8, 37])
def test_distributed_msm_equals_single_process(ray_cluster, n_chunks):
    rng = random.Random(n_chunks)
    points = random_points("bn254_g1", 37, rng)
    points[5] = INFINITY
    points[6] = points[7]
    scalars = [rng.randrange(R) for _ in points]
    scalars[0] = 0
    chunks = plan_msm("bn254_g1", len(points), n_chunks)
    seen = []
    result = run_msm(
        "bn254_g1",
        points_to_limbs(points),
        ints_to_limbs(scalars),
        chunks,
        max_in_flight=2,
        on_chunk=lambda chunk, out: seen.append((chunk.index, out.node_id)),
    )
    assert result == msm("bn254_g1", points, scalars)
    assert sorted(i for i, _ in seen) == list(range(len(chunks)))
    assert {node for _, node in seen} <= set(ray_cluster.worker_node_ids)
    if n_chunks == 37:  # one point per chunk
        assert all(c.size == 1 for c in chunks)


@pytest.mark.parametrize(
    ("log_n", "column_slices", "row_slices", "inverse"),
    [
        (0, 1, 1, False),
        (1, 2, 1, False),
        (4, 4, 4, False),
        (6, 8, 8, False),
        (6, 3, 5, True),
        (10, 2, 3, False),
        (10, 32, 32, True),
    ],
)
def test_distributed_ntt_equals_single_process(
    ray_cluster, log_n, column_slices, row_slices, inverse
):
    n = 1 << log_n
    rng = random.Random(log_n)
    values = [rng.randrange(R) for _ in range(n)]
    plan = plan_ntt("bn254_fr", n, column_slices, row_slices)
    out = run_ntt("bn254_fr", ints_to_limbs(values), plan, inverse=inverse, max_in_flight=3)
    assert limbs_to_ints(out) == ntt("bn254_fr", values, inverse=inverse)


def test_distributed_ntt_round_trip(ray_cluster):
    n = 1 << 12
    values = np.random.default_rng(1).integers(0, 2**62, size=n).tolist()
    plan = plan_ntt("bn254_fr", n, 4, 4)
    forward = run_ntt("bn254_fr", ints_to_limbs(values), plan)
    back = run_ntt("bn254_fr", forward, plan, inverse=True)
    assert limbs_to_ints(back) == values


@pytest.mark.parametrize(
    ("field", "log_n", "column_slices", "row_slices", "inverse"),
    [
        ("bls12_381_fr", 6, 3, 5, True),
        ("goldilocks", 6, 4, 4, False),
        ("goldilocks", 7, 3, 2, True),
        ("babybear", 6, 2, 3, True),
    ],
)
def test_distributed_ntt_every_field(ray_cluster, field, log_n, column_slices, row_slices, inverse):
    """The four-step path takes, ships and returns every field's compact array."""
    n = 1 << log_n
    p = FIELDS[field].modulus
    rng = random.Random(f"{field}-{log_n}")
    values = [rng.randrange(p) for _ in range(n)]
    values[0] = p - 1
    plan = plan_ntt(field, n, column_slices, row_slices)
    shipped = []
    out = run_ntt(
        field,
        elements_from_ints(field, values),
        plan,
        inverse=inverse,
        max_in_flight=3,
        on_chunk=lambda chunk, output: shipped.append(output.value),
    )
    assert out.shape == element_shape(field, n) and out.dtype == element_dtype(field)
    assert elements_to_ints(field, out) == ntt(field, values, inverse=inverse)
    assert len(shipped) == len(plan.chunks)
    assert all(v.dtype == element_dtype(field) and v.ndim == out.ndim + 1 for v in shipped)
    assert sum(v.nbytes for v in shipped) == 2 * out.nbytes  # each phase returns n elements


def test_run_ntt_wants_the_compact_array(ray_cluster):
    plan = plan_ntt("babybear", 16, 2, 2)
    for bad in (
        np.zeros((16, 4), dtype=np.uint64),  # the old four-limb layout
        np.zeros(16, dtype=np.uint64),  # BabyBear in 64-bit words
        np.zeros(8, dtype=np.uint32),  # not the plan's size
    ):
        with pytest.raises(DispatchError, match="babybear"):
            run_ntt("babybear", bad, plan)


def test_run_ntt_recomputes_chunks_stored_in_an_older_format(ray_cluster):
    """A resumed job's stored slices in the old four-limb layout are computed again."""
    n, p, rng = 64, FIELDS["goldilocks"].modulus, random.Random(3)
    values = [rng.randrange(p) for _ in range(n)]
    plan = plan_ntt("goldilocks", n, 2, 2)
    stale = {c.index: np.zeros((c.size, 8, 4), dtype=np.uint64) for c in plan.chunks}
    out = run_ntt("goldilocks", elements_from_ints("goldilocks", values), plan, completed=stale)
    assert elements_to_ints("goldilocks", out) == ntt("goldilocks", values)

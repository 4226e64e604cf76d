"""Placement under a policy on the real cluster: allowed nodes, preferred nodes, bases cache."""

from __future__ import annotations

import random

from workers import msm
from workers.cluster.dispatch import alive_cpu_nodes, run_msm
from workers.cluster.plan import plan_msm
from workers.cluster.scheduler import Policy
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.params import FIELDS
from workers.reference import random_points

R = FIELDS["bn254_fr"].modulus


def _input(n: int, seed: int):
    rng = random.Random(seed)
    points = random_points("bn254_g1", n, rng)
    scalars = [rng.randrange(R) for _ in points]
    return points, scalars, points_to_limbs(points), ints_to_limbs(scalars)


def test_only_allowed_nodes_work(ray_cluster):
    allowed = ray_cluster.worker_node_ids[1]
    points, scalars, bases, ks = _input(48, 1)
    seen: list[str] = []
    policy = Policy(
        nodes=lambda: {n: s for n, s in alive_cpu_nodes().items() if n == allowed},
        on_accept=lambda chunk, out, how: seen.append(out.node_id),
    )
    result = run_msm("bn254_g1", bases, ks, plan_msm("bn254_g1", 48, 6), policy=policy)
    assert result == msm("bn254_g1", points, scalars)
    assert seen and set(seen) == {allowed}


def test_chunks_sized_for_a_node_run_there(ray_cluster):
    a, b = ray_cluster.worker_node_ids
    points, scalars, bases, ks = _input(64, 2)
    chunks = plan_msm("bn254_g1", 64, 0, weights=[3, 3, 1, 1])  # a is 3× faster than b
    preferred = {0: a, 1: a, 2: b, 3: b}
    placed: dict[int, str] = {}
    policy = Policy(
        nodes=alive_cpu_nodes,
        preferred=preferred,
        on_accept=lambda chunk, out, how: placed.__setitem__(chunk.index, out.node_id),
    )
    assert run_msm("bn254_g1", bases, ks, chunks, policy=policy) == msm("bn254_g1", points, scalars)
    assert placed == preferred
    assert [c.size for c in chunks] == [24, 24, 8, 8]


def test_repeated_bases_ship_only_scalars(ray_cluster):
    points, scalars, bases, ks = _input(40, 3)
    fetched: list[list[int]] = []
    for _ in range(2):
        run_fetches: list[int] = []
        policy = Policy(
            nodes=alive_cpu_nodes,
            max_in_flight=2,
            on_accept=lambda chunk, out, how, f=run_fetches: f.append(out.fetched_bytes),
        )
        chunks = plan_msm("bn254_g1", 40, 4)
        assert run_msm("bn254_g1", bases, ks, chunks, policy=policy) == msm(
            "bn254_g1", points, scalars
        )
        fetched.append(run_fetches)
    assert sum(fetched[0]) >= bases.nbytes  # pulled at least once
    assert sum(fetched[1]) < sum(fetched[0])  # the warm worker processes had them
    uncached: list[int] = []
    policy = Policy(
        nodes=alive_cpu_nodes, on_accept=lambda chunk, out, how: uncached.append(out.fetched_bytes)
    )
    run_msm("bn254_g1", bases, ks, plan_msm("bn254_g1", 40, 4), policy=policy, cache_bases=False)
    assert sum(uncached) >= bases.nbytes

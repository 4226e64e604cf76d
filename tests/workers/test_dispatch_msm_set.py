"""Several MSMs under one schedule (a Groth16 proof's five), with a part that comes late."""

from __future__ import annotations

import dataclasses
import random
import threading
import time

import numpy as np
import pytest

from workers import msm
from workers.cluster.dispatch import MsmPart, run_msm_set
from workers.cluster.plan import plan_msm
from workers.cluster.runtime import alive_cpu_nodes
from workers.cluster.scheduler import Policy
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.errors import DispatchError
from workers.params import FIELDS
from workers.reference import random_points

R = FIELDS["bn254_fr"].modulus


def _part(name: str, curve: str, n: int, n_chunks: int, offset: int, seed: int):
    rng = random.Random(seed)
    points = random_points(curve, n, rng)
    scalars = [rng.randrange(R) for _ in points]
    chunks = [dataclasses.replace(c, index=c.index + offset) for c in plan_msm(curve, n, n_chunks)]
    part = MsmPart(name, curve, points_to_limbs(points, curve), ints_to_limbs(scalars), chunks)
    return part, msm(curve, points, scalars)


def _policy(order: list[tuple[int, float]]) -> Policy:
    def on_accept(chunk, output, how) -> None:
        order.append((chunk.index, time.monotonic()))

    return Policy(nodes=alive_cpu_nodes, max_in_flight=2, on_accept=on_accept)


def test_set_equals_each_msm(ray_cluster):
    a, a_sum = _part("A", "bn254_g1", 40, 3, 0, seed=1)
    b2, b2_sum = _part("B2", "bn254_g2", 24, 2, 3, seed=2)
    c, c_sum = _part("C", "bn254_g1", 9, 2, 5, seed=3)
    accepted: list[tuple[int, float]] = []

    policy = _policy(accepted)
    sums = run_msm_set([a, b2, c], policy=policy)
    assert sums == {"A": a_sum, "B2": b2_sum, "C": c_sum}
    assert sorted(i for i, _ in accepted) == list(range(7))


def test_late_part_joins_the_queue_while_the_others_run(ray_cluster):
    a, a_sum = _part("A", "bn254_g1", 64, 4, 0, seed=4)
    h, h_sum = _part("H", "bn254_g1", 32, 2, 4, seed=5)
    accepted: list[tuple[int, float]] = []
    started = threading.Event()
    called_at: list[float] = []

    def late() -> MsmPart:
        called_at.append(time.monotonic())
        started.set()
        time.sleep(0.3)  # the head's NTTs
        return h

    sums = run_msm_set([a], policy=_policy(accepted), late=late)
    assert sums == {"A": a_sum, "H": h_sum}
    assert started.is_set()
    assert sorted(i for i, _ in accepted) == list(range(6))
    first_accept = min(t for _, t in accepted)
    assert called_at[0] <= first_accept  # late() ran while the A chunks did


def test_late_part_alone_and_its_failure(ray_cluster):
    h, h_sum = _part("H", "bn254_g1", 8, 2, 0, seed=6)
    assert run_msm_set([], policy=_policy([]), late=lambda: h) == {"H": h_sum}

    def broken() -> MsmPart:
        raise ValueError("the NTTs failed")

    a, _ = _part("A", "bn254_g1", 8, 2, 0, seed=7)
    with pytest.raises(ValueError, match="the NTTs failed"):
        run_msm_set([a], policy=_policy([]), late=broken)


def test_repeated_chunk_index_is_refused(ray_cluster):
    a, _ = _part("A", "bn254_g1", 8, 2, 0, seed=8)
    b, _ = _part("B1", "bn254_g1", 8, 2, 1, seed=9)  # overlaps A's index 1
    with pytest.raises(DispatchError, match="used twice"):
        run_msm_set([a, b], policy=_policy([]))
    late_dup, _ = _part("H", "bn254_g1", 8, 2, 0, seed=10)
    with pytest.raises(DispatchError, match="used twice"):
        run_msm_set([a], policy=_policy([]), late=lambda: late_dup)


def test_completed_chunks_are_not_run_again(ray_cluster):
    a, a_sum = _part("A", "bn254_g1", 16, 4, 0, seed=11)
    bases, scalars = a.bases, a.scalars
    from workers.msm import pippenger

    first = a.chunks[0]
    known = {
        first.index: pippenger.msm_limbs(
            "bn254_g1",
            np.ascontiguousarray(bases[first.start : first.stop]),
            np.ascontiguousarray(scalars[first.start : first.stop]),
        )
    }
    accepted: list[tuple[int, float]] = []
    assert run_msm_set([a], policy=_policy(accepted), completed=known) == {"A": a_sum}
    assert sorted(i for i, _ in accepted) == [1, 2, 3]

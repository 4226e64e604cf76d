"""The scale model (bench/simulate.py): the real scheduler on the virtual-time backend.

No Ray here: :class:`bench.simulate_model.SimBackend` stands for it, and the runs are tiny
(a few dozen chunks), so each test takes milliseconds after the imports.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.simulate_jobs import Costs, Knobs, Speeds, simulate_job  # noqa: E402
from bench.simulate_model import HeadModel, SimNode  # noqa: E402

COSTS = Costs(
    cpu={"bn254_g1": [(1 << 10, 0.01), (1 << 16, 0.4)], "bn254_g2": [(1 << 10, 0.03)]},
    gpu={"bn254_g1": [(1 << 16, 0.09), (1 << 20, 0.19)]},
)
SPEEDS = Speeds(cpu_msm=(1 << 10) * 240 / 0.01, gpu_msm=(1 << 16) * 240 / 0.09)
FAST = 1.25e9  # 10 Gbit/s, in bytes per second
HEAD = HeadModel(uplink_bytes_per_second=FAST, submit_seconds=0.0005, collect_seconds=0.0005)


def nodes(count: int, slots: int = 1, **extra: object) -> list[SimNode]:
    return [SimNode(f"n{i}", slots, FAST, **extra) for i in range(count)]  # type: ignore[arg-type]


def test_same_seed_same_run() -> None:
    mixed = [SimNode("a", 2, 12.5e6), SimNode("b", 4, 2.5e6, cpu_factor=1.5, gpus=1)]
    cold = {"h_seconds": 0.2, "cached_bases": False}
    runs = [
        simulate_job("groth16", 1 << 13, mixed, COSTS, SPEEDS, HEAD, seed=5, **cold)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    assert runs[0].seconds == runs[1].seconds
    assert runs[0].accepted_on == runs[1].accepted_on
    assert runs[0].chunks == sum(runs[0].accepted_on.values())
    assert runs[0].bytes_per_node > (1 << 13) * 64  # cold bases travelled
    other = simulate_job("groth16", 1 << 13, mixed, COSTS, SPEEDS, HEAD, seed=6, **cold)  # type: ignore[arg-type]
    assert other.seconds != runs[0].seconds  # the seed drives the jitter


def test_straggler_gets_a_speculative_copy() -> None:
    slow = [SimNode("n0", 1, FAST, slowdown=30.0), *nodes(3)[1:]]
    knobs = Knobs(audit_rate=0.0, straggler_min_seconds=0.05)
    outcome = simulate_job("msm", 1 << 14, slow, COSTS, SPEEDS, HEAD, knobs=knobs)
    assert outcome.speculative >= 1
    assert outcome.chunks == sum(outcome.accepted_on.values())
    one_slow_chunk = 30 * COSTS.cpu_seconds("bn254_g1", (1 << 14) // 6)
    assert outcome.seconds < one_slow_chunk  # the copies won (n0 alone: two slow chunks)


def test_two_equal_nodes_twice_as_fast() -> None:
    knobs = Knobs(audit_rate=0.0)
    linear = Costs(cpu={"bn254_g1": [(1 << 16, 0.4)]})  # (Pippenger's smaller chunks cost more)
    one = simulate_job("msm", 1 << 16, nodes(1), linear, SPEEDS, HEAD, knobs=knobs)
    two = simulate_job("msm", 1 << 16, nodes(2), linear, SPEEDS, HEAD, knobs=knobs)
    assert one.seconds / two.seconds == pytest.approx(2.0, rel=0.05)


def test_slow_links_and_head_uplink_cost_time() -> None:
    knobs = Knobs(audit_rate=0.0)
    fast = simulate_job("msm", 1 << 16, nodes(4), COSTS, SPEEDS, HEAD, knobs=knobs)
    narrow = HeadModel(uplink_bytes_per_second=1e6, submit_seconds=0.0005, collect_seconds=0.0005)
    slow = simulate_job(
        "msm", 1 << 16, nodes(4), COSTS, SPEEDS, narrow, knobs=knobs, cached_bases=False
    )
    # 4 nodes pull 4 MiB of bases each plus 2 MiB of scalars through a 1 MB/s uplink.
    assert slow.seconds > slow.head_bytes / 1e6 > fast.seconds

"""Scale model: proof time and parallel efficiency for 8, 64 and 512 contributors, predicted.

Usage: ``python bench/simulate.py [--measure] [--validate] [--log-n 20 22]
[--contributors 8 64 512] [--knobs default raised tuned] [--json PATH] [--merge RUN.json ...]``

A discrete-event simulation that drives the pool's real planner
(:mod:`workers.cluster.sizing`) and real scheduler loop (:func:`run_placed`, through the
virtual-time :class:`~bench.simulate_model.SimBackend`) with measured chunk costs and link
speeds (:mod:`bench.simulate_jobs`).  Contributors have 4 CPU slots each (speeds 0.75, 1 or
1.25 × this machine's core); in the ``gpu`` mix every fourth one also has an H200.  Links are
20, 100 or 500 Mbit/s per contributor, the head's uplink 1 Gbit/s, 30 ms round trips.
Groth16 at 2^20 and 2^22 (five MSMs of that many points), bases cached (a proving key
already used: the steady state) and cold (the first proof on a key), under three settings
(:data:`KNOBS`): the pool's defaults (``PROVERPOOL_MAX_IN_FLIGHT`` 8), ``max_in_flight``
raised to 256, and that with 2^14-point chunks at least.
The scheduler's own Python time is charged to the virtual clock (its placement work grows
with nodes × tasks in flight).

Efficiency = ``T_ideal / T``, ``T_ideal = 1 / Σ 1/T_i`` with ``T_i`` the predicted time of
the job on contributor ``i`` alone (the solo speeds added up without loss); for identical
contributors that is ``T_1 / (N·T_N)``, bench/netlab.py's definition.

``--measure`` measures the inputs (:mod:`bench.simulate_measure`) into
``bench/results/simulate_inputs.json`` (else that file is reused); ``--validate`` also runs
the local pool (1 and 2 one-CPU nodes, MSM 2^18) and compares predicted with measured, and
with ``bench/results/netlab.json`` where it exists.  Writes ``bench/results/simulate.json``
and ``simulate.png``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.simulate_jobs import Costs, Knobs, Speeds, _interpolate, simulate_job  # noqa: E402
from bench.simulate_model import HeadModel, SimNode  # noqa: E402

RESULTS = ROOT / "bench" / "results"
INPUTS = RESULTS / "simulate_inputs.json"
POOL = RESULTS / "simulate_pool.json"
NETLAB = RESULTS / "netlab.json"
CONTRIBUTORS = (8, 64, 512)
LINKS_MBIT = (20, 100, 500)
SLOTS = 4
FACTORS = (0.75, 1.0, 1.25)
HEAD_UPLINK_MBIT = 1000
RTT_SECONDS = 0.03
KNOBS = {
    "default": Knobs(),
    "raised": Knobs(max_in_flight=256),
    "tuned": Knobs(max_in_flight=256, msm_min_chunk_points=1 << 14),
}
"""The pool's defaults; ``PROVERPOOL_MAX_IN_FLIGHT`` raised to 256; and that with
``PROVERPOOL_MSM_MIN_CHUNK_POINTS`` 2^14 (fewer, larger chunks: less head work per proof)."""


def mbit(rate: float) -> float:
    return rate * 1e6 / 8


def load_inputs(measure: bool) -> dict:
    if measure or not INPUTS.exists():
        from bench.simulate_measure import measure_inputs

        RESULTS.mkdir(parents=True, exist_ok=True)
        INPUTS.write_text(json.dumps(measure_inputs(), indent=1))
    return json.loads(INPUTS.read_text())


class Model:
    """The measured inputs, as the simulation's costs, speeds and head."""

    def __init__(self, inputs: dict, per_chunk_seconds: float) -> None:
        self.inputs = inputs
        self.costs = Costs(cpu=inputs["cpu_msm_seconds"], gpu=inputs["gpu_msm_seconds"])
        g1_gpu = inputs["gpu_msm_seconds"]["bn254_g1"]
        gpu_points, gpu_seconds = g1_gpu[0]  # what calibration times on a GPU: 2^16 points
        self.speeds = Speeds(
            cpu_msm=inputs["calibration_cpu_msm_units_per_second"],
            gpu_msm=gpu_points * 240 / gpu_seconds,
        )
        self.per_chunk_seconds = per_chunk_seconds

    def head(self, uplink_mbit: float, rtt_seconds: float) -> HeadModel:
        half = self.per_chunk_seconds / 2
        return HeadModel(mbit(uplink_mbit), half, half, rtt_seconds)

    def h_seconds(self, n: int) -> float:
        """The head's H scalars: three inverse and three coset NTTs of the domain."""
        return 6 * _interpolate(self.inputs["head_ntt_seconds"], n)

    def tail_seconds(self) -> float:
        return self.inputs["head_pairing_check_seconds"]


def contributors(n: int, mix: str, link_mbit: float, seed: int) -> list[SimNode]:
    rng = random.Random(seed)
    return [
        SimNode(
            f"c{i:03d}",
            SLOTS,
            mbit(link_mbit),
            cpu_factor=rng.choice(FACTORS),
            gpus=int(mix == "gpu" and i % 4 == 0),
        )
        for i in range(n)
    ]


def groth16(model: Model, log_n: int, nodes, head, knobs: Knobs, cached: bool, charge: bool):
    n = 1 << log_n
    return simulate_job(
        "groth16",
        n,
        nodes,
        model.costs,
        model.speeds,
        head,
        knobs=knobs,
        cached_bases=cached,
        h_seconds=model.h_seconds(n),
        tail_seconds=model.tail_seconds(),
        charge_loop=charge,
    )


def scenario(model: Model, log_n: int, n: int, mix: str, link: float, cached: bool, knob: str):
    head = model.head(HEAD_UPLINK_MBIT, RTT_SECONDS)
    knobs = KNOBS[knob]
    nodes = contributors(n, mix, link, seed=n)
    started = time.perf_counter()
    outcome = groth16(model, log_n, nodes, head, knobs, cached, charge=True)
    solo: dict[tuple[float, int], float] = {}
    for node in nodes:
        key = (node.cpu_factor, node.gpus)
        if key not in solo:
            solo[key] = groth16(model, log_n, [node], head, knobs, cached, charge=False).seconds
    ideal = 1 / sum(1 / solo[(node.cpu_factor, node.gpus)] for node in nodes)
    return {
        "log_n": log_n,
        "contributors": n,
        "mix": mix,
        "link_mbit": link,
        "bases": "cached" if cached else "cold",
        "knobs": knob,
        "max_in_flight": knobs.max_in_flight,
        "min_chunk_points": knobs.msm_min_chunk_points,
        "seconds": outcome.seconds,
        "best_single_seconds": min(solo.values()),
        "efficiency": ideal / outcome.seconds,
        "chunks": outcome.chunks,
        "copies": outcome.copies,
        "speculative": outcome.speculative,
        "bytes_per_node": outcome.bytes_per_node,
        "head_bytes": outcome.head_bytes,
        "head_loop_seconds": outcome.loop_seconds,
        "head_chunk_seconds": outcome.copies * model.per_chunk_seconds,
        "head_uplink_seconds": outcome.head_bytes / mbit(HEAD_UPLINK_MBIT),
        "simulated_in_seconds": time.perf_counter() - started,
    }


def scenarios(model: Model, sizes: list[int], counts: list[int], knobs: list[str]) -> list[dict]:
    """For each of ``knobs``: every link at 8 and 64 contributors, at 512 (whose runs take
    minutes: the real loop's placement is O(nodes × tasks in flight)) 100 Mbit/s only;
    with cold bases at 100 Mbit/s."""
    rows = []
    for log_n in sizes:
        for n in counts:
            for mix in ("cpu", "gpu"):
                for knob in knobs:
                    cases = [(link, True) for link in LINKS_MBIT if n < 512 or link == 100]
                    for link, cached in [*cases, (100, False)]:
                        rows.append(scenario(model, log_n, n, mix, link, cached, knob))
                        print(_row(rows[-1]), flush=True)
    return rows


def _row(r: dict) -> str:
    return (
        f"2^{r['log_n']} {r['contributors']:>4} {r['mix']:>3} {r['link_mbit']:>4} Mbit/s "
        f"{r['bases']:>6} {r.get('knobs', ''):>7}: {r['seconds']:8.2f} s "
        f"(best single {r['best_single_seconds']:7.2f} s) eff {r['efficiency']:5.1%}  "
        f"{r['bytes_per_node'] / 1e6:8.1f} MB/node  head: loop {r['head_loop_seconds']:6.2f} s, "
        f"chunks {r['head_chunk_seconds']:6.2f} s, uplink {r['head_uplink_seconds']:7.2f} s"
    )


def main() -> None:
    from bench.simulate_report import plot, validate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="measure the inputs again")
    parser.add_argument("--validate", action="store_true", help="run the local pool too")
    parser.add_argument("--log-n", type=int, nargs="+", default=[20, 22])
    parser.add_argument("--contributors", type=int, nargs="+", default=list(CONTRIBUTORS))
    parser.add_argument("--knobs", nargs="+", default=list(KNOBS), choices=list(KNOBS))
    parser.add_argument("--merge", type=Path, nargs="+", help="only merge these runs' JSON")
    parser.add_argument("--json", type=Path, default=RESULTS / "simulate.json")
    args = parser.parse_args()
    inputs = load_inputs(args.measure)
    validation = validate(args.validate, inputs)
    model = Model(inputs, validation["head_cpu_per_chunk_seconds"])
    print(
        f"inputs: {json.dumps(inputs['machine'])}; per-chunk head {model.per_chunk_seconds:.4f} s"
    )
    if args.merge:
        rows = [r for path in args.merge for r in json.loads(path.read_text())["predictions"]]
        for row in rows:  # runs from before the knobs had names
            row.setdefault("knobs", "default" if row["max_in_flight"] == 8 else "raised")
    else:
        rows = scenarios(model, args.log_n, args.contributors, args.knobs)
    result = {"inputs": inputs, "validation": validation, "predictions": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    plot(rows, args.json.with_suffix(".png"))
    print(f"wrote {args.json} and {args.json.with_suffix('.png')}")


if __name__ == "__main__":
    main()

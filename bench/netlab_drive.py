"""The driver of ``bench/netlab.py``: run inside the lab, on the head's host, at one link
profile; every case through the pool's own planner, dispatch and prover (no HTTP, no SQL).

It learns the nodes as the pool does: a link probe (:func:`workers.cluster.dispatch.probe_links`)
and a calibration, then every accepted chunk folds its speed (EWMA, as
:meth:`pool_api.runner.nodes.NodeBook.observe`) and the bases it pulled
(:func:`workers.cluster.linkplan.fold_link`) in; the head's record of which node holds
which basis (:func:`workers.cluster.linkplan.bases_held`) is the dispatcher's own.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections import defaultdict

import numpy as np
import ray

from pool_api.runner.groth16 import MSM_CURVES, link_loads, plan_chunks
from pool_api.runner.nodes import SPEED_EWMA_WEIGHT
from workers.cluster import dispatch, runtime
from workers.cluster.dispatch import MsmPart
from workers.cluster.linkplan import LINK_KEY, SCALAR_BYTES, bases_held, fold_link
from workers.cluster.plan import Chunk
from workers.cluster.scheduler import Policy
from workers.cluster.sizing import JobPlan, NodeOffer, choose_groth16_plan, choose_msm_plan
from workers.cluster.tasks import ChunkOutput
from workers.groth16 import Groth16Prover, read_wtns, read_zkey

CHUNKS_PER_NODE = 2
MIN_CHUNK_POINTS = 1024
MARK = "netlab_"


class Nodes:
    """The contributors' Ray nodes and what the driver has learnt of them."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}  # host → node id
        for node in ray.nodes():
            for resource in node["Resources"]:
                if node["Alive"] and resource.startswith(MARK):
                    self.ids[resource[len(MARK) :]] = node["NodeID"]
        self.hosts = sorted(self.ids)
        self.speeds: dict[str, dict[str, float]] = defaultdict(dict)
        node_ids = [self.ids[h] for h in self.hosts]
        for node_id, speeds in runtime.calibrate_nodes(node_ids, "bn254_g1", "bn254_fr").items():
            self.speeds[node_id].update(speeds)
        for node_id, (nbytes, seconds) in dispatch.probe_links(node_ids).items():
            link = fold_link(None, nbytes, seconds)
            if link is not None:
                self.speeds[node_id][LINK_KEY] = link

    def offers(self, k: int) -> list[NodeOffer]:
        return [
            NodeOffer(n, 1, speeds=dict(self.speeds[n]), holds=bases_held(n))
            for n in (self.ids[h] for h in self.hosts[:k])
        ]

    def observe(self, chunk: Chunk, output: ChunkOutput) -> None:
        speeds = self.speeds[output.node_id]
        if output.duration_seconds > 0 and output.backend == "cpu":
            seen = chunk.work_units / output.duration_seconds
            old = speeds.get("msm")
            speeds["msm"] = seen if old is None else SPEED_EWMA_WEIGHT * seen + 0.8 * old
        link = fold_link(speeds.get(LINK_KEY), output.fetched_bytes, output.fetch_seconds)
        if link is not None:
            speeds[LINK_KEY] = link


def _policy(nodes: Nodes, k: int, plan: JobPlan, phases: list[list[Chunk]], shipped: dict):
    preferred, _ = plan.placement(phases)
    subset = {nodes.ids[h]: 1 for h in nodes.hosts[:k]}

    def on_accept(chunk: Chunk, output: ChunkOutput, how: str) -> None:
        nodes.observe(chunk, output)
        shipped[output.node_id] += chunk.size * SCALAR_BYTES + output.fetched_bytes

    return Policy(nodes=lambda: dict(subset), preferred=preferred, on_accept=on_accept)


def _row(nodes: Nodes, workload: str, k: int, profile: int, planning: str, plan: JobPlan):
    used = set(plan.slots.nodes) if plan.slots is not None else set()
    host_of = {v: h for h, v in nodes.ids.items()}
    return {
        "workload": workload,
        "contributors": k,
        "profile_mbit": profile,
        "planning": planning,
        "nodes_used": len(used) or k,
        "hosts_used": sorted(host_of[n] for n in used),
    }


def _plannings(k: int, warm: bool) -> tuple[str, ...]:
    """A warm-up plans link-blind (every node of the run pulls the bases); one contributor
    has one plan."""
    return ("blind",) if warm else ("aware", "blind") if k > 1 else ("aware",)


def msm_case(
    nodes: Nodes, bases: np.ndarray, scalars: np.ndarray, k: int, cached: bool, warm: bool = False
):
    """``(planning, plan, seconds, bytes per node)`` for each planning of one MSM case."""
    n = len(scalars)
    out = []
    for planning in _plannings(k, warm):
        name = dispatch.bases_sha256(bases) if cached else f"cold-{uuid.uuid4().hex}"
        offers = nodes.offers(k)
        plan = choose_msm_plan(
            "bn254_g1",
            n,
            offers,
            gpu_supported=False,
            chunks_per_node=CHUNKS_PER_NODE,
            min_chunk_points=MIN_CHUNK_POINTS,
            link_aware=planning == "aware",
            bases_sha256=name,
        )
        chunks = plan.msm_chunks("bn254_g1", n)
        shipped: dict[str, int] = defaultdict(int)
        policy = _policy(nodes, k, plan, [chunks], shipped)
        started = time.perf_counter()
        dispatch.run_msm("bn254_g1", bases, scalars, chunks, policy=policy, cache_bases=cached)
        out.append((planning, plan, time.perf_counter() - started, shipped))
    return out


def groth16_case(nodes: Nodes, zkey, witness: np.ndarray, k: int, warm: bool = False):
    out = []
    for planning in _plannings(k, warm):
        shipped: dict[str, int] = defaultdict(int)
        started = time.perf_counter()
        prover = Groth16Prover()
        first = prover.witness_tasks(zkey, witness)
        sizes = {t.name: t.scalars.shape[0] for t in first}
        sizes["H"] = zkey.domain_size
        plan = choose_groth16_plan(
            sizes,
            nodes.offers(k),
            gpu_supported=False,
            chunks_per_node=CHUNKS_PER_NODE,
            min_chunk_points=MIN_CHUNK_POINTS,
            link_aware=planning == "aware",
            loads=link_loads(first, zkey.h_points, sizes) if planning == "aware" else (),
        )
        plans = plan_chunks(sizes, plan)
        policy = _policy(nodes, k, plan, list(plans.values()), shipped)
        parts = [MsmPart(t.name, t.curve, t.bases, t.scalars, plans[t.name]) for t in first]

        def h_part(prover: Groth16Prover = prover, chunks: list[Chunk] = plans["H"]) -> MsmPart:
            h = prover.h_task(zkey, witness).scalars
            return MsmPart("H", MSM_CURVES["H"], zkey.h_points, h, chunks)

        sums = dispatch.run_msm_set(parts, policy=policy, late=h_part)
        prover.assemble(zkey, witness, sums)
        out.append((planning, plan, time.perf_counter() - started, shipped))
    return out


def _rows(nodes: Nodes, workload: str, k: int, profile: int, results) -> list[dict]:
    rows = []
    host_of = {v: h for h, v in nodes.ids.items()}
    for planning, plan, seconds, shipped in results:
        row = _row(nodes, workload, k, profile, planning, plan)
        row["seconds"] = round(seconds, 3)
        row["bytes_per_node"] = {host_of[n]: b for n, b in sorted(shipped.items())}
        rows.append(row)
        print(f"  {workload} k={k} {planning}: {seconds:.2f} s on {row['hosts_used']}", flush=True)
    return rows


def best(runs: list[list[tuple]]) -> list[tuple]:
    """Per planning, the fastest of the repeated runs."""
    fastest: dict[str, tuple] = {}
    for run in runs:
        for result in run:
            if result[0] not in fastest or result[2] < fastest[result[0]][2]:
                fastest[result[0]] = result
    return list(fastest.values())


def drive(args: argparse.Namespace) -> int:
    ray.init(address=args.address, log_to_driver=False)
    nodes = Nodes()
    print(f"nodes {nodes.hosts}; learnt {dict(nodes.speeds)}", flush=True)
    bases, scalars = np.load(args.bases), np.load(args.scalars)
    log_n = len(scalars).bit_length() - 1
    zkey = read_zkey(args.circuit.with_suffix(".zkey").read_bytes())
    witness = read_wtns(args.circuit.with_suffix(".w1.wtns").read_bytes())
    circuit_log = int(args.circuit.name.removeprefix("chain"))
    rows: list[dict] = []
    repeat = max(1, args.repeat)
    for k in range(1, len(nodes.hosts) + 1):
        cold = best([msm_case(nodes, bases, scalars, k, cached=False) for _ in range(repeat)])
        rows += _rows(nodes, f"msm{log_n}_cold", k, args.profile, cold)
        msm_case(nodes, bases, scalars, k, cached=True, warm=True)
        cached = best([msm_case(nodes, bases, scalars, k, cached=True) for _ in range(repeat)])
        rows += _rows(nodes, f"msm{log_n}_cached", k, args.profile, cached)
        groth16_case(nodes, zkey, witness, k, warm=True)
        proofs = best([groth16_case(nodes, zkey, witness, k) for _ in range(repeat)])
        rows += _rows(nodes, f"groth16_{circuit_log}", k, args.profile, proofs)
        args.out.write_text(json.dumps(rows))
    print(f"learnt {dict(nodes.speeds)}", flush=True)
    args.out.write_text(json.dumps(rows))
    return 0

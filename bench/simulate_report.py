"""The scale model's validation table (predicted against measured) and its plot."""

from __future__ import annotations

import json
import re
import statistics

from bench.simulate import NETLAB, POOL, RESULTS, Model, groth16, mbit
from bench.simulate_jobs import Costs, Knobs, simulate_job
from bench.simulate_model import SimNode

DEFAULT_PER_CHUNK_SECONDS = 0.0043
"""docs/benchmarks.md's runner overhead per chunk, when the pool has not been measured here."""
LOOPBACK_MBIT = 40_000
UNAUDITED = Knobs(audit_rate=0.0)
"""bench/pool.py's runs: audits off."""
LAB_HEAD_MBIT = 10_000


def _pool(run: bool) -> dict | None:
    if run:
        from bench.simulate_measure import measure_pool

        RESULTS.mkdir(parents=True, exist_ok=True)
        POOL.write_text(json.dumps(measure_pool(), indent=1))
    return json.loads(POOL.read_text()) if POOL.exists() else None


def _msm(
    model: Model,
    log_n: int,
    nodes: list[SimNode],
    head,
    cached: bool,
    costs: Costs | None = None,
    knobs: Knobs = UNAUDITED,
) -> float:
    return simulate_job(
        "msm",
        1 << log_n,
        nodes,
        costs or model.costs,
        model.speeds,
        head,
        knobs=knobs,
        cached_bases=cached,
    ).seconds


def _netlab_rows(model: Model) -> list[dict]:
    """Predictions for bench/netlab.py's rows (one-CPU contributors on capped links)."""
    if not NETLAB.exists():
        return []
    body = json.loads(NETLAB.read_text())
    rows = body.get("rows", body) if isinstance(body, dict) else body
    out = []
    for row in rows:
        workload = str(row.get("workload", ""))
        found = re.search(r"(msm|groth16)\D*(\d+)", workload)
        if not found or not row.get("seconds"):
            continue
        kind, log_n = found.group(1), int(found.group(2))
        n = int(row["contributors"])
        nodes = [SimNode(f"lab{i}", 1, mbit(float(row["profile_mbit"]))) for i in range(n)]
        head = model.head(LAB_HEAD_MBIT, 0.001)
        cached = "cold" not in workload
        knobs = Knobs(audit_rate=0.0, link_aware=row.get("planning") != "blind")  # netlab_drive's
        if kind == "msm":
            predicted = _msm(model, log_n, nodes, head, cached, knobs=knobs)
        else:
            predicted = groth16(model, log_n, nodes, head, knobs, cached, charge=False).seconds
        out.append(
            {
                "source": "netlab",
                "case": f"{workload} {row.get('planning', '')} {row['profile_mbit']} Mbit/s",
                "key": (workload, row["profile_mbit"], row.get("planning", "")),
                "contributors": n,
                "measured_seconds": float(row["seconds"]),
                "predicted_seconds": predicted,
            }
        )
    return _scaled(out)


def _scaled(rows: list[dict]) -> list[dict]:
    """Each row also scaled by its one-contributor row's measured/predicted ratio (the lab's
    machine is loaded and oversubscribed, its chunks slower than the measured costs): what
    the model predicts for the speed-up, with the lab's own single-node speed."""
    single = {r["key"]: r for r in rows if r["contributors"] == 1}
    for row in rows:
        workload, mbit_, _planning = row.pop("key")
        one = single.get((workload, mbit_, _planning)) or single.get((workload, mbit_, "aware"))
        if one is None:
            continue
        ratio = one["measured_seconds"] / one["predicted_seconds"]
        row["scaled_predicted_seconds"] = row["predicted_seconds"] * ratio
        row["scaled_error"] = row["scaled_predicted_seconds"] / row["measured_seconds"] - 1
        k = row["contributors"]
        row["measured_efficiency"] = one["measured_seconds"] / (k * row["measured_seconds"])
        row["predicted_efficiency"] = one["predicted_seconds"] / (k * row["predicted_seconds"])
    return rows


def _pool_rows(model: Model, pool: dict) -> list[dict]:
    """Each local run predicted from its own chunks' compute seconds (the machine's load
    moves them from run to run): the first run pulls the bases, the others find them cached."""
    head = model.head(LOOPBACK_MBIT, 0.0)
    log_n, rows = int(pool["log_n"]), []
    for count, runs in sorted(pool["runs"].items()):
        nodes = [SimNode(f"n{i}", 1, mbit(LOOPBACK_MBIT)) for i in range(int(count))]
        predicted = []
        for i, run in enumerate(runs):
            points = statistics.mean(run["chunk_points"])
            costs = Costs(cpu={"bn254_g1": [(points, statistics.mean(run["chunk_seconds"]))]})
            seconds = _msm(model, log_n, nodes, head, cached=i > 0, costs=costs)
            predicted.append(seconds)
        for label, pick in (("first", slice(0, 1)), ("cached", slice(1, None))):
            rows.append(
                {
                    "source": "local pool",
                    "case": f"MSM 2^{log_n} bases {label} (median of {len(runs[pick])})",
                    "contributors": int(count),
                    "measured_seconds": statistics.median(r["seconds"] for r in runs[pick]),
                    "predicted_seconds": statistics.median(predicted[pick]),
                }
            )
    return rows


def validate(run_pool: bool, inputs: dict) -> dict:
    """Predicted against measured: the local pool (bench/pool.py's), and netlab.json's rows."""
    pool = _pool(run_pool)
    per_chunk = head_cpu = DEFAULT_PER_CHUNK_SECONDS
    if pool and "overhead" in pool:  # wall time, under the load the runs had
        per_chunk = float(pool["overhead"]["per_chunk_seconds"])
    if pool and "head_cpu_per_chunk_seconds" in pool:  # for the predictions: a quiet head
        head_cpu = float(pool["head_cpu_per_chunk_seconds"])
    model = Model(inputs, per_chunk)
    rows: list[dict] = []
    if pool:
        rows += _pool_rows(model, pool)
    rows += _netlab_rows(model)
    for row in rows:
        row["error"] = row["predicted_seconds"] / row["measured_seconds"] - 1
    print("validation: predicted against measured")
    for row in rows:
        scaled = ""
        if "scaled_error" in row:
            scaled = (
                f"; scaled by the 1-node row {row['scaled_predicted_seconds']:6.2f} s "
                f"({row['scaled_error']:+.0%}), efficiency measured "
                f"{row['measured_efficiency']:.0%} predicted {row['predicted_efficiency']:.0%}"
            )
        print(
            f"  {row['source']:>10} {row['case']:<40} {row['contributors']} nodes: "
            f"measured {row['measured_seconds']:6.2f} s, "
            f"predicted {row['predicted_seconds']:6.2f} s ({row['error']:+.0%}){scaled}"
        )
    return {
        "per_chunk_seconds": per_chunk,
        "head_cpu_per_chunk_seconds": head_cpu,
        "pool": pool,
        "rows": rows,
    }


def plot(rows: list[dict], path) -> None:
    """Proof time and efficiency against contributors, one row of panels per size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["log_n"] for r in rows})
    fig, axes = plt.subplots(len(sizes), 2, figsize=(11, 4 * len(sizes)), squeeze=False)
    for (left, right), log_n in zip(axes, sizes, strict=True):

        def key(r: dict) -> tuple:
            return (r["mix"], r["link_mbit"], r["bases"], r["knobs"])

        for mix, link, bases, knob in sorted({key(r) for r in rows}, key=str):
            mine = sorted(
                (r for r in rows if r["log_n"] == log_n and key(r) == (mix, link, bases, knob)),
                key=lambda r: r["contributors"],
            )
            if len(mine) < 2:
                continue
            style = "--" if bases == "cold" else {"default": ":", "raised": "-"}.get(knob, "-.")
            label = f"{mix}, {link} Mbit/s, {bases}, {knob}"
            xs = [r["contributors"] for r in mine]
            left.plot(xs, [r["seconds"] for r in mine], style, marker="o", label=label)
            right.plot(xs, [r["efficiency"] for r in mine], style, marker="o", label=label)
        for ax, title in ((left, "predicted proof time (s)"), (right, "parallel efficiency")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("contributors")
            ax.set_title(f"Groth16 2^{log_n}: {title}")
        left.set_yscale("log")
        right.set_ylim(0, 1.05)
    axes[0][1].legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

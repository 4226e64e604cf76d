"""The pool on emulated links (issue 15 item 5): MSM 2^18 (cold and cached bases) and a
Groth16 proof at 2^16, on 1, 2 and 3 contributors, at 1000, 100 and 20 Mbit/s, each with
link-aware and link-blind planning.

    sudo .venv/bin/python bench/netlab.py            # the full run (about 10 minutes)
    sudo .venv/bin/python bench/netlab.py --quick    # MSM 2^16, Groth16 2^12, one profile

The lab (``tests/netlab/lab.py``): a head host (uncapped) and three contributor hosts, each
its own network namespace behind a bridge, each contributor's link capped by ``tc tbf``
in both directions.  A Ray head (no CPUs) runs on the head's host and a one-CPU Ray node
on each contributor's (``ray start``, as ``proverpool join`` starts it).  For each link
profile the caps are set and a driver process on the head's host (``netlab.py drive``)
runs every case through the pool's own code: the planner
(:func:`workers.cluster.sizing.choose_msm_plan` / ``choose_groth16_plan``, link-aware or
link-blind), :func:`workers.cluster.dispatch.run_msm_set` and the Groth16 prover.  It
learns each node's link as the pool does (a probe, then the bases its chunks pull:
:func:`workers.cluster.linkplan.fold_link`) and each node's speed from its chunks.  The
contributors used are the first ``k``; the others are idle (their Ray nodes stay up).

A fourth profile, ``mixed`` (``profile_mbit`` 0, written apart under ``mixed``), puts one
contributor on each link (c1 1000, c2 100, c3 20 Mbit/s): there the plans differ.

Cases: ``msm18_cold`` (a basis no node holds: every node that gets a chunk pulls 16 MiB),
``msm18_cached`` (every contributor in the run already holds it, after a warm-up run),
``groth16_16`` (chain16, the proving key's five bases held after a warm-up: one key, many
proofs).  Printed and written to ``bench/results/netlab.json`` (``rows`` of workload,
contributors, profile_mbit, planning, seconds, bytes_per_node, efficiency, plus the nodes
the plan used) after each profile, and plotted (efficiency
against link speed) to ``bench/results/netlab.png``.  Efficiency is ``T_1 / (k·T_k)``
against one contributor at the same profile.  Needs root (namespaces); this machine has
2 cores, so 3 one-CPU contributors (plus the head's driver) oversubscribe it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BUILD = RESULTS / "groth16_build" / "dev"
FIXTURES = ROOT / "tests" / "fixtures" / "groth16"
PROFILES = (1000, 100, 20)
MIXED = {"c1": 1000, "c2": 100, "c3": 20}
"""The mixed profile: one contributor on each kind of link (where the plans differ)."""
CONTRIBUTORS = ("c1", "c2", "c3")
RAY_PORT = 6380  # the lab's head host has its own ports; never Ray's default 6379
MARK = "netlab_"
OVERSUBSCRIBED = (
    "note: this machine has 2 cores; 3 one-CPU contributors plus the head's driver "
    "oversubscribe it (3-contributor figures understate what 3 machines would do)"
)


def _ray_args(lab, host: str, temp: Path) -> list[str]:
    ray = str(Path(sys.executable).with_name("ray"))
    common = [ray, "start", "--block", "--disable-usage-stats", "--temp-dir", str(temp)]
    common += ["--object-store-memory", str(400 << 20), "--dashboard-agent-listen-port", "52401"]
    address = lab.address(host)
    if host == "head":
        return [
            *common, "--head", "--port", RAY_PORT, "--num-cpus", "0", "--include-dashboard",
            "false", "--ray-client-server-port", "23001", "--dashboard-port", "23002",
            "--node-ip-address", address,
        ]  # fmt: skip
    resources = json.dumps({MARK + host: 1})
    return [
        *common, "--address", f"{lab.address('head')}:{RAY_PORT}", "--num-cpus", "1",
        "--node-ip-address", address, "--resources", resources,
    ]  # fmt: skip


def _start_ray(lab, hosts: list[str], temps: list[Path]) -> None:
    for host in hosts:
        temp = Path(tempfile.mkdtemp(prefix=f"pp-nl-{host}-", dir="/tmp"))
        temps.append(temp)
        log = lab.host(host).home / "ray.log"
        process = lab.popen(host, _ray_args(lab, host, temp), log=log)
        deadline = time.monotonic() + 120
        while b"Ray runtime started" not in (log.read_bytes() if log.exists() else b""):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"ray start on {host} failed:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)


@contextlib.contextmanager
def _removed(paths: list[Path]) -> Iterator[None]:
    """Ray's temp dirs removed on the way out (the lab kills the processes first)."""
    try:
        yield
    finally:
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)


def _inputs(work: Path, log_n: int) -> tuple[Path, Path]:
    """MSM bases (distinct points) and scalars, as ``.npy`` files under ``work``."""
    import random

    import numpy as np

    from bench.msm_compare import _distinct_points
    from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
    from workers.params import CURVES

    rng = random.Random(15)
    n = 1 << log_n
    bases = points_to_limbs(_distinct_points("bn254_g1", n, rng), "bn254_g1")
    order = CURVES["bn254_g1"].order
    scalars = ints_to_limbs([rng.randrange(order) for _ in range(n)])
    paths = work / "bases.npy", work / "scalars.npy"
    np.save(paths[0], bases)
    np.save(paths[1], scalars)
    return paths


def efficiencies(rows: list[dict]) -> None:
    """``efficiency``: ``T_1 / (k·T_k)`` against the one-contributor row of the same
    workload, profile and planning (link-aware if that one is missing)."""
    single = {
        (r["workload"], r["profile_mbit"], r["planning"]): r["seconds"]
        for r in rows
        if r["contributors"] == 1
    }
    for row in rows:
        key = (row["workload"], row["profile_mbit"])
        t1 = single.get((*key, row["planning"])) or single.get((*key, "aware"))
        row["efficiency"] = round(t1 / (row["contributors"] * row["seconds"]), 3) if t1 else None


def table(rows: list[dict]) -> str:
    lines = [
        f"{'workload':<14}{'Mbit/s':>7}{'k':>3} {'plan':<6}{'seconds':>9}{'eff':>7}"
        f"{'nodes':>6}  MiB shipped per node"
    ]
    for r in rows:
        mib = " ".join(f"{b / 2**20:6.1f}" for b in r["bytes_per_node"].values())
        eff = f"{r['efficiency']:.0%}" if r.get("efficiency") is not None else "-"
        lines.append(
            f"{r['workload']:<14}{r['profile_mbit']:>7}{r['contributors']:>3} "
            f"{r['planning']:<6}{r['seconds']:>9.2f}{eff:>7}{r.get('nodes_used', 0):>6}  {mib}"
        )
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[str]:
    """The issue's acceptance targets, each with what was measured."""
    by = {(r["workload"], r["profile_mbit"], r["contributors"], r["planning"]): r for r in rows}
    out = []
    msm = next((r["workload"] for r in rows if r["workload"].endswith("_cached")), None)
    for mbit, goal in ((1000, 0.8), (100, 0.7)):
        row = by.get((msm, mbit, 2, "aware"))
        if row and row.get("efficiency") is not None:
            verdict = "met" if row["efficiency"] >= goal else "MISSED"
            out.append(
                f"{msm} 2 contributors at {mbit} Mbit/s: efficiency {row['efficiency']:.0%} "
                f"(target >= {goal:.0%}): {verdict}"
            )
    for r in rows:
        if r["profile_mbit"] == 20 and r["planning"] == "aware" and r["contributors"] > 1:
            best = by.get((r["workload"], 20, 1, "aware"))
            if best:
                ratio = r["seconds"] / best["seconds"]
                out.append(
                    f"{r['workload']} {r['contributors']} contributors at 20 Mbit/s: "
                    f"{ratio:.2f}x one contributor (target <= 1.05): "
                    f"{'met' if ratio <= 1.05 else 'MISSED'}"
                )
    for (workload, mbit, k, planning), r in sorted(by.items()):
        blind = by.get((workload, mbit, k, "blind"))
        if planning == "aware" and blind and r.get("nodes_used") != blind.get("nodes_used"):
            verdict = "aware faster" if r["seconds"] < blind["seconds"] else "BLIND FASTER"
            out.append(
                f"{workload} {k} at {mbit} Mbit/s, plans differ: aware {r['seconds']:.2f} s, "
                f"blind {blind['seconds']:.2f} s: {verdict}"
            )
    return out


def plot(rows: list[dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (pip install 'proverpool[bench]'): no plot")
        return False
    workloads = sorted({r["workload"] for r in rows})
    fig, axes = plt.subplots(1, len(workloads), figsize=(5 * len(workloads), 4), squeeze=False)
    for ax, workload in zip(axes[0], workloads, strict=True):
        for k in sorted({r["contributors"] for r in rows if r["contributors"] > 1}):
            for planning, style in (("aware", "-o"), ("blind", "--x")):
                points = sorted(
                    (r["profile_mbit"], r["efficiency"])
                    for r in rows
                    if r["workload"] == workload
                    and r["contributors"] == k
                    and r["planning"] == planning
                    and r.get("efficiency") is not None
                )
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, style, label=f"{k} contributors, {planning}")
        ax.set_xscale("log")
        ax.set_xlabel("link (Mbit/s)")
        ax.set_ylabel("parallel efficiency")
        ax.set_title(workload)
        ax.axhline(1.0, color="grey", linewidth=0.5)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return True


def write(rows: list[dict], mixed: list[dict], path: Path, meta: dict) -> None:
    """``rows`` (uniform profiles) and, apart, the mixed profile's rows (``profile_mbit``
    0; efficiency against c1 alone, on its 1000 Mbit/s link)."""
    efficiencies(rows)
    efficiencies(mixed)
    body = {**meta, "rows": rows}
    if mixed:
        body["mixed"] = {"links_mbit": MIXED, "rows": mixed}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=1) + "\n")


def run(args: argparse.Namespace) -> int:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "netlab")]
    from lab import Lab, unavailable

    reason = unavailable()
    if reason:
        print(f"no network lab here: {reason}")
        return 2
    log_msm, circuit = (16, FIXTURES / "chain12") if args.quick else (18, BUILD / "chain16")
    if not circuit.with_suffix(".zkey").exists():
        print(f"{circuit}.zkey is missing: python bench/build_circuits.py --powers 16")
        return 2
    profiles = [int(p) for p in args.profiles.split(",")] if args.profiles else [*PROFILES, 0]
    if args.quick and not args.profiles:
        profiles = [100]
    print(OVERSUBSCRIBED)
    rows: list[dict] = []
    mixed: list[dict] = []
    meta = {
        "machine": "2 cores; contributors are one-CPU Ray nodes in network namespaces",
        "note": OVERSUBSCRIBED,
        "msm_log_n": log_msm,
        "circuit": circuit.name,
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pp-nl-in-") as work:
        bases, scalars = _inputs(Path(work), log_msm)
        profile = {"head": None, **{c: float(profiles[0] or MIXED[c]) for c in CONTRIBUTORS}}
        temps: list[Path] = []
        with _removed(temps), Lab(profile_mbit=profile) as lab:
            _start_ray(lab, ["head", *CONTRIBUTORS], temps)
            for mbit in profiles:
                for host in CONTRIBUTORS:
                    lab.set_rate(host, float(mbit or MIXED[host]))
                out = lab.host("head").home / f"rows-{mbit}.json"
                argv = [
                    sys.executable, "-m", "bench.netlab", "drive", "--address",
                    f"{lab.address('head')}:{RAY_PORT}", "--profile", mbit, "--bases", bases,
                    "--scalars", scalars, "--circuit", circuit, "--out", out,
                    "--repeat", args.repeat,
                ]  # fmt: skip
                log = lab.host("head").home / f"drive-{mbit}.log"
                driver = lab.popen("head", argv, env={"PYTHONPATH": str(ROOT)}, log=log, cwd=ROOT)
                if driver.wait(timeout=1800) != 0 or not out.exists():
                    print(f"driver at {mbit} Mbit/s failed:\n{log.read_text()[-4000:]}")
                    return 1
                (rows if mbit else mixed).extend(json.loads(out.read_text()))
                write(rows, mixed, args.out, meta)
                print(f"{mbit} Mbit/s done ({time.monotonic() - started:.0f} s)", flush=True)
    write(rows, mixed, args.out, meta)
    print(table(rows))
    for line in targets(rows):
        print(" ", line)
    if mixed:
        print(f"mixed links {MIXED} (profile 0; efficiency against c1 alone):")
        print(table(mixed))
        for line in targets(mixed):
            print(" ", line)
    if plot(rows, args.plot):
        print(f"plot: {args.plot}")
    print(f"rows: {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    drive = sub.add_parser("drive", help="(inside the lab) run every case at one profile")
    drive.add_argument("--address", required=True)
    drive.add_argument("--profile", type=int, required=True)
    drive.add_argument("--bases", type=Path, required=True)
    drive.add_argument("--scalars", type=Path, required=True)
    drive.add_argument("--circuit", type=Path, required=True, help="chainN (.zkey, .w1.wtns)")
    drive.add_argument("--out", type=Path, required=True)
    drive.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="MSM 2^16, chain12, 100 Mbit/s")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per case (fastest)")
    parser.add_argument("--profiles", help="comma-separated Mbit/s (default 1000,100,20)")
    parser.add_argument("--out", type=Path, default=RESULTS / "netlab.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "netlab.png")
    args = parser.parse_args(argv)
    if args.command == "drive":
        from bench.netlab_drive import drive as run_drive

        return run_drive(args)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())

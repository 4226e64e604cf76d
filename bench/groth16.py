"""Groth16 proving side by side: snarkjs, groth16py, our prover and the pool.

Usage: ``python bench/groth16.py [--powers 12 16 18 20] [--repeat N] [--snarkjs-repeat N]
[--pool-nodes 1 2] [--stream 20] [--json PATH]``

For each domain size 2^k: the circuit ``tests/fixtures/groth16/chain.circom.in`` with
``2^k − 536`` steps (one R1CS constraint each; 2^12 is the committed fixture ``chain12``,
the others are built on first use into the git-ignored ``bench/results/groth16_build/``:
above 2^12 by ``bench/build_circuits.py`` (circom2, snarkjs witnesses, and our UNSAFE fast
development setup :func:`workers.groth16.setup.dev_setup`; a warning line says the key is a
development key) into its ``dev/`` folder, else by ``tests/fixtures/groth16/build.sh``; then
cached; ``--build-dir`` points at another directory holding ``chain{k}.zkey``,
``chain{k}.w1.wtns`` and ``chain{k}.vkey.json``).  On the same ``.zkey`` and ``.wtns``, each
in a process of its own (:mod:`bench.groth16_peers`, :mod:`bench.groth16_pool`):

* snarkjs (npm, pinned): ``groth16.prove`` inside one ``node`` process (it reads the key on
  every call; one worker thread per core), and the ``snarkjs groth16 prove`` command line;
* groth16py (PyPI, arkworks): ``import_zkey`` (reported apart) then ``prove_wtns``;
* ours in one process: parse (``read_zkey``) and prove, the time per phase (NTTs, each MSM);
* the pool with each ``--pool-nodes`` count of one-CPU worker nodes (local Ray, SQLite,
  embedded Redis, the real job runner): the proof end to end over HTTP and its phases
  (upload, queue, key + witness load, H, plan, MSMs: nodes' compute and dispatch, assembly,
  the pairing check, storing); at 2^``--stream-power`` a stream of ``--stream`` jobs
  submitted at once (proofs per minute) against ours proving them one after another;
* peak memory of every process: ours, snarkjs' node process and CLI, groth16py, the pool's
  head process (API + runner + Ray driver), and each worker node (its Ray workers' ``VmHWM``
  and the polled peak of the summed ``VmRSS`` of its raylet and their descendants);
* every proof is checked with :func:`workers.groth16.verify` and with snarkjs'
  ``groth16.verify`` (all of them, in one node process), and one proof per prover with the
  ``snarkjs groth16 verify`` command line.

Times are the best of ``--repeat`` runs after a warm-up.  Prints tables and writes JSON
(default ``bench/results/groth16.json``) with the CPU model and the load average at the
start and the end: the machine is often shared, quote the figures with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.build_circuits import build as build_dev_circuit  # noqa: E402
from bench.groth16_peers import (  # noqa: E402
    SNARKJS,
    run_child,
    snarkjs_cli_verifies,
    snarkjs_verify,
    time_snarkjs,
)
from workers.groth16 import VerificationKey, proof_from_json, verify  # noqa: E402
from workers.groth16.setup import UNSAFE_WARNING  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "groth16"
BUILD_DIR = ROOT / "bench" / "results" / "groth16_build"
DEFAULT_JSON = ROOT / "bench" / "results" / "groth16.json"
STEPS_BELOW_DOMAIN = 536
"""Steps = 2^k − this: the constraints plus public inputs fill most of the 2^k domain."""
GIB = 1 << 30


def circuit(power: int, build_dir: Path = BUILD_DIR) -> tuple[Path, Path, Path]:
    """``(zkey, wtns, vkey.json)`` of the 2^power circuit, built into ``build_dir`` if needed.

    Above 2^12, unless ``build_dir`` already holds a snarkjs-made ``chain{k}.zkey``, the key
    comes from the fast UNSAFE development setup (:mod:`bench.build_circuits`, into
    ``build_dir/dev``), and a warning line says so.
    """
    if power == 12:
        return (
            FIXTURES / "chain12.zkey",
            FIXTURES / "chain12.w1.wtns",
            FIXTURES / "chain12.vkey.json",
        )
    name = f"chain{power}"
    zkey = build_dir / f"{name}.zkey"
    if power > 12 and not zkey.exists():
        dev = build_dir / "dev"
        print(f"WARNING: 2^{power} uses a development key: {UNSAFE_WARNING}", flush=True)
        build_dev_circuit(power, dev, STEPS_BELOW_DOMAIN)
        return dev / f"{name}.zkey", dev / f"{name}.w1.wtns", dev / f"{name}.vkey.json"
    if not zkey.exists():
        print(f"building the 2^{power} circuit into {build_dir} (slow, once) ...", flush=True)
        steps = (1 << power) - STEPS_BELOW_DOMAIN
        subprocess.run(
            [str(FIXTURES / "build.sh"), str(build_dir), name, str(steps), str(power)], check=True
        )
    return zkey, build_dir / f"{name}.w1.wtns", build_dir / f"{name}.vkey.json"


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
    }


def check(vkey_path: Path, provers: dict[str, dict]) -> None:
    """Every proof of every prover through our verify and snarkjs' (module docstring); the
    counts go into each prover's result, the proofs leave it."""
    vk = VerificationKey.from_json(json.loads(vkey_path.read_text()))
    everything = [p for result in provers.values() for p in result.get("proofs", [])]
    by_snarkjs = iter(snarkjs_verify(vkey_path, everything))
    for result in provers.values():
        proofs = result.pop("proofs", [])
        ours = [verify(vk, proof_from_json(p["proof"], p["public"])) for p in proofs]
        snark = [next(by_snarkjs) for _ in proofs]
        result["checked"] = {
            "proofs": len(proofs),
            "our_verify_ok": sum(ours),
            "snarkjs_verify_ok": sum(snark),
            "snarkjs_cli_verify_ok": bool(proofs) and snarkjs_cli_verifies(vkey_path, proofs[-1]),
        }


def run_power(power: int, args: argparse.Namespace) -> dict:
    zkey, wtns, vkey = circuit(power, args.build_dir)
    n_public = json.loads(vkey.read_text())["nPublic"]
    stream = args.stream if power == args.stream_power else 0
    repeat = ("--repeat", str(max(1, args.repeat)))
    provers: dict[str, dict] = {}
    started = time.perf_counter()
    runs = {
        "snarkjs": lambda: time_snarkjs(zkey, wtns, max(1, args.snarkjs_repeat or args.repeat)),
        "groth16py": lambda: run_child(
            "groth16py", zkey, wtns, *repeat, "--n-public", str(n_public)
        ),
        "ours": lambda: run_child("ours", zkey, wtns, *repeat, "--stream", str(stream)),
    }
    for nodes in (n for n in args.pool_nodes if n > 0):
        runs[f"pool_{nodes}"] = lambda nodes=nodes: run_child(
            "pool", zkey, wtns, *repeat, "--nodes", str(nodes), "--stream", str(stream)
        )
    for name, run in runs.items():
        t0 = time.perf_counter()
        provers[name] = run()
        failed = " FAILED" if provers[name].get("error") else ""
        print(f"2^{power} {name}: {time.perf_counter() - t0:.0f} s{failed}", flush=True)
    check(vkey, provers)
    seconds = time.perf_counter() - started
    print(f"2^{power}: done in {seconds:.0f} s", flush=True)
    return {"power": power, "n_public": n_public, "bench_s": seconds, **provers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--powers", type=int, nargs="+", default=[12, 16])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--snarkjs-repeat", type=int, default=0, help="snarkjs' repeats (0: --repeat)"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    parser.add_argument(
        "--pool-nodes", type=int, nargs="+", default=[1, 2], help="pool runs (0: none)"
    )
    parser.add_argument("--stream", type=int, default=20, help="jobs in the stream (0: none)")
    parser.add_argument("--stream-power", type=int, default=12)
    args = parser.parse_args()
    if not SNARKJS.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FIXTURES, check=True)
    results = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}}
    rows = [run_power(power, args) for power in args.powers]
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["rows"] = rows
    print_tables(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


def _s(value: float | None, width: int = 8) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width - 2}.3f} s"


def _gib(value: int | None) -> str:
    return "-" if value is None else f"{value / GIB:.2f} GiB"


def _ok(result: dict) -> str:
    c = result.get("checked")
    if not c or not c["proofs"]:
        return "none"
    all_ok = c["snarkjs_verify_ok"] == c["our_verify_ok"] == c["proofs"]
    flag = "ok" if all_ok and c["snarkjs_cli_verify_ok"] else "FAILED"
    return f"{c['snarkjs_verify_ok']}/{c['proofs']} {flag}"


def print_tables(results: dict) -> None:
    m = results["machine"]
    print(
        f"\n{m['cpu_model']}, {m['cpus']} CPUs; load average (1/5/15 min) "
        f"{'/'.join(f'{v:.2f}' for v in m['loadavg_start'])} at the start, "
        f"{'/'.join(f'{v:.2f}' for v in m['loadavg_end'])} at the end"
    )
    rows = results["rows"]
    pools = sorted({k for row in rows for k in row if k.startswith("pool_")})
    names = [
        "snarkjs CLI",
        "snarkjs node",
        "groth16py",
        "ours",
        *(p.replace("_", " ") for p in pools),
    ]
    last = pools[-1] if pools else None
    ratios = ["ours vs groth16py", *([f"{last} vs ours", f"{last} vs groth16py"] if last else [])]
    print("\nseconds per proof (best of the repeats, warm); ratios: how many times faster")
    print(
        f"{'domain':>7}"
        + "".join(f"{n:>14}" for n in names)
        + "".join(f"{r.replace('_', ' '):>20}" for r in ratios)
    )
    for row in rows:

        def get(name: str, key: str, row: dict = row) -> float | None:
            return row.get(name, {}).get(key)

        cells = [get("snarkjs", "cli_s"), get("snarkjs", "prove_s")]
        cells += [get("groth16py", "prove_s"), get("ours", "prove_s")]
        cells += [get(p, "end_to_end_s") for p in pools]
        pairs = [("groth16py", "prove_s", "ours", "prove_s")]
        if last:
            pairs += [("ours", "prove_s", last, "end_to_end_s")]
            pairs += [("groth16py", "prove_s", last, "end_to_end_s")]
        shown = []
        for slow, slow_key, fast, fast_key in pairs:
            a, b = get(slow, slow_key), get(fast, fast_key)
            shown.append(f"{a / b:>19.2f}x" if a and b else f"{'-':>20}")
        print(f"{'2^' + str(row['power']):>7}" + "".join(_s(c, 14) for c in cells) + "".join(shown))
    for row in rows:
        for name in ("snarkjs", "groth16py", "ours", *pools):
            if row.get(name, {}).get("error"):
                print(f"2^{row['power']} {name} FAILED: {row[name]['error'][-400:]}")
    print(
        "snarkjs reads the key on every proof; groth16py's import_zkey, our key parse and the "
        "pool's key upload are apart (below); the pool's figure is end to end over HTTP."
    )
    print(
        "\nchecks (proofs accepted by snarkjs groth16.verify / proofs; ok = ours and the CLI too)"
    )
    for row in rows:
        provers = ["snarkjs", "groth16py", "ours", *pools]
        cells = ", ".join(f"{p} {_ok(row.get(p, {}))}" for p in provers)
        print(f"{'2^' + str(row['power']):>7} {cells}")
    print("\nkey loading and warm-up")
    for row in rows:
        g, o = row.get("groth16py", {}), row.get("ours", {})
        pool_keys = ", ".join(
            f"{p} key upload {_s(row.get(p, {}).get('upload_key_s'), 0)}"
            f" first job {_s(row.get(p, {}).get('warmup_s'), 0)}"
            for p in pools
        )
        print(
            f"{'2^' + str(row['power']):>7} groth16py import_zkey {_s(g.get('import_zkey_s'), 0)}"
            f" (first proof {_s(g.get('warmup_s'), 0)}), ours read_zkey {_s(o.get('load_s'), 0)}"
            f" (first proof {_s(o.get('warmup_s'), 0)}); {pool_keys}"
        )
    print_pool(rows, pools)
    print_memory(rows, pools)


PHASE_COLUMNS = (
    ("upload", "upload"),
    ("queue", "queue"),
    ("load", "load"),
    ("witness", "witness"),
    ("h", "H (NTTs)"),
    ("plan", "plan"),
    ("msm", "MSM wall"),
    ("h_hidden", "H under MSM"),
    ("msm_compute_node_max", "MSM compute"),
    ("msm_dispatch", "MSM dispatch"),
    ("assemble", "assemble"),
    ("verify", "verify"),
    ("store", "store"),
    ("other", "other"),
    ("job", "job"),
)


def print_pool(rows: list[dict], pools: list[str]) -> None:
    print(
        "\nthe pooled proof by phase (seconds; MSM wall: all five MSMs, H's NTTs run under it"
        " when overlapped; MSM compute: the busiest node's chunk seconds; dispatch: the rest)"
    )
    runs = [(row, p) for row in rows for p in pools]
    titles = [f"2^{row['power']} {p.replace('_', ' ')}" for row, p in runs]
    print(f"{'phase':>14}" + "".join(f"{title:>15}" for title in titles))
    for key, label in (*PHASE_COLUMNS, ("chunks", "chunks")):
        cells = []
        for row, p in runs:
            value = (row[p].get("phases_s") or {}).get(key)
            cells.append(f"{value:>15}" if key == "chunks" else _s(value, 15))
        print(f"{label:>14}" + "".join(cells))
    for row, p in runs:
        if row[p].get("error") or row[p].get("unhooked"):
            print(f"2^{row['power']} {p}: {row[p].get('error', '')[-300:]}")
            print(f"  not timed (hook missing): {', '.join(row[p].get('unhooked', []))}")
    for row in rows:
        ours = row["ours"].get("stream")
        for p in pools:
            stream = row[p].get("stream")
            if not stream or not ours:
                continue
            print(
                f"stream of {stream['proofs']} proofs of 2^{row['power']}, {p}: "
                f"{stream['per_minute']:.1f} proofs/min ({stream['seconds']:.2f} s, first proof "
                f"{stream['first_proof_s']:.2f} s, longest queue wait"
                f" {stream['queue_wait_s_max']:.2f} s)"
                f" vs ours one after another {ours['per_minute']:.1f} proofs/min: "
                f"{stream['per_minute'] / ours['per_minute']:.0%}"
            )


def print_memory(rows: list[dict], pools: list[str]) -> None:
    print(
        "\npeak memory (VmHWM of each process; per worker node: [its biggest Ray worker's"
        " VmHWM / the polled peak of its raylet's and descendants' summed VmRSS])"
    )
    for row in rows:
        s = row["snarkjs"]
        cells = [
            f"ours {_gib(row['ours'].get('peak_rss_bytes'))}",
            f"snarkjs node {_gib(s.get('peak_rss_bytes'))}",
            f"snarkjs CLI {_gib(s.get('cli_peak_rss_bytes'))}",
            f"groth16py {_gib(row['groth16py'].get('peak_rss_bytes'))}",
        ]
        for p in pools:
            nodes = " ".join(
                f"[{_gib(n['worker_peak_bytes'])} / {_gib(n['node_rss_sum_peak_bytes'])}]"
                for n in row[p].get("node_memory", [])
            )
            cells.append(f"{p} head {_gib(row[p].get('peak_rss_bytes'))} nodes {nodes}")
        print(f"{'2^' + str(row['power']):>7} " + "; ".join(cells))


if __name__ == "__main__":
    main()

"""MSM before/after a change, side by side: two code trees timed alternately on the same inputs.

Usage: ``python bench/msm_compare.py [--before /tmp/before] [--after .] [--repeat 5]
[--json PATH] [--quick]``

Each tree runs in its own child process (``PYTHONPATH=<tree>``, so its ``workers``
package is the one imported; ``NUMBA_NUM_THREADS`` = every core).  Both children
load the same inputs, call every case once to compile (or load the numba cache)
and warm up, and then answer timing requests over a pipe: the parent asks
before, after, after, before, … for each case in turn, so slow phases of a
shared machine hit both sides alike.  A case is one ``msm_limbs(curve, bases,
scalars)`` call on ready limb arrays (the unchecked kernel, no validation) with

* one thread (``PROVERPOOL_KERNEL_THREADS=1`` in the child for that call), and
* every core (the variable unset).

Cases: MSM 2^16 on ``bn254_g1``, ``bls12_381_g1``, ``bn254_g2`` and
``bls12_381_g2``, and 2^18 on ``bn254_g1`` (``--quick``: 2^16 on ``bn254_g1``
only); plus 2^12 on every curve, below the batch-affine threshold.  Bases are
distinct points of the prime-order subgroup (pairwise sums ``Aᵢ + Bⱼ`` of two
random sets, so no bucket sees the same point twice by construction), scalars
uniform below ``r``; the inputs are cached in ``bench/results/``.  Both sides'
sums are compared (a difference is reported, not hidden).

The table gives, per case and thread count, the best and the median wall time
of ``--repeat`` calls on each side, ``after / before`` of the medians, the
median of the ratios of the calls made next to each other ("paired"), and the
same ratio of process CPU time (less sensitive to other processes taking the
cores, on one thread; on all cores it sums every thread's time); the
JSON (default ``bench/results/msm_compare.json``) holds every sample, wall and
process CPU, and the machine load (``os.getloadavg``) before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "msm_compare.json"
INPUT_DIR = ROOT / "bench" / "results" / "msm_compare_inputs"
CURVES_ALL = ("bn254_g1", "bls12_381_g1", "bn254_g2", "bls12_381_g2")
SEED = 2025


def cases(quick: bool, only: str | None = None) -> list[tuple[str, int]]:
    """``(curve, log₂ n)`` of every case, the brief's first, the small ones last.

    ``only``: a comma-separated list of ``curve:log_n`` instead.
    """
    if only:
        return [(c, int(k)) for c, k in (item.split(":") for item in only.split(","))]
    if quick:
        return [("bn254_g1", 16), *((c, 12) for c in CURVES_ALL)]
    return [*((c, 16) for c in CURVES_ALL), ("bn254_g1", 18), *((c, 12) for c in CURVES_ALL)]


# --- inputs (parent, with the after tree's code) ----------------------------------------------


def _distinct_points(curve: str, n: int, rng: random.Random) -> list:
    """``n`` distinct subgroup points: pairwise sums of two sets of ``√n`` random points."""
    from workers.codec.limb_arrays import ints_to_limbs, limbs_to_point, points_to_limbs
    from workers.msm.pippenger import msm_to_limbs
    from workers.params import CURVES
    from workers.reference import point_add, random_points

    params = CURVES[curve]
    side = 1 << ((n.bit_length() - 1 + 1) // 2)
    if params.cofactor == 1:
        base = random_points(curve, 2 * side, rng)
    else:  # k·G by our MSM: the Python double-and-add takes tens of ms a G2 point
        g = points_to_limbs([params.generator], curve)
        base = [
            limbs_to_point(
                msm_to_limbs(curve, g, ints_to_limbs([rng.randrange(1, params.order)])), curve
            )
            for _ in range(2 * side)
        ]
    points = [point_add(params, a, b) for a in base[:side] for b in base[side:]][:n]
    if len(set(points)) != n or params.infinity in points:
        raise RuntimeError(f"{curve}: the pairwise sums are not {n} distinct finite points")
    return points


def make_inputs(todo: list[tuple[str, int]]) -> dict[str, tuple[Path, Path]]:
    """``name → (bases.npy, scalars.npy)``, generated once per curve at its largest size."""
    import numpy as np

    from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
    from workers.params import CURVES

    INPUT_DIR.mkdir(parents=True, exist_ok=True)
    largest: dict[str, int] = {}
    for curve, log_n in todo:
        largest[curve] = max(largest.get(curve, 0), log_n)
    files: dict[str, tuple[Path, Path]] = {}
    for curve, log_n in largest.items():
        bases_path = INPUT_DIR / f"{curve}_2^{log_n}_seed{SEED}_bases.npy"
        scalars_path = INPUT_DIR / f"{curve}_2^{log_n}_seed{SEED}_scalars.npy"
        if not (bases_path.exists() and scalars_path.exists()):
            start = time.perf_counter()
            rng = random.Random(f"{SEED}-{curve}")
            n = 1 << log_n
            points = _distinct_points(curve, n, rng)
            order = CURVES[curve].order
            np.save(bases_path, points_to_limbs(points, curve))
            np.save(scalars_path, ints_to_limbs([rng.randrange(order) for _ in range(n)]))
            print(f"inputs {curve} 2^{log_n}: {time.perf_counter() - start:.1f} s", flush=True)
        files[curve] = (bases_path, scalars_path)
    return {f"{c}_2^{k}": files[c] for c, k in todo}


# --- the child: one code tree, answering timing requests ----------------------------------------


def child_main() -> None:
    """Load the inputs named on stdin, warm up, then time one call per request line."""
    import hashlib

    import numpy as np

    try:
        from workers.msm.pippenger import msm_limbs
    except ImportError:  # the tree before the layout by concept (commit 7255ccc)
        from workers.cpu_msm import msm_limbs  # type: ignore[no-redef]
    import workers

    spec = json.loads(sys.stdin.readline())
    data = {}
    for name, (bases_path, scalars_path, curve, n) in spec["cases"].items():
        bases = np.load(bases_path)[:n]
        scalars = np.load(scalars_path)[:n]
        data[name] = (curve, np.ascontiguousarray(bases), np.ascontiguousarray(scalars))
    digests = {}
    for name, (curve, bases, scalars) in data.items():
        for threads in (1, 0):
            _set_threads(threads)
            result = msm_limbs(curve, bases, scalars)  # compile / load the cache, warm up
        digests[name] = hashlib.sha256(repr(result).encode()).hexdigest()[:16]
    print(json.dumps({"workers": workers.__file__, "digests": digests}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        curve, bases, scalars = data[request["case"]]
        _set_threads(request["threads"])
        wall, cpu = time.perf_counter(), time.process_time()
        msm_limbs(curve, bases, scalars)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({"wall_s": wall, "cpu_s": cpu}), flush=True)


def _set_threads(threads: int) -> None:
    """``PROVERPOOL_KERNEL_THREADS``: ``threads`` if positive, else unset (every core)."""
    if threads > 0:
        os.environ["PROVERPOOL_KERNEL_THREADS"] = str(threads)
    else:
        os.environ.pop("PROVERPOOL_KERNEL_THREADS", None)


class Side:
    """One code tree in a child process."""

    def __init__(self, label: str, tree: Path, spec: dict) -> None:
        self.label = label
        env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_NUM_THREADS=str(os.cpu_count() or 1))
        env.pop("PROVERPOOL_KERNEL_THREADS", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child"],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._send(spec)
        hello = self._receive()
        self.workers_file = hello["workers"]
        self.digests = hello["digests"]

    def _send(self, message: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def _receive(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.label} child exited (code {self.proc.wait()})")
        return json.loads(line)

    def time(self, case: str, threads: int) -> dict:
        self._send({"case": case, "threads": threads})
        return self._receive()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# --- the parent ---------------------------------------------------------------------------------


def run(before: Path, after: Path, repeat: int, quick: bool, only: str | None = None) -> dict:
    todo = cases(quick, only)
    files = make_inputs(todo)
    spec = {
        "cases": {
            f"{c}_2^{k}": [str(files[f"{c}_2^{k}"][0]), str(files[f"{c}_2^{k}"][1]), c, 1 << k]
            for c, k in todo
        }
    }
    load_start = os.getloadavg()
    sides = {"before": Side("before", before, spec), "after": Side("after", after, spec)}
    samples: dict[str, dict[str, dict[str, list]]] = {}
    try:
        for rep in range(repeat):
            order = ("before", "after") if rep % 2 == 0 else ("after", "before")
            for curve, log_n in todo:
                name = f"{curve}_2^{log_n}"
                for threads in (1, 0):
                    key = f"{name} {'1 thread' if threads else 'all cores'}"
                    for label in order:
                        got = sides[label].time(name, threads)
                        row = samples.setdefault(key, {}).setdefault(label, {"wall": [], "cpu": []})
                        row["wall"].append(got["wall_s"])
                        row["cpu"].append(got["cpu_s"])
    finally:
        for side in sides.values():
            side.close()
    rows = []
    for key, by_side in samples.items():
        b, a = by_side["before"]["wall"], by_side["after"]["wall"]
        name = key.split()[0]
        rows.append(
            {
                "case": key,
                "before_best_s": min(b),
                "before_median_s": statistics.median(b),
                "after_best_s": min(a),
                "after_median_s": statistics.median(a),
                "ratio_median": statistics.median(a) / statistics.median(b),
                "ratio_paired_median": statistics.median(x / y for x, y in zip(a, b, strict=True)),
                "ratio_best": min(a) / min(b),
                "ratio_cpu_median": statistics.median(by_side["after"]["cpu"])
                / statistics.median(by_side["before"]["cpu"]),
                "same_sum": sides["before"].digests[name] == sides["after"].digests[name],
                "samples": by_side,
            }
        )
    return {
        "machine": {
            "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
        },
        "before": {"tree": str(before), "workers": sides["before"].workers_file},
        "after": {"tree": str(after), "workers": sides["after"].workers_file},
        "repeat": repeat,
        "rows": rows,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_table(results: dict) -> None:
    machine = results["machine"]
    load = " ".join(f"{x:.2f}" for x in machine["loadavg_start"])
    load_end = " ".join(f"{x:.2f}" for x in machine["loadavg_end"])
    print(f"machine: {machine['cpu']}, {machine['cpu_count']} CPUs, Python {machine['python']}")
    print(f"load average at start: {load}; at end: {load_end}")
    print(f"before: {results['before']['workers']}")
    print(f"after:  {results['after']['workers']}")
    print(f"{results['repeat']} alternating calls per side and case; wall seconds")
    head = (
        f"{'case':<28} {'before best':>11} {'median':>8} {'after best':>11} {'median':>8} "
        f"{'after/before':>12} {'paired':>6} {'(cpu)':>6}  sum"
    )
    print(head)
    print("-" * len(head))
    for row in results["rows"]:
        print(
            f"{row['case']:<28} {row['before_best_s']:>11.4f} {row['before_median_s']:>8.4f} "
            f"{row['after_best_s']:>11.4f} {row['after_median_s']:>8.4f} "
            f"{row['ratio_median']:>12.3f} {row['ratio_paired_median']:>6.3f} "
            f"{row['ratio_cpu_median']:>6.3f}  "
            f"{'same' if row['same_sum'] else 'DIFFERENT'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=Path("/tmp/before"))
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--repeat", type=int, default=5, help="calls per side and case")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--quick", action="store_true", help="bn254_g1 2^16 and the 2^12 cases")
    parser.add_argument("--cases", help="only these, e.g. bn254_g1:16,bn254_g2:12")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main()
        return
    sys.path.insert(0, str(args.after.resolve()))
    results = run(
        args.before.resolve(), args.after.resolve(), max(1, args.repeat), args.quick, args.cases
    )
    print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""Groth16 verification: the numba BN254 pairing against py_ecc, side by side, one core.

Usage: ``python bench/pairing.py [--repeat N] [--json PATH]``

The proof is a real one: ``chain12`` (the committed 2^12 fixture of
``tests/fixtures/groth16``) proved by our prover from witness 1, checked with its
``chain12.vkey.json``.  Timed (best and median wall time of ``--repeat`` calls, and process
CPU time per call, after a warm-up that compiles or loads the numba cache):

* ``workers.groth16.verify`` — checks of the points, π_B's subgroup test, ``L`` by a tiny MSM,
  one multi-Miller loop over four pairs and one final exponentiation;
* the same check on py_ecc's ``optimized_bn128`` (four pairings without final exponentiation,
  one final exponentiation, the subgroup test by a scalar multiplication by ``r``) — what the
  pool ran before;
* one pairing ``e(P, Q)`` of ours alone.

Runs with ``NUMBA_NUM_THREADS=1`` unless set.  Prints a table and writes JSON (default
``bench/results/pairing.json``).
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from py_ecc.optimized_bn128 import (
    FQ12,
    curve_order,
    final_exponentiate,
    multiply,
    neg,
)
from py_ecc.optimized_bn128 import pairing as ecc_pairing

from workers.groth16 import Groth16Prover, VerificationKey, read_wtns, read_zkey, verify
from workers.groth16.pairing import pairing
from workers.groth16.points import g1_combine, g1_to_ecc, g2_to_ecc

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "groth16"
DEFAULT_JSON = ROOT / "bench" / "results" / "pairing.json"
TARGET_SECONDS = 0.030


def py_ecc_verify(vk: VerificationKey, proof) -> bool:
    """The pool's check before the numba pairing (py_ecc), for comparison."""
    if multiply(g2_to_ecc(proof.pi_b), curve_order)[2] != g2_to_ecc(((0, 0), (0, 0)))[2]:
        return False
    vk_x = g1_combine([(vk.ic[0], 1), *zip(vk.ic[1:], proof.public_signals, strict=True)])
    product = FQ12.one()
    for g2, g1 in (
        (proof.pi_b, neg(g1_to_ecc(proof.pi_a))),
        (vk.beta2, g1_to_ecc(vk.alpha1)),
        (vk.gamma2, g1_to_ecc(vk_x)),
        (vk.delta2, g1_to_ecc(proof.pi_c)),
    ):
        product = product * ecc_pairing(g2_to_ecc(g2), g1, final_exponentiate=False)
    return final_exponentiate(product) == FQ12.one()


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """Best and median wall seconds of ``repeat`` calls, and the mean process CPU seconds
    (one thread: less sensitive than wall time to other processes on a shared machine)."""
    fn()
    samples = []
    cpu_start = time.process_time()
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu_start) / repeat
    return min(samples), statistics.median(samples), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()

    zkey = read_zkey((FIXTURES / "chain12.zkey").read_bytes())
    proof = Groth16Prover().prove(zkey, read_wtns((FIXTURES / "chain12.w1.wtns").read_bytes()))
    vk = VerificationKey.from_json(json.loads((FIXTURES / "chain12.vkey.json").read_text()))
    assert verify(vk, proof) and py_ecc_verify(vk, proof)

    rows = {
        "verify (numba pairing)": timed(lambda: verify(vk, proof), args.repeat),
        "verify (py_ecc)": timed(lambda: py_ecc_verify(vk, proof), max(3, args.repeat // 10)),
        "one pairing e(P, Q) (numba)": timed(lambda: pairing(vk.alpha1, vk.beta2), args.repeat),
    }
    ours = rows["verify (numba pairing)"][0]
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, ", end="")
    print(f"NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}")
    print(f"{'operation':32s} {'best':>10s} {'median':>10s} {'cpu/call':>10s}")
    for name, (best, median, cpu) in rows.items():
        print(f"{name:32s} {best * 1e3:8.2f}ms {median * 1e3:8.2f}ms {cpu * 1e3:8.2f}ms")
    speedup = rows["verify (py_ecc)"][0] / ours
    met = "yes" if ours <= TARGET_SECONDS else "NO"
    print(f"speed-up over py_ecc: {speedup:.0f}x; target ≤ {TARGET_SECONDS * 1e3:.0f} ms: {met}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "seconds": {
                    k: {"best": b, "median": m, "cpu_per_call": c} for k, (b, m, c) in rows.items()
                },
                "target_seconds": TARGET_SECONDS,
            },
            indent=2,
        )
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

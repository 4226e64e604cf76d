"""Groth16 proving: our prover and the pool against ``snarkjs groth16 prove``.

Usage: ``python bench/groth16.py [--powers 12 16] [--repeat N] [--json PATH]``

For each domain size 2^k: the circuit ``tests/fixtures/groth16/chain.circom.in`` with
``2^k − 536`` steps (one R1CS constraint each; 2^12 is the committed fixture ``chain12``,
the others are built on first use into the git-ignored ``bench/results/groth16_build/``:
above 2^12 by ``bench/build_circuits.py`` (circom2, snarkjs witnesses, and our UNSAFE fast
development setup :func:`workers.groth16.setup.dev_setup` instead of powers of tau + setup +
contribution, which took about an hour at 2^16; a warning line says the key is a development
key) into its ``dev/`` folder, else by ``tests/fixtures/groth16/build.sh``; then cached;
``--build-dir`` points at another directory holding ``chain{k}.zkey``, ``chain{k}.w1.wtns``
and ``chain{k}.vkey.json``).  On the same ``.zkey`` and ``.wtns``:

* ours: :func:`workers.groth16.read_zkey` (parse, Montgomery → canonical, checks) and
  :meth:`Groth16Prover.prove` (witness parsing included), with the time per phase (the
  NTTs and each MSM) taken through the injectable kernels; numba uses every core;
* snarkjs (npm, version pinned in ``tests/fixtures/groth16/package.json``): its
  ``groth16.prove(zkeyFile, wtnsFile)`` timed inside one ``node`` process (it reads the
  key from the file on every call; ffjavascript starts one worker thread per core), and
  the whole ``snarkjs groth16 prove`` command line once;
* the pool (``--pool-nodes``, default 2): the same proof as a job through the real job
  runner on a local Ray cluster (see :func:`time_pool`), pairing check included;
* every proof is checked with :func:`workers.groth16.verify`, and one of ours with
  ``snarkjs groth16 verify``.

Times are the best of ``--repeat`` runs after a warm-up.  Prints a table and writes JSON
(default ``bench/results/groth16.json``).  The machine is often shared: quote the figures
with that caveat.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.build_circuits import build as build_dev_circuit  # noqa: E402
from workers.groth16 import Groth16Prover, VerificationKey, read_wtns, read_zkey, verify  # noqa: E402
from workers.groth16.prover import default_msm, default_ntt  # noqa: E402
from workers.groth16.setup import UNSAFE_WARNING  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "groth16"
BUILD_DIR = ROOT / "bench" / "results" / "groth16_build"
DEFAULT_JSON = ROOT / "bench" / "results" / "groth16.json"
SNARKJS = FIXTURES / "node_modules" / ".bin" / "snarkjs"
STEPS_BELOW_DOMAIN = 536
"""Steps = 2^k − this: the constraints plus public inputs fill most of the 2^k domain."""

MSM_NAMES = ("A", "B1", "B2", "C", "H")
"""The MSMs in the order :meth:`Groth16Prover.prove` runs them."""

NODE_PROVE = r"""
const { createRequire } = require("module");
const req = createRequire(process.argv[1] + "/bench.js");
const snarkjs = req("snarkjs");
(async () => {
  const [zkey, wtns, repeat] = [process.argv[2], process.argv[3], Number(process.argv[4])];
  const times = [];
  for (let i = 0; i <= repeat; i++) {
    const t0 = process.hrtime.bigint();
    await snarkjs.groth16.prove(zkey, wtns);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  console.log(JSON.stringify({ warmup: times[0], best: Math.min(...times.slice(1)) }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
"""


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


def time_ours(zkey_path: Path, wtns_path: Path, repeat: int) -> dict:
    zkey_bytes, wtns_bytes = zkey_path.read_bytes(), wtns_path.read_bytes()
    phases: dict[str, float] = {}

    def msm(curve, bases, scalars):
        t0 = time.perf_counter()
        out = default_msm(curve, bases, scalars)
        done = sum(k.startswith("msm") for k in phases)
        phases[f"msm_{MSM_NAMES[done]}_{curve[-2:]}"] = time.perf_counter() - t0
        return out

    def ntt(rows, inverse, coset):
        t0 = time.perf_counter()
        out = default_ntt(rows, inverse, coset)
        phases[f"ntt_{'inverse' if inverse else 'coset'}"] = time.perf_counter() - t0
        return out

    prover = Groth16Prover(msm=msm, ntt=ntt)
    zkey = read_zkey(zkey_bytes)
    vk = VerificationKey.from_zkey(zkey)
    proof = prover.prove(zkey, read_wtns(wtns_bytes))  # warm-up (numba compile or cache load)
    load, prove, best_phases = [], [], {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        zkey = read_zkey(zkey_bytes)
        t1 = time.perf_counter()
        phases.clear()
        proof = prover.prove(zkey, read_wtns(wtns_bytes))
        t2 = time.perf_counter()
        load.append(t1 - t0)
        prove.append(t2 - t1)
        if t2 - t1 <= min(prove):
            best_phases = dict(phases)
    assert verify(vk, proof), "our proof failed the pairing check"
    return {
        "load_s": min(load),
        "prove_s": min(prove),
        "load_and_prove_s": min(a + b for a, b in zip(load, prove, strict=True)),
        "phases_s": best_phases,
        "n_vars": zkey.n_vars,
        "domain_size": zkey.domain_size,
        "proof": proof,
    }


def time_snarkjs(zkey_path: Path, wtns_path: Path, repeat: int) -> dict:
    done = subprocess.run(
        ["node", "-e", NODE_PROVE, str(FIXTURES), str(zkey_path), str(wtns_path), str(repeat)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-300:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cli = subprocess.run(
            [
                str(SNARKJS),
                "groth16",
                "prove",
                str(zkey_path),
                str(wtns_path),
                f"{tmp}/p.json",
                f"{tmp}/q.json",
            ],
            capture_output=True,
            timeout=3600,
        )
        result["cli_s"] = time.perf_counter() - t0 if cli.returncode == 0 else None
    return {"in_process_s": result["best"], "cli_s": result["cli_s"]}


def time_pool(zkey_path: Path, wtns_path: Path, repeat: int, nodes: int) -> dict:
    """The pool's proof: upload the key once, then jobs through the real job runner.

    A local Ray cluster of ``nodes`` worker nodes (one CPU each, the head none) and a
    pool (SQLite, embedded Redis) from ``bench/pool.py``; each job is submitted over
    HTTP (the witness as the body) and run by :meth:`JobRunner.run_job` in this thread:
    witness checks, the NTTs on the head, the five MSMs split into chunks on the nodes
    (verified, recorded, credited), the pairing check, the proof stored. The first job
    is the warm-up (numba caches on the nodes, the key's bases shipped to them).
    """
    from bench.pool import OPERATOR, BenchPool
    from workers.groth16 import proof_from_json

    with tempfile.TemporaryDirectory() as tmp:
        pool = BenchPool(nodes, Path(tmp), max_in_flight=4)
        try:
            uploaded = pool.client.post(
                "/v1/zkeys",
                content=zkey_path.read_bytes(),
                headers={"Content-Type": "application/octet-stream", **OPERATOR},
            )
            uploaded.raise_for_status()
            key = uploaded.json()["hash"]
            witness = wtns_path.read_bytes()
            times, proof = [], None
            for _ in range(repeat + 1):
                seconds, job_id = pool.run_job({"kind": "groth16", "zkey": key}, witness)
                times.append(seconds)
                answer = pool.client.get(f"/v1/jobs/{job_id}/proof")
                assert answer.status_code == 200, answer.text
                proof = proof_from_json(answer.json()["proof"], answer.json()["public"])
            chunks = len(pool.records(job_id))
        finally:
            pool.close()
    return {
        "nodes": nodes,
        "warmup_s": times[0],
        "prove_s": min(times[1:]),
        "chunks": chunks,
        "proof": proof,
    }


def snarkjs_verifies(vkey: Path, proof) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "p.json").write_text(json.dumps(proof.proof_json()))
        (Path(tmp) / "q.json").write_text(json.dumps(proof.public_json()))
        done = subprocess.run(
            [str(SNARKJS), "groth16", "verify", str(vkey), f"{tmp}/q.json", f"{tmp}/p.json"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    return done.returncode == 0 and "OK" in done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--powers", type=int, nargs="+", default=[12, 16])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    parser.add_argument(
        "--pool-nodes", type=int, default=2, help="worker nodes of the pool run (0: skip it)"
    )
    args = parser.parse_args()
    if not SNARKJS.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FIXTURES, check=True)
    rows = []
    for power in args.powers:
        zkey, wtns, vkey = circuit(power, args.build_dir)
        ours = time_ours(zkey, wtns, max(1, args.repeat))
        proof = ours.pop("proof")
        pool = None
        if args.pool_nodes:
            pool = time_pool(zkey, wtns, max(1, args.repeat), args.pool_nodes)
            pool_proof = pool.pop("proof")
            pool["snarkjs_verifies"] = snarkjs_verifies(vkey, pool_proof)
        peer = time_snarkjs(zkey, wtns, max(1, args.repeat))
        rows.append(
            {
                "power": power,
                "ours": ours,
                "pool": pool,
                "snarkjs": peer,
                "snarkjs_verifies_ours": snarkjs_verifies(vkey, proof),
            }
        )
        print(f"2^{power}: done", flush=True)
    print_table(rows)
    results = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'domain':>7} {'signals':>8} {'ours load':>10} {'ours prove':>11} {'ours total':>11} "
        f"{'snarkjs':>9} {'snarkjs CLI':>12} {'ratio':>6}  verify"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ours, peer = row["ours"], row["snarkjs"]
        snark = peer.get("in_process_s")
        ratio = f"{snark / ours['load_and_prove_s']:.1f}x" if snark else "-"
        cli = f"{peer['cli_s']:.2f} s" if peer.get("cli_s") else "-"
        print(
            f"{'2^' + str(row['power']):>7} {ours['n_vars']:>8} {ours['load_s']:>8.3f} s "
            f"{ours['prove_s']:>9.3f} s {ours['load_and_prove_s']:>9.3f} s "
            f"{(f'{snark:.3f} s' if snark else peer.get('error', '-')):>9} {cli:>12} {ratio:>6}  "
            f"{'ok' if row['snarkjs_verifies_ours'] else 'FAILED'}"
        )
        phases = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in ours["phases_s"].items())
        print(f"{'':>7} phases: {phases}")
        pool = row.get("pool")
        if pool:
            ratio = f"{snark / pool['prove_s']:.1f}x" if snark else "-"
            print(
                f"{'':>7} through the pool ({pool['nodes']} worker nodes, {pool['chunks']} chunks,"
                f" pairing check included): {pool['prove_s']:.3f} s (first job"
                f" {pool['warmup_s']:.2f} s), snarkjs/pool {ratio},"
                f" snarkjs verifies: {'ok' if pool['snarkjs_verifies'] else 'FAILED'}"
            )
    print("ratio = snarkjs in-process / ours (load + prove); both read the key on every proof.")


if __name__ == "__main__":
    main()

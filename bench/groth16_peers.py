"""The single-machine provers of ``bench/groth16.py``, each run in a process of its own.

Each prover runs in a child process, so the peak memory it reports is its own
(``VmHWM`` of ``/proc/self/status``, or node's ``process.resourceUsage().maxRSS``):

* ``ours``: :func:`workers.groth16.read_zkey` and :meth:`Groth16Prover.prove` (numba, every
  core), the time per phase through the injectable kernels, then a stream of proofs one
  after another (the key parsed once, each witness read and proved);
* ``groth16py`` (PyPI, arkworks in Rust): ``import_zkey`` then ``prove_wtns``; the
  256-byte Ethereum proof is turned into snarkjs' ``proof.json``;
* snarkjs (npm, pinned in ``tests/fixtures/groth16/package.json``): ``groth16.prove`` inside
  one ``node`` process, and the ``snarkjs groth16 prove`` command line once.

Every proof comes back as ``{"proof": proof.json, "public": public.json}`` for the checks
of :func:`snarkjs_verify` (``groth16.verify`` of snarkjs in one node process for the lot)
and :func:`snarkjs_cli_verifies` (the ``snarkjs groth16 verify`` command line).
Child entry point: ``python bench/groth16_peers.py {ours,groth16py,pool} ZKEY WTNS ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures" / "groth16"
SNARKJS = FIXTURES / "node_modules" / ".bin" / "snarkjs"
RESULT_MARK = "GROTH16_BENCH_RESULT "
"""The prefix of the child's one result line on stdout (JSON follows)."""

NODE_PROVE = r"""
const { createRequire } = require("module");
const req = createRequire(process.argv[1] + "/bench.js");
const snarkjs = req("snarkjs");
(async () => {
  const [zkey, wtns, repeat] = [process.argv[2], process.argv[3], Number(process.argv[4])];
  const times = [], proofs = [];
  for (let i = 0; i <= repeat; i++) {
    const t0 = process.hrtime.bigint();
    const { proof, publicSignals } = await snarkjs.groth16.prove(zkey, wtns);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    proofs.push({ proof, public: publicSignals });
  }
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ warmup_s: times[0], prove_s: Math.min(...times.slice(1)),
    peak_rss_bytes: peak, proofs }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
"""

NODE_VERIFY = r"""
const { createRequire } = require("module");
const fs = require("fs");
const snarkjs = createRequire(process.argv[1] + "/bench.js")("snarkjs");
(async () => {
  const vkey = JSON.parse(fs.readFileSync(process.argv[2]));
  const proofs = JSON.parse(fs.readFileSync(process.argv[3]));
  const ok = [];
  for (const p of proofs) ok.push(await snarkjs.groth16.verify(vkey, p.public, p.proof));
  console.log(JSON.stringify(ok));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
"""


def peak_rss_bytes(pid: int | str = "self") -> int | None:
    """``VmHWM`` (the peak resident set) of a process, in bytes; ``None`` if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by ``intervals`` (overlaps counted once)."""
    total, end = 0.0, float("-inf")
    for t0, t1 in sorted(intervals):
        if t1 > end:
            total += t1 - max(t0, end)
            end = t1
    return total


def proof_dict(proof) -> dict:
    """``{"proof", "public"}`` of a :class:`workers.groth16.Proof` (snarkjs' two files)."""
    return {"proof": proof.proof_json(), "public": proof.public_json()}


def time_ours(zkey_path: Path, wtns_path: Path, repeat: int, stream: int) -> dict:
    from workers.groth16 import Groth16Prover, read_wtns, read_zkey
    from workers.groth16.prover import MSM_NAMES, default_msm, default_ntt

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
    t0 = time.perf_counter()
    zkey = read_zkey(zkey_bytes)
    proofs = [prover.prove(zkey, read_wtns(wtns_bytes))]  # warm-up: numba compile or cache
    warmup = time.perf_counter() - t0
    load, prove, best_phases = [], [], {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        zkey = read_zkey(zkey_bytes)
        t1 = time.perf_counter()
        phases.clear()
        proofs.append(prover.prove(zkey, read_wtns(wtns_bytes)))
        t2 = time.perf_counter()
        load.append(t1 - t0)
        prove.append(t2 - t1)
        if t2 - t1 <= min(prove):
            best_phases = dict(phases)
    out = {
        "warmup_s": warmup,
        "load_s": min(load),
        "prove_s": min(prove),
        "load_and_prove_s": min(a + b for a, b in zip(load, prove, strict=True)),
        "phases_s": best_phases,
        "n_vars": zkey.n_vars,
        "domain_size": zkey.domain_size,
    }
    if stream:
        plain = Groth16Prover()
        t0 = time.perf_counter()
        for _ in range(stream):
            proofs.append(plain.prove(zkey, read_wtns(wtns_path.read_bytes())))
        seconds = time.perf_counter() - t0
        out["stream"] = {"proofs": stream, "seconds": seconds, "per_minute": 60 * stream / seconds}
    out["proofs"] = [proof_dict(p) for p in proofs]
    return out


def groth16py_proof(raw: bytes, public: list[int]) -> dict:
    """snarkjs' files of a ``prove_wtns`` proof: eight 32-byte big-endian words, Ethereum's
    order (``A.x A.y B.x.c1 B.x.c0 B.y.c1 B.y.c0 C.x C.y``)."""
    from workers.groth16 import Proof

    if len(raw) != 256:
        raise ValueError(f"groth16py proof of {len(raw)} bytes, not 256")
    w = [int.from_bytes(raw[i : i + 32], "big") for i in range(0, 256, 32)]
    proof = Proof((w[0], w[1]), ((w[3], w[2]), (w[5], w[4])), (w[6], w[7]), public)
    return proof_dict(proof)


def time_groth16py(zkey_path: Path, wtns_path: Path, repeat: int, n_public: int) -> dict:
    import groth16py

    from workers.codec.limb_arrays import limbs_to_ints
    from workers.groth16 import read_wtns

    witness = read_wtns(wtns_path.read_bytes())
    public = [int(v) for v in limbs_to_ints(witness[1 : 1 + n_public])]
    t0 = time.perf_counter()
    pk, _ = groth16py.import_zkey(str(zkey_path))
    imported = time.perf_counter() - t0
    times, proofs = [], []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        raw = groth16py.prove_wtns(pk, str(wtns_path))
        times.append(time.perf_counter() - t0)
        proofs.append(groth16py_proof(bytes(raw), public))
    return {
        "version": groth16py.__version__,
        "import_zkey_s": imported,
        "warmup_s": times[0],
        "prove_s": min(times[1:]),
        "proofs": proofs,
    }


def time_snarkjs(zkey_path: Path, wtns_path: Path, repeat: int) -> dict:
    done = subprocess.run(
        ["node", "-e", NODE_PROVE, str(FIXTURES), str(zkey_path), str(wtns_path), str(repeat)],
        capture_output=True,
        text=True,
        timeout=7200,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-300:], "proofs": []}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        command = [str(SNARKJS), "groth16", "prove", str(zkey_path), str(wtns_path)]
        t0 = time.perf_counter()
        child = subprocess.Popen(
            [*command, f"{tmp}/p.json", f"{tmp}/q.json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        result["cli_s"] = time.perf_counter() - t0 if child.returncode == 0 else None
        result["cli_peak_rss_bytes"] = usage.ru_maxrss * 1024
        if child.returncode == 0:
            cli_proof = json.loads(Path(f"{tmp}/p.json").read_text())
            public = json.loads(Path(f"{tmp}/q.json").read_text())
            result["proofs"].append({"proof": cli_proof, "public": public})
    return result


def snarkjs_verify(vkey: Path, proofs: list[dict]) -> list[bool]:
    """``snarkjs.groth16.verify`` (what ``snarkjs groth16 verify`` calls) on every proof."""
    if not proofs:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "proofs.json").write_text(json.dumps(proofs))
        done = subprocess.run(
            ["node", "-e", NODE_VERIFY, str(FIXTURES), str(vkey), f"{tmp}/proofs.json"],
            capture_output=True,
            text=True,
            timeout=3600,
        )
    if done.returncode != 0:
        return [False] * len(proofs)
    return [bool(ok) for ok in json.loads(done.stdout.strip().splitlines()[-1])]


def snarkjs_cli_verifies(vkey: Path, proof: dict) -> bool:
    """The ``snarkjs groth16 verify`` command line on one proof."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "p.json").write_text(json.dumps(proof["proof"]))
        (Path(tmp) / "q.json").write_text(json.dumps(proof["public"]))
        done = subprocess.run(
            [str(SNARKJS), "groth16", "verify", str(vkey), f"{tmp}/q.json", f"{tmp}/p.json"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    return done.returncode == 0 and "OK" in done.stdout


def run_child(kind: str, zkey: Path, wtns: Path, *extra: str, timeout_s: int = 7200) -> dict:
    """Run ``kind`` in a fresh Python process; its result (``{"error"}`` if it failed)."""
    command = [sys.executable, str(Path(__file__)), kind, str(zkey), str(wtns), *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    return {"error": (done.stderr or done.stdout).strip()[-600:], "proofs": []}


def main() -> None:
    parser = argparse.ArgumentParser(description="one prover of bench/groth16.py (a child)")
    parser.add_argument("kind", choices=["ours", "groth16py", "pool"])
    parser.add_argument("zkey", type=Path)
    parser.add_argument("wtns", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--stream", type=int, default=0, help="proofs in the stream (0: none)")
    parser.add_argument("--n-public", type=int, default=0)
    parser.add_argument("--nodes", type=int, default=2)
    args = parser.parse_args()
    if args.kind == "ours":
        result = time_ours(args.zkey, args.wtns, args.repeat, args.stream)
    elif args.kind == "groth16py":
        result = time_groth16py(args.zkey, args.wtns, args.repeat, args.n_public)
    else:
        from bench.groth16_pool import time_pool

        result = time_pool(args.zkey, args.wtns, args.repeat, args.nodes, args.stream)
    result["peak_rss_bytes"] = peak_rss_bytes()
    print(RESULT_MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

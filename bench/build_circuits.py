"""Groth16 test circuits of any size 2^k, keyed by the UNSAFE fast development setup.

Usage: ``python bench/build_circuits.py --powers 16 18 20 [--build-dir DIR] [--steps-below N]
[--generator python|circom]``

For each power ``k``, the chain circuit ``tests/fixtures/groth16/chain.circom.in`` with
``2^k − N`` steps (default ``N = 536``: one R1CS constraint per step, three public signals)
and three witnesses (the inputs of ``build.sh``) come from

* ``--generator python`` (the default): :mod:`workers.groth16.chain` builds the constraint
  system circom2 ``--O1`` would (same counts, labels and terms; checked at 2^12 and 2^16)
  and the witnesses ``snarkjs wtns calculate`` would (byte for byte), written by
  :mod:`workers.groth16.r1cs_write` and :func:`workers.groth16.wtns.wtns_bytes`; no circom;
* ``--generator circom`` (the cross-check): circom2 (npm, pinned in
  ``tests/fixtures/groth16/package.json``) compiles it with ``--O1`` to ``.r1cs`` + wasm and
  ``snarkjs wtns calculate`` computes the witnesses;

then :func:`workers.groth16.setup.dev_setup` replaces snarkjs' powers of tau, ``groth16
setup`` and contribution (which took an hour at 2^16 on the shared 2-core machine), and
``vk_alphabeta_12`` is filled in as snarkjs does (:func:`alphabeta_12`) — writing
``chain{k}.zkey``, ``chain{k}.vkey.json``, ``chain{k}.r1cs``, ``chain{k}.w{1,2,3}.wtns``
(inputs ``chain{k}.w*.input.json``) into the git-ignored
``bench/results/groth16_build/dev/``, cached: a circuit whose files are all there is not
rebuilt (only a missing ``vk_alphabeta_12`` is added).  **These are development keys: their
toxic waste was known to this process.  Never use them in production.**  The timing of each
phase is printed and stored in ``chain{k}.build.json``.

Measured on the shared 2-core machine (``nice -n 5``, other work running, load 7–20), python
generator: 2^18 in 25–36 s (r1cs 0.9–1.8 s, three witnesses 0.6–3.6 s, dev setup 23–29 s;
peak RSS 0.95 GiB), 2^20 in 101–385 s (r1cs 1.3 s, witnesses 1.8–2.5 s, dev setup 96–373 s;
peak RSS 3.3 GiB, 516 MiB ``.zkey``, 212 MiB ``.r1cs``).  With circom2: 2^16 in 220 s
(circom2 134 s, dev setup 66 s), 2^18 circom2 ``--O1`` 286–316 s (``--O2`` 1139 s) — circom2
was the slow part.  ``snarkjs groth16 verify`` accepts proofs made with the 2^14 … 2^20 keys
by our prover (and at 2^18 by ``snarkjs groth16 prove``), ``snarkjs wtns check`` passes the
python-built 2^14 and 2^16 files, and ``snarkjs zkey export verificationkey`` of a 2^18 key
gives our ``vkey.json`` exactly (``vk_alphabeta_12`` included).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from py_ecc.optimized_bn128 import FQ12

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workers.fields.tower import to_w_coefficients  # noqa: E402
from workers.groth16.chain import chain_r1cs, chain_witness  # noqa: E402
from workers.groth16.pairing import pairing  # noqa: E402
from workers.groth16.r1cs import R1cs, read_r1cs  # noqa: E402
from workers.groth16.r1cs_write import r1cs_bytes  # noqa: E402
from workers.groth16.setup import UNSAFE_WARNING, dev_setup  # noqa: E402
from workers.groth16.wtns import wtns_bytes  # noqa: E402
from workers.params import BN254_P  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "groth16"
DEV_BUILD_DIR = ROOT / "bench" / "results" / "groth16_build" / "dev"
SNARKJS = FIXTURES / "node_modules" / ".bin" / "snarkjs"
CIRCOM = FIXTURES / "node_modules" / ".bin" / "circom2"
STEPS_BELOW_DOMAIN = 536
WITNESSES = 3
GENERATORS = ("python", "circom")
_BN_X = 4965661367192848881
_FFJS_PAIRING_POWER = 2 * _BN_X * (6 * _BN_X**2 + 3 * _BN_X + 1)


def _tools() -> None:
    if not (SNARKJS.exists() and CIRCOM.exists()):
        if shutil.which("npm") is None:
            raise RuntimeError("node/npm not found: circom2 and snarkjs come from npm")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FIXTURES, check=True)


def witness_input(i: int) -> dict:
    """The inputs of witness ``i`` (1-based), as ``build.sh`` writes them."""
    return {"a": str(i * 1234567 + 11), "b": str(i * 7 + 2), "c": str(i * 99991 + 5)}


def outputs(name: str, out: Path) -> list[Path]:
    files = [out / f"{name}.{ext}" for ext in ("zkey", "vkey.json", "r1cs")]
    return files + [out / f"{name}.w{i}.wtns" for i in range(1, WITNESSES + 1)]


def compile_circuit(name: str, steps: int, work: Path) -> tuple[Path, Path]:
    """circom2 ``chain.circom.in`` at ``steps`` into ``work``: ``(r1cs, wasm)``.

    ``--O1`` (signal-to-signal and signal-to-constant simplification only): the chain's only
    linear constraints are such equalities, so the ``.r1cs`` is byte-identical to circom2's
    default ``--O2`` (checked at 2^10, 2^16, 2^18) and compiles ~4× faster at 2^18.
    """
    source = work / f"{name}.circom"
    source.write_text((FIXTURES / "chain.circom.in").read_text().replace("@N@", str(steps)))
    subprocess.run(
        [str(CIRCOM), str(source), "--r1cs", "--wasm", "--O1", "-o", str(work)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return work / f"{name}.r1cs", work / f"{name}_js" / f"{name}.wasm"


def alphabeta_12(vkey: dict) -> list:
    """snarkjs' ``vk_alphabeta_12``: ``e(α₁, β₂)`` as ffjavascript computes it, as JSON.

    ffjavascript's final exponentiation raises to ``m·(p¹²−1)/r`` with ``m = 2x(6x²+3x+1)``
    (its hard part is the Fuentes-Castañeda et al. chain in ``x``), so its value is our
    :func:`~workers.groth16.pairing.pairing` to the ``m`` (checked against snarkjs'
    ``chain10.vkey.json``); the tower layout is the same (``[c0, c1]`` of ``F_p⁶``, each
    ``[c0, c1, c2]`` of ``F_p²``, each ``[re, im]``).  The power runs in py_ecc's ``F_p¹²``.
    """
    alpha = tuple(int(v) for v in vkey["vk_alpha_1"][:2])
    beta = tuple(tuple(int(v) for v in pair) for pair in vkey["vk_beta_2"][:2])
    tower = pairing(alpha, beta)
    power = FQ12([v % BN254_P for v in to_w_coefficients(tower)]) ** _FFJS_PAIRING_POWER
    w = [int(v) for v in power.coeffs]  # back from 1, w, …, w¹¹ (to_w_coefficients inverted)
    return [
        [
            [str((w[2 * j + half] + 9 * w[2 * j + half + 6]) % BN254_P), str(w[2 * j + half + 6])]
            for j in range(3)
        ]
        for half in range(2)
    ]


def with_alphabeta(vkey: dict) -> dict:
    """``vkey`` with ``vk_alphabeta_12`` in snarkjs' place (before ``IC``)."""
    out = {key: value for key, value in vkey.items() if key != "IC"}
    out["vk_alphabeta_12"] = alphabeta_12(vkey)
    out["IC"] = vkey["IC"]
    return out


def _part(out: Path, name: str, i: int) -> Path:
    """Witness ``i`` while the build runs; renamed to ``.wtns`` once the key is written."""
    return out / f"{name}.w{i}.wtns.part"


def _build_python(name: str, steps: int, out: Path, times: dict) -> R1cs:
    """The ``--generator python`` path: :mod:`workers.groth16.chain`, no circom."""
    t0 = time.perf_counter()
    r1cs, labels = chain_r1cs(steps)
    (out / f"{name}.r1cs").write_bytes(r1cs_bytes(r1cs, labels))
    times["r1cs_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1, WITNESSES + 1):
        inputs = witness_input(i)
        (out / f"{name}.w{i}.input.json").write_text(json.dumps(inputs) + "\n")
        witness = chain_witness(steps, *(int(inputs[key]) for key in ("a", "b", "c")))
        _part(out, name, i).write_bytes(wtns_bytes(witness))
    times["witness_s"] = time.perf_counter() - t0
    return r1cs


def _build_circom(name: str, steps: int, out: Path, work: Path, times: dict) -> R1cs:
    """The ``--generator circom`` path (the cross-check): circom2 and ``snarkjs wtns``."""
    _tools()
    t0 = time.perf_counter()
    r1cs_path, wasm = compile_circuit(name, steps, work)
    times["circom_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1, WITNESSES + 1):
        inputs = out / f"{name}.w{i}.input.json"
        inputs.write_text(json.dumps(witness_input(i)) + "\n")
        subprocess.run(
            [str(SNARKJS), "wtns", "calculate", str(wasm), str(inputs), str(_part(out, name, i))],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    times["witness_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    r1cs = read_r1cs(r1cs_path.read_bytes())
    times["read_r1cs_s"] = time.perf_counter() - t0
    shutil.copy(r1cs_path, out / f"{name}.r1cs")
    return r1cs


def build(
    power: int,
    out: Path = DEV_BUILD_DIR,
    steps_below: int = STEPS_BELOW_DOMAIN,
    generator: str = "python",
) -> dict:
    """Build (or find cached) the 2^power circuit in ``out``; returns the phase timings."""
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {GENERATORS}, got {generator!r}")
    name = f"chain{power}"
    if all(path.exists() for path in outputs(name, out)):
        vkey_path = out / f"{name}.vkey.json"
        vkey = json.loads(vkey_path.read_text())
        if "vk_alphabeta_12" not in vkey:  # built before it was filled in
            vkey_path.write_text(json.dumps(with_alphabeta(vkey), indent=1) + "\n")
        return {"cached": True}
    out.mkdir(parents=True, exist_ok=True)
    times: dict = {"power": power, "steps": (1 << power) - steps_below, "generator": generator}
    with tempfile.TemporaryDirectory() as tmp:
        if generator == "python":
            r1cs = _build_python(name, times["steps"], out, times)
        else:
            r1cs = _build_circom(name, times["steps"], out, Path(tmp), times)
        t0 = time.perf_counter()
        zkey, vkey = dev_setup(r1cs)
        times["dev_setup_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        vkey = with_alphabeta(vkey)
        times["alphabeta_s"] = time.perf_counter() - t0
    (out / f"{name}.vkey.json").write_text(json.dumps(vkey, indent=1) + "\n")
    (out / f"{name}.zkey").write_bytes(zkey)
    for i in range(1, WITNESSES + 1):  # last: their presence marks a complete build
        _part(out, name, i).replace(out / f"{name}.w{i}.wtns")
    times["zkey_bytes"] = len(zkey)
    (out / f"{name}.build.json").write_text(json.dumps(times, indent=1) + "\n")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--powers", type=int, nargs="+", default=[16])
    parser.add_argument("--build-dir", type=Path, default=DEV_BUILD_DIR)
    parser.add_argument("--steps-below", type=int, default=STEPS_BELOW_DOMAIN)
    parser.add_argument("--generator", choices=GENERATORS, default="python")
    args = parser.parse_args()
    print(f"WARNING: {UNSAFE_WARNING}", flush=True)
    for power in args.powers:
        t0 = time.perf_counter()
        times = build(power, args.build_dir, args.steps_below, args.generator)
        print(f"2^{power}: {time.perf_counter() - t0:.1f} s {json.dumps(times)}", flush=True)


if __name__ == "__main__":
    main()

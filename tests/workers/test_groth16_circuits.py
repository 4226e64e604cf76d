"""Groth16 test circuits built in Python (issue 16 item 5): the chain circuit, no circom.

``bench/build_circuits.py`` (``--generator python``, the default) builds ``chain10`` (1000
steps, the committed fixture's circuit) once per module into a temporary folder; its
``.r1cs`` reads back equal, ``snarkjs r1cs info`` and ``snarkjs wtns check`` accept the
files, the witnesses satisfy every constraint and equal the committed snarkjs witnesses
byte for byte, and a proof by our prover with the dev key passes ``snarkjs groth16
verify``.  At 2^12 (3560 steps) circom2 ``--O1`` compiles the same circuit: same header
counts, labels and terms (circom orders the terms of one linear combination by its hash
map, we by wire, so the comparison sorts both).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from workers.codec.limb_arrays import limbs_to_ints
from workers.groth16 import Groth16Prover, VerificationKey, read_wtns, read_zkey, verify
from workers.groth16.binfile import read_sections
from workers.groth16.chain import chain_r1cs, chain_witness
from workers.groth16.r1cs import R1cs, read_r1cs
from workers.groth16.r1cs_write import r1cs_bytes
from workers.groth16.wtns import wtns_bytes
from workers.params import BN254_R

from snarkjs_tools import snarkjs_verify

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "groth16"
CIRCOM = FIXTURES / "node_modules" / ".bin" / "circom2"
HEADER_FIELDS = ("n_wires", "n_pub_out", "n_pub_in", "n_prv_in", "n_labels", "n_constraints")


def _build_module():
    spec = importlib.util.spec_from_file_location(
        "build_circuits", ROOT / "bench" / "build_circuits.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """``chain10`` by the python generator: the build folder and its timings."""
    folder = tmp_path_factory.mktemp("chain10")
    builder = _build_module()
    times = builder.build(10, folder, steps_below=24)
    return {"dir": folder, "times": times, "builder": builder}


def _inputs(name: str, i: int) -> tuple[int, int, int]:
    inputs = json.loads((FIXTURES / f"{name}.w{i}.input.json").read_text())
    return int(inputs["a"]), int(inputs["b"]), int(inputs["c"])


def _canonical(r1cs: R1cs) -> tuple[np.ndarray, np.ndarray]:
    key = (r1cs.constraint.astype(np.uint64) * 3 + r1cs.matrix) << np.uint64(32) | r1cs.wire
    order = np.argsort(key, kind="stable")
    return key[order], r1cs.values[order]


def _labels(data: bytes) -> np.ndarray:
    _, sections = read_sections(data, b"r1cs", 1, ValueError, ".r1cs")
    return np.frombuffer(bytes(sections[3][0]), dtype="<u8")


def test_build_writes_the_files_and_caches(built):
    folder, times = built["dir"], built["times"]
    assert times["generator"] == "python" and times["steps"] == 1000
    for path in built["builder"].outputs("chain10", folder):
        assert path.exists(), path
    assert json.loads((folder / "chain10.build.json").read_text())["steps"] == 1000
    assert not list(folder.glob("*.part"))
    vkey = json.loads((folder / "chain10.vkey.json").read_text())
    assert list(vkey)[-2:] == ["vk_alphabeta_12", "IC"]
    del vkey["vk_alphabeta_12"]
    (folder / "chain10.vkey.json").write_text(json.dumps(vkey))
    assert built["builder"].build(10, folder, steps_below=24) == {"cached": True}
    assert "vk_alphabeta_12" in json.loads((folder / "chain10.vkey.json").read_text())
    with pytest.raises(ValueError, match="generator"):
        built["builder"].build(10, folder, generator="snarkjs")


def test_alphabeta_equals_snarkjs(built):
    for name in ("chain10", "chain12"):
        vkey = json.loads((FIXTURES / f"{name}.vkey.json").read_text())
        assert built["builder"].alphabeta_12(vkey) == vkey["vk_alphabeta_12"], name


def test_r1cs_reads_back_equal(built):
    r1cs, labels = chain_r1cs(1000)
    data = (built["dir"] / "chain10.r1cs").read_bytes()
    back = read_r1cs(data)
    for field in HEADER_FIELDS:
        assert getattr(back, field) == getattr(r1cs, field), field
    assert (back.n_wires, back.n_public, back.n_labels) == (1004, 3, 1006)
    for field in ("matrix", "constraint", "wire", "values"):
        assert np.array_equal(getattr(back, field), getattr(r1cs, field)), field
    assert np.array_equal(_labels(data), labels)
    assert r1cs_bytes(back, labels) == data


def test_witnesses_equal_snarkjs_and_satisfy_every_constraint(built):
    r1cs = read_r1cs((built["dir"] / "chain10.r1cs").read_bytes())
    for name, steps in (("chain10", 1000), ("chain12", 4000)):
        for i in (1, 2, 3):
            ours = wtns_bytes(chain_witness(steps, *_inputs(name, i)))
            assert ours == (FIXTURES / f"{name}.w{i}.wtns").read_bytes(), (name, i)
    witness = limbs_to_ints(read_wtns((built["dir"] / "chain10.w1.wtns").read_bytes()))
    rows = np.zeros((r1cs.n_constraints, 3), dtype=object)
    for k, c, w, v in zip(
        r1cs.matrix, r1cs.constraint, r1cs.wire, limbs_to_ints(r1cs.values), strict=True
    ):
        rows[c, k] += v * witness[w]
    assert all((a * b - c) % BN254_R == 0 for a, b, c in rows), "A·B ≠ C"
    witness[500] += 1  # one x changed: the two constraints on it fail
    rows[:] = 0
    for k, c, w, v in zip(
        r1cs.matrix, r1cs.constraint, r1cs.wire, limbs_to_ints(r1cs.values), strict=True
    ):
        rows[c, k] += v * witness[w]
    failing = [n for n, (a, b, c) in enumerate(rows) if (a * b - c) % BN254_R]
    assert failing == [495, 496]


def test_snarkjs_accepts_r1cs_and_witness(snarkjs, built):
    folder = built["dir"]
    info = subprocess.run(
        [snarkjs, "r1cs", "info", folder / "chain10.r1cs"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.returncode == 0, info.stderr
    for line in ("# of Wires: 1004", "# of Constraints: 1000", "# of Outputs: 1"):
        assert line in info.stdout, info.stdout
    check = subprocess.run(
        [snarkjs, "wtns", "check", folder / "chain10.r1cs", folder / "chain10.w2.wtns"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0 and "WITNESS IS CORRECT" in check.stdout, check.stdout


def test_proof_with_dev_key_passes_snarkjs(snarkjs, built, tmp_path):
    folder = built["dir"]
    zkey = read_zkey((folder / "chain10.zkey").read_bytes())
    ref = read_zkey((FIXTURES / "chain10.zkey").read_bytes())
    assert (zkey.n_vars, zkey.n_public, zkey.domain_size) == (
        ref.n_vars,
        ref.n_public,
        ref.domain_size,
    )
    proof = Groth16Prover().prove(zkey, read_wtns((folder / "chain10.w3.wtns").read_bytes()))
    assert verify(
        VerificationKey.from_json(json.loads((folder / "chain10.vkey.json").read_text())), proof
    )
    done = snarkjs_verify(
        snarkjs, folder / "chain10.vkey.json", proof.proof_json(), proof.public_json(), tmp_path
    )
    assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr


def test_same_system_as_circom_o1_at_2_12(snarkjs, tmp_path):
    steps = (1 << 12) - 536
    source = tmp_path / "chain.circom"
    source.write_text((FIXTURES / "chain.circom.in").read_text().replace("@N@", str(steps)))
    subprocess.run(
        [CIRCOM, source, "--r1cs", "--O1", "-o", tmp_path],
        check=True,
        capture_output=True,
        timeout=300,
    )
    data = (tmp_path / "chain.r1cs").read_bytes()
    theirs = read_r1cs(data)
    ours, labels = chain_r1cs(steps)
    for field in HEADER_FIELDS:
        assert getattr(ours, field) == getattr(theirs, field), field
    assert np.array_equal(labels, _labels(data))
    for a, b in zip(_canonical(ours), _canonical(theirs), strict=True):
        assert np.array_equal(a, b)
    assert len(r1cs_bytes(ours, labels)) == len(data)


def test_bad_input_is_refused():
    r1cs, labels = chain_r1cs(10)
    with pytest.raises(ValueError, match="wire labels"):
        r1cs_bytes(r1cs, labels[:-1])
    shuffled = R1cs(
        *(getattr(r1cs, field) for field in HEADER_FIELDS),
        r1cs.matrix[::-1].copy(),
        r1cs.constraint[::-1].copy(),
        r1cs.wire[::-1].copy(),
        r1cs.values[::-1].copy(),
    )
    with pytest.raises(ValueError, match="grouped"):
        r1cs_bytes(shuffled)
    with pytest.raises(ValueError, match="steps"):
        chain_r1cs(0)
    with pytest.raises(ValueError, match="shape"):
        wtns_bytes(np.zeros((3, 3), dtype=np.uint64))
    too_big = np.full((2, 4), 2**64 - 1, dtype=np.uint64)
    with pytest.raises(ValueError, match="not below r"):
        wtns_bytes(too_big)

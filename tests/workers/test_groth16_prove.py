"""Groth16 proofs of the fixture circuits: accepted by ``snarkjs groth16 verify`` and by the
pairing check; tampered proofs rejected; every MSM and NTT goes through the injected kernels."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from workers.groth16 import (
    Groth16Prover,
    VerificationKey,
    proof_from_json,
    read_wtns,
    read_zkey,
    verify,
)
from workers.groth16.prover import default_msm, default_ntt
from workers.params import BN254_R

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "groth16"
CASES = [("chain10", 1), ("chain10", 2), ("chain10", 3), ("chain12", 1), ("chain12", 2)]


@pytest.fixture(scope="module")
def keys() -> dict:
    names = ("chain10", "chain12")
    return {name: read_zkey((FIXTURES / f"{name}.zkey").read_bytes()) for name in names}


@pytest.fixture(scope="module")
def proofs(keys) -> dict:
    prover = Groth16Prover()
    out = {}
    for name, i in CASES:
        witness = read_wtns((FIXTURES / f"{name}.w{i}.wtns").read_bytes())
        out[name, i] = prover.prove(keys[name], witness)
    return out


def test_snarkjs_accepts_every_proof(snarkjs, proofs, tmp_path):
    for (name, i), proof in proofs.items():
        proof_path = tmp_path / f"{name}.{i}.proof.json"
        public_path = tmp_path / f"{name}.{i}.pub.json"
        proof_path.write_text(json.dumps(proof.proof_json(), indent=1))
        public_path.write_text(json.dumps(proof.public_json(), indent=1))
        done = subprocess.run(
            [snarkjs, "groth16", "verify", FIXTURES / f"{name}.vkey.json", public_path, proof_path],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0 and "OK" in done.stdout, (name, i, done.stdout, done.stderr)


def test_pairing_check_accepts_and_rejects(keys, proofs):
    for (name, _), proof in proofs.items():
        vk = VerificationKey.from_json(json.loads((FIXTURES / f"{name}.vkey.json").read_text()))
        round_trip = proof_from_json(proof.proof_json(), proof.public_json())
        assert round_trip == proof
        assert verify(vk, round_trip)
    proof = proofs["chain10", 1]
    vk = VerificationKey.from_zkey(keys["chain10"])
    wrong_public = [proof.public_signals[0] + 1, *proof.public_signals[1:]]
    assert not verify(vk, type(proof)(proof.pi_a, proof.pi_b, proof.pi_c, wrong_public))
    swapped = type(proof)(proof.pi_c, proof.pi_b, proof.pi_a, proof.public_signals)
    assert not verify(vk, swapped)
    assert not verify(vk, type(proof)(proof.pi_a, proof.pi_b, proof.pi_c, proof.public_signals[:2]))
    # A proof of chain12 does not verify under chain10's key.
    assert not verify(vk, proofs["chain12", 1])


def test_public_json_and_randomness(proofs):
    proof = proofs["chain10", 1]
    inputs = json.loads((FIXTURES / "chain10.w1.input.json").read_text())
    assert proof.public_json()[1:] == [inputs["b"], inputs["c"]]
    body = proof.proof_json()
    assert list(body) == ["pi_a", "pi_b", "pi_c", "protocol", "curve"]
    assert body["pi_a"][2] == "1" and body["pi_b"][2] == ["1", "0"] and body["curve"] == "bn128"
    # Zero knowledge: two proofs of the same witness differ (fresh r, s).
    assert proofs["chain10", 1].pi_a != proofs["chain10", 2].pi_a


def test_injected_kernels_see_every_msm_and_ntt(keys):
    """The interface the pool's runner plugs into: each MSM and NTT call goes through it."""
    calls = []

    def msm(curve, bases, scalars):
        calls.append(("msm", curve, bases.shape[0], scalars.shape[0]))
        return default_msm(curve, bases, scalars)

    def ntt(rows, inverse, coset):
        calls.append(("ntt", rows.shape, inverse, coset is not None))
        return default_ntt(rows, inverse, coset)

    zkey = keys["chain10"]
    witness = read_wtns((FIXTURES / "chain10.w2.wtns").read_bytes())
    proof = Groth16Prover(msm=msm, ntt=ntt).prove(zkey, witness, r=5, s=7)
    assert calls == [
        ("ntt", (3, 1024, 4), True, False),
        ("ntt", (3, 1024, 4), False, True),
        ("msm", "bn254_g1", 1004, 1004),
        ("msm", "bn254_g1", 1004, 1004),
        ("msm", "bn254_g2", 1004, 1004),
        ("msm", "bn254_g1", 1000, 1000),
        ("msm", "bn254_g1", 1024, 1024),
    ]
    assert verify(VerificationKey.from_zkey(zkey), proof)
    # Fixed r, s make the proof deterministic; r = s = 0 drops the blinding entirely.
    again = Groth16Prover().prove(zkey, witness, r=5, s=7)
    assert again == proof
    # The two halves a runner uses to run the five MSMs concurrently give the same proof.
    prover = Groth16Prover()
    tasks = prover.msm_tasks(zkey, witness)
    assert [t.name for t in tasks] == ["A", "B1", "B2", "C", "H"]
    sums = {t.name: default_msm(t.curve, t.bases, t.scalars) for t in reversed(tasks)}
    assert prover.assemble(zkey, witness, sums, r=5, s=7) == proof
    plain = Groth16Prover().prove(zkey, witness, r=0, s=0)
    assert verify(VerificationKey.from_zkey(zkey), plain)
    assert 0 < 5 < BN254_R


def test_unsatisfied_witness_gives_a_rejected_proof(keys):
    zkey = keys["chain10"]
    witness = read_wtns((FIXTURES / "chain10.w3.wtns").read_bytes()).copy()
    witness[500] = np.array([12345, 0, 0, 0], dtype=np.uint64)  # breaks two constraints
    proof = Groth16Prover().prove(zkey, witness)
    assert not verify(VerificationKey.from_zkey(zkey), proof)

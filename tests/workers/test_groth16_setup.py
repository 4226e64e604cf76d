"""The UNSAFE development setup (:mod:`workers.groth16.setup`) and the ``.r1cs`` reader.

A ``chain10`` r1cs is compiled with circom2 (npm, the fixtures' pinned version) in a
temporary folder; its committed witnesses and the snarkjs-made ``chain10.zkey`` are the
reference: our key holds exactly snarkjs' coefficients, our proofs with it pass our pairing
check and ``snarkjs groth16 verify`` (against the vkey JSON we wrote), ``snarkjs groth16
prove`` accepts our ``.zkey``, and tampered proofs fail.  Malformed r1cs files are made in
Python.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from py_ecc.optimized_bn128 import G1, G2, multiply, normalize

from workers.codec.limb_arrays import ints_to_limbs, limbs_to_points
from workers.errors import MalformedR1csError
from workers.fields.generic import from_mont_rows
from workers.groth16 import (
    Groth16Prover,
    VerificationKey,
    proof_from_json,
    read_wtns,
    read_zkey,
    verify,
)
from workers.groth16.r1cs import read_r1cs
from workers.groth16.setup import dev_setup, domain_size
from workers.msm.fixed_base import fixed_base_mul, generator_table
from workers.params import BN254_P, BN254_R

from snarkjs_tools import snarkjs_verify

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "groth16"
CIRCOM = FIXTURES / "node_modules" / ".bin" / "circom2"


@pytest.fixture(scope="module")
def chain10_r1cs(snarkjs, tmp_path_factory) -> bytes:
    """``chain.circom.in`` at 1000 steps (the committed ``chain10`` circuit) as ``.r1cs``."""
    work = tmp_path_factory.mktemp("circom")
    source = work / "chain10.circom"
    source.write_text((FIXTURES / "chain.circom.in").read_text().replace("@N@", "1000"))
    subprocess.run(
        [CIRCOM, source, "--r1cs", "-o", work], check=True, capture_output=True, timeout=300
    )
    return (work / "chain10.r1cs").read_bytes()


@pytest.fixture(scope="module")
def dev_key(chain10_r1cs, tmp_path_factory) -> dict:
    zkey_bytes, vkey = dev_setup(read_r1cs(chain10_r1cs), seed=2016)
    folder = tmp_path_factory.mktemp("devkey")
    (folder / "dev.zkey").write_bytes(zkey_bytes)
    (folder / "dev.vkey.json").write_text(json.dumps(vkey))
    return {"bytes": zkey_bytes, "vkey": vkey, "dir": folder, "zkey": read_zkey(zkey_bytes)}


def witness(i: int):
    return read_wtns((FIXTURES / f"chain10.w{i}.wtns").read_bytes())


def test_reader_and_domain(chain10_r1cs):
    r1cs = read_r1cs(chain10_r1cs)
    assert (r1cs.n_wires, r1cs.n_public, r1cs.n_constraints) == (1004, 3, 1000)
    assert domain_size(r1cs) == 1024
    assert set(np.unique(r1cs.matrix)) == {0, 1, 2}


def test_key_holds_snarkjs_coefficients_and_shape(dev_key):
    ours, ref = dev_key["zkey"], read_zkey((FIXTURES / "chain10.zkey").read_bytes())
    assert (ours.n_vars, ours.n_public, ours.domain_size) == (
        ref.n_vars,
        ref.n_public,
        ref.domain_size,
    )
    for name in ("coeff_matrix", "coeff_constraint", "coeff_signal", "coeff_values"):
        assert np.array_equal(getattr(ours, name), getattr(ref, name)), name
    assert VerificationKey.from_zkey(ours) == VerificationKey.from_json(dev_key["vkey"])


def test_seed_reproducible(chain10_r1cs, dev_key):
    r1cs = read_r1cs(chain10_r1cs)
    assert dev_setup(r1cs, seed=2016)[0] == dev_key["bytes"]


def test_our_proofs_verify_here_and_in_snarkjs(snarkjs, dev_key, tmp_path):
    vk = VerificationKey.from_json(dev_key["vkey"])
    for i in (1, 2):
        proof = Groth16Prover().prove(dev_key["zkey"], witness(i))
        assert verify(vk, proof)
        done = snarkjs_verify(
            snarkjs,
            dev_key["dir"] / "dev.vkey.json",
            proof.proof_json(),
            proof.public_json(),
            tmp_path,
        )
        assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr
        bad = dict(proof.proof_json())
        bad["pi_a"], bad["pi_c"] = bad["pi_c"], bad["pi_a"]
        assert not verify(vk, proof_from_json(bad, proof.public_json()))
        done = snarkjs_verify(
            snarkjs, dev_key["dir"] / "dev.vkey.json", bad, proof.public_json(), tmp_path
        )
        assert "OK" not in done.stdout
        wrong_public = [str((int(proof.public_json()[0]) + 1) % BN254_R), *proof.public_json()[1:]]
        assert not verify(vk, proof_from_json(proof.proof_json(), wrong_public))


def test_snarkjs_proves_with_our_key(snarkjs, dev_key, tmp_path):
    folder = dev_key["dir"]
    out = proof_path, public_path = tmp_path / "proof.json", tmp_path / "public.json"
    subprocess.run(
        [snarkjs, "groth16", "prove", folder / "dev.zkey", FIXTURES / "chain10.w3.wtns", *out],
        check=True,
        capture_output=True,
        timeout=120,
    )
    proof = proof_from_json(json.loads(proof_path.read_text()), json.loads(public_path.read_text()))
    assert verify(VerificationKey.from_json(dev_key["vkey"]), proof)
    exported = tmp_path / "exported.json"
    subprocess.run(
        [snarkjs, "zkey", "export", "verificationkey", folder / "dev.zkey", exported],
        check=True,
        capture_output=True,
        timeout=120,
    )
    snarkjs_vkey = json.loads(exported.read_text())
    snarkjs_vkey.pop("vk_alphabeta_12")
    assert snarkjs_vkey == dev_key["vkey"]


def test_fixed_base_matches_py_ecc():
    scalars = [0, 1, 2, 255, 256, 2**64 + 7, BN254_R - 1, 0xDEADBEEF * 3**90 % BN254_R]
    for curve, gen in (("bn254_g1", G1), ("bn254_g2", G2)):
        rows = fixed_base_mul(curve, generator_table(curve), ints_to_limbs(scalars))
        got = limbs_to_points(from_mont_rows(rows, BN254_P), curve)
        for k, point in zip(scalars, got, strict=True):
            if k == 0:
                assert not any(np.ravel(point)), curve
                continue
            x, y = normalize(multiply(gen, k))
            if curve == "bn254_g1":
                assert point == (int(x.n), int(y.n))
            else:
                assert point == (tuple(map(int, x.coeffs)), tuple(map(int, y.coeffs)))


# --- malformed .r1cs, built in Python ------------------------------------------------------


def r1cs_file(
    n_wires: int = 4,
    constraints: tuple = (([(1, 1)], [(2, 1)], [(3, 1)]),),
    prime: int = BN254_R,
    magic: bytes = b"r1cs",
    pad: bytes = b"",
) -> bytes:
    """A tiny r1cs: one public output, no inputs, ``n_wires − 2`` private inputs."""
    header = struct.pack("<I", 32) + prime.to_bytes(32, "little")
    header += struct.pack("<IIIIQI", n_wires, 1, 0, max(0, n_wires - 2), n_wires, len(constraints))
    body = b""
    for constraint in constraints:
        for lc in constraint:
            body += struct.pack("<I", len(lc))
            for wire, value in lc:
                body += struct.pack("<I", wire) + value.to_bytes(32, "little")
    body += pad
    labels = struct.pack(f"<{n_wires}Q", *range(n_wires))
    out = magic + struct.pack("<II", 1, 3)
    for section_id, data in ((1, header), (2, body), (3, labels)):
        out += struct.pack("<IQ", section_id, len(data)) + data
    return out


def test_tiny_r1cs_reads():
    r1cs = read_r1cs(r1cs_file(constraints=(([(1, 5), (0, 2)], [(2, 1)], [(3, BN254_R - 1)]),)))
    assert r1cs.n_constraints == 1 and r1cs.n_public == 1
    assert r1cs.matrix.tolist() == [0, 0, 1, 2]
    assert r1cs.wire.tolist() == [1, 0, 2, 3]
    assert int(r1cs.values[3, 0]) == (BN254_R - 1) & (2**64 - 1)
    zkey_bytes, vkey = dev_setup(r1cs, seed=1)
    assert read_zkey(zkey_bytes).domain_size == 4 and vkey["nPublic"] == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (r1cs_file(magic=b"zkey"), "magic"),
        (r1cs_file(prime=BN254_P), "prime"),
        (r1cs_file(pad=b"\0"), "constraints"),
        (r1cs_file()[:-40], "truncated"),
        (r1cs_file(constraints=(([(9, 1)], [], []),)), "wire 9"),
        (r1cs_file(constraints=(([(1, BN254_R)], [], []),)), "not below r"),
        (r1cs_file(n_wires=1), "nWires"),
    ],
)
def test_malformed_r1cs_refused(data, message):
    with pytest.raises(MalformedR1csError, match=message):
        read_r1cs(data)

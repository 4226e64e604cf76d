"""snarkjs ``.zkey``/``.wtns`` readers on the committed fixtures, and malformed variants of them."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from workers.codec.limb_arrays import limbs_to_ints
from workers.errors import (
    Groth16InputError,
    MalformedWitnessError,
    MalformedZkeyError,
    UnsupportedZkeyError,
    WitnessMismatchError,
)
from workers.groth16 import Groth16Prover, VerificationKey, check_witness, read_wtns, read_zkey
from workers.groth16.binfile import read_sections
from workers.groth16.zkey import BLS12_381_P
from workers.params import BLS12_381_R, BN254_P, BN254_R

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "groth16"
ZKEY = (FIXTURES / "chain10.zkey").read_bytes()
WTNS = (FIXTURES / "chain10.w1.wtns").read_bytes()


def sections_of(data: bytes, magic: bytes) -> list[tuple[int, bytes]]:
    _, by_id = read_sections(data, magic, 2, Groth16InputError, "test")
    order = []
    pos = 12
    while pos < len(data):
        section_id, size = struct.unpack_from("<IQ", data, pos)
        order.append((section_id, bytes(data[pos + 12 : pos + 12 + size])))
        pos += 12 + size
    assert sorted(i for i, _ in order) == sorted(i for i, v in by_id.items() for _ in v)
    return order


def build(magic: bytes, sections: list[tuple[int, bytes]], version: int = 1) -> bytes:
    out = [struct.pack("<4sII", magic, version, len(sections))]
    for section_id, body in sections:
        out.append(struct.pack("<IQ", section_id, len(body)) + body)
    return b"".join(out)


def replaced(data: bytes, magic: bytes, section_id: int, body: bytes) -> bytes:
    return build(magic, [(i, body if i == section_id else b) for i, b in sections_of(data, magic)])


def section(data: bytes, magic: bytes, section_id: int) -> bytes:
    return dict(sections_of(data, magic))[section_id]


def test_zkey_header_and_sections():
    zkey = read_zkey(ZKEY)
    # chain10: 1000 steps + the inputs a, b, c, the output and signal 0; 2 public inputs + 1 output.
    assert (zkey.n_vars, zkey.n_public, zkey.domain_size) == (1004, 3, 1024)
    assert zkey.a_points.shape == (1004, 2, 4)
    assert zkey.b2_points.shape == (1004, 2, 2, 4)
    assert zkey.c_points.shape == (1000, 2, 4)
    assert zkey.h_points.shape == (1024, 2, 4)
    assert zkey.ic.shape == (4, 2, 4)
    assert set(np.unique(zkey.coeff_matrix)) == {0, 1}
    # Montgomery form was removed: every coordinate is canonical and the key matches the JSON
    # verification key snarkjs exported from the same file.
    assert max(limbs_to_ints(zkey.h_points.reshape(-1, 4))) < BN254_P
    import json

    vkey = json.loads((FIXTURES / "chain10.vkey.json").read_text())
    assert VerificationKey.from_zkey(zkey) == VerificationKey.from_json(vkey)


def test_wtns_reads_and_fits_its_key():
    witness = read_wtns(WTNS)
    zkey = read_zkey(ZKEY)
    assert witness.shape == (1004, 4)
    check_witness(zkey, witness)
    inputs = (FIXTURES / "chain10.w1.input.json").read_text()
    b, c = limbs_to_ints(witness[2:4])  # public: out, then the public inputs b, c
    assert f'"b": "{b}"' in inputs and f'"c": "{c}"' in inputs


@pytest.mark.parametrize("cut", [0, 7, 11, 100, len(ZKEY) // 2, len(ZKEY) - 1])
def test_truncated_zkey(cut):
    with pytest.raises(MalformedZkeyError, match="truncated"):
        read_zkey(ZKEY[:cut])


def test_zkey_frame_errors():
    with pytest.raises(MalformedZkeyError, match="magic"):
        read_zkey(b"wtns" + ZKEY[4:])
    with pytest.raises(MalformedZkeyError, match="version"):
        read_zkey(ZKEY[:4] + struct.pack("<I", 9) + ZKEY[8:])
    with pytest.raises(MalformedZkeyError, match="trailing"):
        read_zkey(ZKEY + b"\0")
    parts = sections_of(ZKEY, b"zkey")
    with pytest.raises(MalformedZkeyError, match=r"section 9 \(H\) is missing"):
        read_zkey(build(b"zkey", [(i, b) for i, b in parts if i != 9]))
    with pytest.raises(MalformedZkeyError, match="present 2 times"):
        read_zkey(build(b"zkey", [*parts, parts[0]]))


def _header_with_curve(q: int, r: int, n8: int) -> bytes:
    body = section(ZKEY, b"zkey", 2)
    rest = body[4 + 32 + 4 + 32 :]
    return (
        struct.pack("<I", n8)
        + q.to_bytes(n8, "little")
        + struct.pack("<I", 32)
        + (r.to_bytes(32, "little"))
        + rest
    )


def test_zkey_other_curves_and_protocols():
    with pytest.raises(UnsupportedZkeyError, match="bls12-381"):
        read_zkey(replaced(ZKEY, b"zkey", 2, _header_with_curve(BLS12_381_P, BLS12_381_R, 48)))
    with pytest.raises(UnsupportedZkeyError, match="unknown curve"):
        read_zkey(replaced(ZKEY, b"zkey", 2, _header_with_curve(BN254_P - 2, BN254_R, 32)))
    with pytest.raises(UnsupportedZkeyError, match="plonk"):
        read_zkey(replaced(ZKEY, b"zkey", 1, struct.pack("<I", 2)))


def test_zkey_wrong_section_sizes():
    for section_id, name in [(3, "IC"), (5, "A"), (7, "B2"), (8, "C"), (9, "H")]:
        body = section(ZKEY, b"zkey", section_id)
        with pytest.raises(MalformedZkeyError, match=rf"\({name}\) has \d+ bytes, expected"):
            read_zkey(replaced(ZKEY, b"zkey", section_id, body[:-64]))
    coeffs = section(ZKEY, b"zkey", 4)
    with pytest.raises(MalformedZkeyError, match="coefficients"):
        read_zkey(replaced(ZKEY, b"zkey", 4, coeffs[:-1]))
    header = section(ZKEY, b"zkey", 2)
    with pytest.raises(MalformedZkeyError, match="Groth16 header"):
        read_zkey(replaced(ZKEY, b"zkey", 2, header + b"\0" * 4))


def _patched(body: bytes, offset: int, new: bytes) -> bytes:
    return body[:offset] + new + body[offset + len(new) :]


def test_zkey_bad_values():
    header = section(ZKEY, b"zkey", 2)
    counts = 4 + 32 + 4 + 32
    with pytest.raises(MalformedZkeyError, match="domainSize"):
        read_zkey(replaced(ZKEY, b"zkey", 2, _patched(header, counts + 8, struct.pack("<I", 1000))))
    with pytest.raises(MalformedZkeyError, match="nPublic"):
        read_zkey(replaced(ZKEY, b"zkey", 2, _patched(header, counts + 4, struct.pack("<I", 5000))))
    with pytest.raises(MalformedZkeyError, match="alpha1 is not on"):
        read_zkey(replaced(ZKEY, b"zkey", 2, _patched(header, counts + 12, b"\1")))
    points_a = section(ZKEY, b"zkey", 5)
    with pytest.raises(MalformedZkeyError, match=r"\(A\): point 5 is not on"):
        read_zkey(replaced(ZKEY, b"zkey", 5, _patched(points_a, 5 * 64 + 3, b"\7")))
    with pytest.raises(MalformedZkeyError, match="not below q"):
        read_zkey(replaced(ZKEY, b"zkey", 5, _patched(points_a, 64, b"\xff" * 32)))
    coeffs = section(ZKEY, b"zkey", 4)
    with pytest.raises(MalformedZkeyError, match="signal index"):
        read_zkey(replaced(ZKEY, b"zkey", 4, _patched(coeffs, 4 + 8, struct.pack("<I", 1004))))
    with pytest.raises(MalformedZkeyError, match="matrix id"):
        read_zkey(replaced(ZKEY, b"zkey", 4, _patched(coeffs, 4, struct.pack("<I", 2))))
    with pytest.raises(MalformedZkeyError, match="constraint index"):
        read_zkey(replaced(ZKEY, b"zkey", 4, _patched(coeffs, 8, struct.pack("<I", 1024))))
    with pytest.raises(MalformedZkeyError, match="not below r"):
        read_zkey(replaced(ZKEY, b"zkey", 4, _patched(coeffs, 4 + 12, b"\xff" * 32)))


def test_wtns_malformed():
    for cut in (3, 20, len(WTNS) - 5):
        with pytest.raises(MalformedWitnessError, match="truncated"):
            read_wtns(WTNS[:cut])
    with pytest.raises(MalformedWitnessError, match="magic"):
        read_wtns(ZKEY)
    header = section(WTNS, b"wtns", 1)
    bls = struct.pack("<I", 32) + BLS12_381_R.to_bytes(32, "little") + header[-4:]
    with pytest.raises(MalformedWitnessError, match="another field"):
        read_wtns(replaced(WTNS, b"wtns", 1, bls))
    values = section(WTNS, b"wtns", 2)
    with pytest.raises(MalformedWitnessError, match=r"\(values\) has"):
        read_wtns(replaced(WTNS, b"wtns", 2, values[:-32]))
    with pytest.raises(MalformedWitnessError, match="value 3 is not below r"):
        read_wtns(replaced(WTNS, b"wtns", 2, _patched(values, 3 * 32, b"\xff" * 32)))


def test_witness_not_matching_the_key():
    zkey = read_zkey(ZKEY)
    other = read_wtns((FIXTURES / "chain12.w1.wtns").read_bytes())
    with pytest.raises(WitnessMismatchError, match="4004 values, the key's circuit has 1004"):
        Groth16Prover().prove(zkey, other)
    witness = read_wtns(WTNS).copy()
    witness[0, 0] = 2
    with pytest.raises(WitnessMismatchError, match="constant 1"):
        check_witness(zkey, witness)
    assert issubclass(WitnessMismatchError, ValueError)

"""Writer of snarkjs' Groth16 ``.zkey`` and ``verification_key.json`` (the dev setup's output).

The inverse of :mod:`workers.groth16.zkey` (whose docstring has the section
table), in the order snarkjs writes them (``src/zkey_new.js``, sections 1–10):
points in ffjavascript's LEM form (coordinates times ``R = 2^256`` mod ``q``,
exactly the Montgomery rows the numba kernels produce, so they are written as
they are), coefficients as ``v·R² mod r``.  Section 10 (the phase-2
transcript, ``src/zkey_utils.js`` ``writeMPCParams``) is a 64-byte circuit hash
left zero and an empty contribution list: ``snarkjs groth16 prove`` and
``zkey export verificationkey`` do not read it (``zkey verify`` would refuse the
key, which has no transcript to check — it is a development key).

:func:`vkey_json` is what ``snarkjs zkey export verificationkey`` writes
(``src/zkey_export_verificationkey.js``) except ``vk_alphabeta_12`` (``e(α₁, β₂)`` in
ffjavascript's ``F_p¹²`` layout), which ``snarkjs groth16 verify`` does not read and which
:func:`workers.groth16.pairing.pairing` does not reproduce (its value differs from
ffjavascript's, checked on ``chain10.vkey.json``); the build script has snarkjs export the
full key.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from workers.groth16.points import G1Point, G2Point, g1_json, g2_json
from workers.params import BN254_P, BN254_R

N8 = 32
GROTH16_PROTOCOL = 1
_COEFF = np.dtype(
    [("matrix", "<u4"), ("constraint", "<u4"), ("signal", "<u4"), ("value", "<u8", (4,))]
)


@dataclass(frozen=True, eq=False)
class ZkeyParts:
    """Everything a Groth16 ``.zkey`` holds; point arrays are LEM (Montgomery) ``uint64`` rows."""

    n_vars: int
    n_public: int
    domain_size: int
    header_g1: np.ndarray
    """``(3, 8)``: ``alpha1, beta1, delta1``."""
    header_g2: np.ndarray
    """``(3, 16)``: ``beta2, gamma2, delta2``."""
    coeff_matrix: np.ndarray
    coeff_constraint: np.ndarray
    coeff_signal: np.ndarray
    coeff_values: np.ndarray
    """``(m, 4)`` ``v·R² mod r`` limbs."""
    ic: np.ndarray
    a: np.ndarray
    b1: np.ndarray
    b2: np.ndarray
    c: np.ndarray
    h: np.ndarray


def _section(section_id: int, body: bytes) -> bytes:
    return struct.pack("<IQ", section_id, len(body)) + body


def _le(value: int) -> bytes:
    return value.to_bytes(N8, "little")


def _rows(arr: np.ndarray) -> bytes:
    return np.ascontiguousarray(arr, dtype="<u8").tobytes()


def zkey_bytes(parts: ZkeyParts) -> bytes:
    """The ``.zkey`` file of ``parts`` (module docstring)."""
    header = struct.pack("<I", N8) + _le(BN254_P) + struct.pack("<I", N8) + _le(BN254_R)
    header += struct.pack("<III", parts.n_vars, parts.n_public, parts.domain_size)
    g1, g2 = parts.header_g1, parts.header_g2
    header += _rows(g1[0]) + _rows(g1[1]) + _rows(g2[0]) + _rows(g2[1]) + _rows(g1[2])
    header += _rows(g2[2])
    coeffs = np.empty(parts.coeff_matrix.shape[0], dtype=_COEFF)
    coeffs["matrix"] = parts.coeff_matrix
    coeffs["constraint"] = parts.coeff_constraint
    coeffs["signal"] = parts.coeff_signal
    coeffs["value"] = parts.coeff_values
    sections = [
        (1, struct.pack("<I", GROTH16_PROTOCOL)),
        (2, header),
        (3, _rows(parts.ic)),
        (4, struct.pack("<I", coeffs.shape[0]) + coeffs.tobytes()),
        (5, _rows(parts.a)),
        (6, _rows(parts.b1)),
        (7, _rows(parts.b2)),
        (8, _rows(parts.c)),
        (9, _rows(parts.h)),
        (10, bytes(64) + struct.pack("<I", 0)),
    ]
    out = bytearray(b"zkey" + struct.pack("<II", 1, len(sections)))
    for section_id, body in sections:
        out += _section(section_id, body)
    return bytes(out)


def vkey_json(
    n_public: int, alpha1: G1Point, beta2: G2Point, gamma2: G2Point, delta2: G2Point, ic: list
) -> dict:
    """snarkjs' ``verification_key.json`` object (module docstring)."""
    return {
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": n_public,
        "vk_alpha_1": g1_json(alpha1),
        "vk_beta_2": g2_json(beta2),
        "vk_gamma_2": g2_json(gamma2),
        "vk_delta_2": g2_json(delta2),
        "IC": [g1_json(point) for point in ic],
    }

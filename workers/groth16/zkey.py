"""Reader of snarkjs' binary Groth16 proving key (``.zkey``), checked section by section.

Layout (iden3/snarkjs ``src/zkey_utils.js``, ``writeHeader``/``writeZKey``, and
``src/zkey_new.js``), in the iden3 container of :mod:`workers.groth16.binfile`
with magic ``"zkey"``, version 1, all integers little-endian:

====  ==============  =========================================================
id    name            body
====  ==============  =========================================================
1     header          ``u32`` protocol: 1 = Groth16 (2 PLONK, 10 FFLONK)
2     Groth16 header  ``u32 n8q, q[n8q], u32 n8r, r[n8r], u32 nVars, u32
                      nPublic, u32 domainSize``, then ``alpha1, beta1`` (G1),
                      ``beta2, gamma2`` (G2), ``delta1`` (G1), ``delta2`` (G2)
3     IC              ``nPublic + 1`` G1 points
4     coefficients    ``u32 m``, then ``m`` × (``u32 matrix, u32 constraint,
                      u32 signal, v·R² mod r``) — matrix 0 = A, 1 = B
5, 6  A, B1           ``nVars`` G1 points each
7     B2              ``nVars`` G2 points
8     C               ``nVars − nPublic − 1`` G1 points (signals after the public ones)
9     H               ``domainSize`` G1 points
10    contributions   (phase-2 transcript; not needed to prove, not read)
====  ==============  =========================================================

Points are ffjavascript's "LEM" form: every ``F_p`` coordinate ``a·R mod q``
(``R = 2^256``) on ``n8q = 32`` bytes, G1 ``x‖y``, G2 ``x.c0‖x.c1‖y.c0‖y.c1``,
infinity all zeros.  :func:`read_zkey` converts them to canonical limbs once
(docs/architecture.md §4 layout: ``(n, 2, 4)`` G1, ``(n, 2, 2, 4)`` G2), checks every
coordinate is below ``q``, every G1 point on the curve, the key points of the
header on their curves, and every coefficient's indices and value.  Only
BN254 (snarkjs' ``bn128``) is accepted.  The B2 section is not checked point
by point (a bad one only yields a proof that fails its pairing check, which
the pool runs before accepting any proof).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from workers.codec.arrays import first_not_below
from workers.errors import MalformedZkeyError, UnsupportedZkeyError
from workers.fields.mont4 import from_mont_into, montgomery_constants
from workers.groth16.binfile import expect_size, read_sections, unique_section
from workers.groth16.points import (
    G1Point,
    G2Point,
    g1_from_limbs,
    g1_on_curve,
    g2_from_limbs,
    g2_on_curve,
)
from workers.msm.checks import first_point_off_curve
from workers.params import BLS12_381_R, BN254_P, BN254_R

WHAT = ".zkey"
N8 = 32
"""Bytes per field element (BN254: both fields fit 32 bytes)."""
G1_BYTES = 2 * N8
G2_BYTES = 4 * N8
GROTH16_PROTOCOL = 1
_PROTOCOLS = {1: "groth16", 2: "plonk", 10: "fflonk"}
BLS12_381_P = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
    16,
)
MAX_DOMAIN_POWER = 28
_COEFF = np.dtype(
    [("matrix", "<u4"), ("constraint", "<u4"), ("signal", "<u4"), ("value", "<u8", (4,))]
)
_HEADER_FIXED = 4 + N8 + 4 + N8 + 12
_HEADER_SIZE = _HEADER_FIXED + 3 * G1_BYTES + 3 * G2_BYTES


@dataclass(frozen=True, eq=False)
class ZKey:
    """A parsed Groth16 proving key; arrays hold canonical ``uint64`` limbs (module docstring)."""

    n_vars: int
    """Signals, including the constant ``1`` (signal 0) and the public ones."""
    n_public: int
    """Public signals (outputs first, then public inputs), not counting signal 0."""
    domain_size: int
    alpha1: G1Point
    beta1: G1Point
    beta2: G2Point
    gamma2: G2Point
    delta1: G1Point
    delta2: G2Point
    ic: np.ndarray
    """``(n_public + 1, 2, 4)``."""
    coeff_matrix: np.ndarray
    """``(m,)`` ``uint32``: 0 for A, 1 for B."""
    coeff_constraint: np.ndarray
    coeff_signal: np.ndarray
    coeff_values: np.ndarray
    """``(m, 4)`` coefficient values ``v·R mod r`` (see :mod:`workers.groth16.qap`)."""
    a_points: np.ndarray
    b1_points: np.ndarray
    b2_points: np.ndarray
    """``(n_vars, 2, 2, 4)``."""
    c_points: np.ndarray
    """``(n_vars − n_public − 1, 2, 4)``."""
    h_points: np.ndarray
    """``(domain_size, 2, 4)``."""


def _u32(body: memoryview, offset: int) -> int:
    return struct.unpack_from("<I", body, offset)[0]


def _int(body: memoryview, offset: int, size: int) -> int:
    return int.from_bytes(body[offset : offset + size], "little")


def _canonical_rows(body: memoryview | bytes, name: str) -> np.ndarray:
    """``(k, 4)`` canonical limbs of LEM ``F_q`` words, or :class:`MalformedZkeyError`."""
    words = np.frombuffer(body, dtype="<u8").reshape(-1, 4).astype(np.uint64)
    bad = first_not_below(words, BN254_P)
    if bad >= 0:
        raise MalformedZkeyError(f"{WHAT} {name}: coordinate {bad} is not below q")
    from_mont_into(words, words, montgomery_constants(BN254_P))
    return words


def _g1_section(body: memoryview, count: int, name: str) -> np.ndarray:
    expect_size(body, count * G1_BYTES, MalformedZkeyError, WHAT, name)
    points = _canonical_rows(body, name).reshape(count, 2, 4)
    bad = first_point_off_curve("bn254_g1", points)
    if bad >= 0:
        raise MalformedZkeyError(f"{WHAT} {name}: point {bad} is not on bn254 G1")
    return points


def _check_curve(body: memoryview) -> None:
    n8q = _u32(body, 0)
    q = _int(body, 4, n8q)
    n8r = _u32(body, 4 + n8q) if len(body) >= 8 + n8q else 0
    r = _int(body, 8 + n8q, n8r)
    if q == BLS12_381_P or r == BLS12_381_R:
        raise UnsupportedZkeyError(
            f"{WHAT} is for bls12-381; only bn254 (snarkjs' bn128) is supported"
        )
    if n8q != N8 or n8r != N8 or q != BN254_P or r != BN254_R:
        raise UnsupportedZkeyError(
            f"{WHAT} is for an unknown curve (n8q={n8q}, n8r={n8r}); only bn254 (bn128)"
        )


def _header_point_g1(body: memoryview, offset: int, name: str) -> G1Point:
    point = g1_from_limbs(_canonical_rows(body[offset : offset + G1_BYTES], name))
    if not g1_on_curve(point):
        raise MalformedZkeyError(f"{WHAT} header: {name} is not on bn254 G1")
    return point


def _header_point_g2(body: memoryview, offset: int, name: str) -> G2Point:
    point = g2_from_limbs(_canonical_rows(body[offset : offset + G2_BYTES], name))
    if not g2_on_curve(point):
        raise MalformedZkeyError(f"{WHAT} header: {name} is not on bn254 G2")
    return point


def _coefficients(body: memoryview, n_vars: int, domain_size: int) -> np.ndarray:
    if len(body) < 4:
        raise MalformedZkeyError(f"{WHAT} section 4 (coefficients) is truncated")
    count = _u32(body, 0)
    expect_size(body, 4 + count * _COEFF.itemsize, MalformedZkeyError, WHAT, "4 (coefficients)")
    coeffs = np.frombuffer(body, dtype=_COEFF, offset=4)
    if coeffs.size and int(coeffs["matrix"].max()) > 1:
        raise MalformedZkeyError(f"{WHAT} coefficients: a matrix id is not 0 (A) or 1 (B)")
    if coeffs.size and int(coeffs["constraint"].max()) >= domain_size:
        raise MalformedZkeyError(f"{WHAT} coefficients: a constraint index is ≥ domainSize")
    if coeffs.size and int(coeffs["signal"].max()) >= n_vars:
        raise MalformedZkeyError(f"{WHAT} coefficients: a signal index is ≥ nVars")
    return coeffs


def read_zkey(data: bytes | bytearray | memoryview) -> ZKey:
    """Parse and check a snarkjs Groth16 ``.zkey`` (module docstring).

    Raises :class:`~workers.errors.MalformedZkeyError` (or its subclass
    :class:`~workers.errors.UnsupportedZkeyError` for another protocol or curve).
    """
    _, sections = read_sections(data, b"zkey", 1, MalformedZkeyError, WHAT)
    header = unique_section(sections, 1, MalformedZkeyError, WHAT, "header")
    expect_size(header, 4, MalformedZkeyError, WHAT, "1 (header)")
    protocol = _u32(header, 0)
    if protocol != GROTH16_PROTOCOL:
        name = _PROTOCOLS.get(protocol, f"unknown protocol {protocol}")
        raise UnsupportedZkeyError(f"{WHAT} is a {name} key, not groth16")
    body = unique_section(sections, 2, MalformedZkeyError, WHAT, "Groth16 header")
    if len(body) < 8:
        raise MalformedZkeyError(f"{WHAT} section 2 (Groth16 header) is truncated")
    _check_curve(body)
    expect_size(body, _HEADER_SIZE, MalformedZkeyError, WHAT, "2 (Groth16 header)")
    n_vars, n_public, domain_size = struct.unpack_from("<III", body, 8 + 2 * N8)
    if not n_public + 1 <= n_vars:
        raise MalformedZkeyError(f"{WHAT} header: nPublic {n_public} + 1 exceeds nVars {n_vars}")
    if domain_size & (domain_size - 1) or not 1 <= domain_size <= 1 << MAX_DOMAIN_POWER:
        raise MalformedZkeyError(
            f"{WHAT} header: domainSize {domain_size} is not a power of two ≤ 2^{MAX_DOMAIN_POWER}"
        )
    pos = _HEADER_FIXED
    alpha1 = _header_point_g1(body, pos, "alpha1")
    beta1 = _header_point_g1(body, pos + G1_BYTES, "beta1")
    beta2 = _header_point_g2(body, pos + 2 * G1_BYTES, "beta2")
    gamma2 = _header_point_g2(body, pos + 2 * G1_BYTES + G2_BYTES, "gamma2")
    delta1 = _header_point_g1(body, pos + 2 * G1_BYTES + 2 * G2_BYTES, "delta1")
    delta2 = _header_point_g2(body, pos + 3 * G1_BYTES + 2 * G2_BYTES, "delta2")

    def section(section_id: int, name: str) -> memoryview:
        return unique_section(sections, section_id, MalformedZkeyError, WHAT, name)

    coeffs = _coefficients(section(4, "coefficients"), n_vars, domain_size)
    values = np.ascontiguousarray(coeffs["value"]).astype(np.uint64)
    bad = first_not_below(values, BN254_R)
    if bad >= 0:
        raise MalformedZkeyError(f"{WHAT} coefficients: value {bad} is not below r")
    from_mont_into(values, values, montgomery_constants(BN254_R))  # v·R² → v·R
    b2_body = section(7, "B2")
    expect_size(b2_body, n_vars * G2_BYTES, MalformedZkeyError, WHAT, "7 (B2)")
    return ZKey(
        n_vars=n_vars,
        n_public=n_public,
        domain_size=domain_size,
        alpha1=alpha1,
        beta1=beta1,
        beta2=beta2,
        gamma2=gamma2,
        delta1=delta1,
        delta2=delta2,
        ic=_g1_section(section(3, "IC"), n_public + 1, "3 (IC)"),
        coeff_matrix=np.ascontiguousarray(coeffs["matrix"]),
        coeff_constraint=np.ascontiguousarray(coeffs["constraint"]),
        coeff_signal=np.ascontiguousarray(coeffs["signal"]),
        coeff_values=values,
        a_points=_g1_section(section(5, "A"), n_vars, "5 (A)"),
        b1_points=_g1_section(section(6, "B1"), n_vars, "6 (B1)"),
        b2_points=_canonical_rows(b2_body, "7 (B2)").reshape(n_vars, 2, 2, 4),
        c_points=_g1_section(section(8, "C"), n_vars - n_public - 1, "8 (C)"),
        h_points=_g1_section(section(9, "H"), domain_size, "9 (H)"),
    )

"""Reader of circom/snarkjs witness files (``.wtns``) and the witness ↔ key checks.

Layout (iden3/snarkjs ``src/wtns_utils.js``, ``write``/``readHeader``) in the
iden3 container of :mod:`workers.groth16.binfile`, magic ``"wtns"``, version
1 or 2: section 1 = ``u32 n8, q[n8], u32 nWitness`` (``q`` the scalar field
``r``), section 2 = ``nWitness`` values of ``n8`` bytes, canonical (not
Montgomery), little-endian.  Signal 0 is the constant ``1``; signals
``1..nPublic`` are the public ones (outputs first), as in ``public.json``.
:func:`wtns_bytes` writes the same layout (version 2, as snarkjs ``wtns calculate`` does).
"""

from __future__ import annotations

import struct

import numpy as np

from workers.codec.arrays import first_not_below
from workers.errors import MalformedWitnessError, WitnessMismatchError
from workers.groth16.binfile import expect_size, read_sections, unique_section
from workers.groth16.zkey import N8, ZKey
from workers.params import BN254_R

WHAT = ".wtns"


def read_wtns(data: bytes | bytearray | memoryview) -> np.ndarray:
    """The witness of a ``.wtns`` file as ``(nWitness, 4)`` canonical ``uint64`` limbs.

    Raises :class:`~workers.errors.MalformedWitnessError` for a malformed file,
    another field than BN254's ``r``, or a value not below ``r``.
    """
    _, sections = read_sections(data, b"wtns", 2, MalformedWitnessError, WHAT)
    header = unique_section(sections, 1, MalformedWitnessError, WHAT, "header")
    if len(header) < 4:
        raise MalformedWitnessError(f"{WHAT} section 1 (header) is truncated")
    n8 = struct.unpack_from("<I", header, 0)[0]
    expect_size(header, 4 + n8 + 4, MalformedWitnessError, WHAT, "1 (header)")
    prime = int.from_bytes(header[4 : 4 + n8], "little")
    if n8 != N8 or prime != BN254_R:
        raise MalformedWitnessError(
            f"{WHAT} is over another field (n8={n8}); only bn254's scalar field is supported"
        )
    count = struct.unpack_from("<I", header, 4 + n8)[0]
    body = unique_section(sections, 2, MalformedWitnessError, WHAT, "values")
    expect_size(body, count * N8, MalformedWitnessError, WHAT, "2 (values)")
    witness = np.frombuffer(body, dtype="<u8").reshape(count, 4).astype(np.uint64)
    bad = first_not_below(witness, BN254_R)
    if bad >= 0:
        raise MalformedWitnessError(f"{WHAT} value {bad} is not below r")
    return witness


def wtns_bytes(witness: np.ndarray) -> bytes:
    """The ``.wtns`` file (version 2, snarkjs' layout) of ``(n, 4)`` canonical limbs.

    Raises :class:`ValueError` for another shape or a value not below ``r``.
    """
    if witness.ndim != 2 or witness.shape[1] != 4:
        raise ValueError(f"witness must be (n, 4) limbs, got shape {witness.shape}")
    bad = first_not_below(witness, BN254_R)
    if bad >= 0:
        raise ValueError(f"witness value {bad} is not below r")
    header = struct.pack("<I", N8) + BN254_R.to_bytes(N8, "little")
    header += struct.pack("<I", witness.shape[0])
    body = np.ascontiguousarray(witness, dtype="<u8")
    return b"".join(
        [
            struct.pack("<4sII", b"wtns", 2, 2),
            struct.pack("<IQ", 1, len(header)),
            header,
            struct.pack("<IQ", 2, body.nbytes),
            memoryview(body).cast("B"),
        ]
    )


def check_witness(zkey: ZKey, witness: np.ndarray) -> None:
    """:class:`~workers.errors.WitnessMismatchError` unless ``witness`` fits ``zkey``.

    The length must be ``nVars`` and signal 0 the constant ``1`` (what
    ``groth16_prove.js`` checks, plus the latter).  Whether the witness
    satisfies the constraints shows only in the proof's pairing check: the
    key holds no C matrix to test the R1CS with.
    """
    if witness.ndim != 2 or witness.shape[1] != 4:
        raise WitnessMismatchError(f"witness must be (n, 4) limbs, got shape {witness.shape}")
    if witness.shape[0] != zkey.n_vars:
        raise WitnessMismatchError(
            f"witness has {witness.shape[0]} values, the key's circuit has {zkey.n_vars} signals"
        )
    if tuple(int(v) for v in witness[0]) != (1, 0, 0, 0):
        raise WitnessMismatchError("witness signal 0 is not the constant 1")

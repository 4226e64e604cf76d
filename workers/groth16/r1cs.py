"""Reader of circom's binary constraint system (``.r1cs``), BN254 only.

Layout (iden3/r1csfile ``r1csfile.js``, written by circom ``--r1cs``), in the iden3
container of :mod:`workers.groth16.binfile` with magic ``"r1cs"``, version 1, all
integers little-endian:

====  ============  ==============================================================
id    name          body
====  ============  ==============================================================
1     header        ``u32 n8, prime[n8], u32 nWires, u32 nPubOut, u32 nPubIn,
                    u32 nPrvIn, u64 nLabels, u32 nConstraints``
2     constraints   ``nConstraints`` × (A, B, C), each linear combination a
                    ``u32 count`` then ``count`` × (``u32 wire, value[n8]``)
3     wire→label    ``nWires`` × ``u64`` (not needed here, not read)
4, 5  custom gates  PLONK only (ignored)
====  ============  ==============================================================

Values are plain (not Montgomery) little-endian integers below ``r``; wire 0 is the
constant ``1``, then the public outputs, the public inputs, the private inputs and the
internal signals (snarkjs' ``nVars = nWires``, ``nPublic = nPubOut + nPubIn``).
:func:`read_r1cs` returns the terms flattened into arrays (one row per non-zero
coefficient, in file order), checked: every wire below ``nWires``, every value below
``r``, the section exactly as long as its constraints.  Anything else raises
:class:`~workers.errors.MalformedR1csError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from numba import njit

from workers.errors import MalformedR1csError
from workers.groth16.binfile import read_sections, unique_section
from workers.params import BN254_R

WHAT = ".r1cs"
N8 = 32
_HEADER = struct.Struct("<IIIIQI")
_HEADER_SIZE = 4 + N8 + _HEADER.size
_R_LIMBS = np.array([(BN254_R >> (64 * k)) & 0xFFFF_FFFF_FFFF_FFFF for k in range(4)], np.uint64)


@dataclass(frozen=True, eq=False)
class R1cs:
    """A parsed constraint system: ``A·w ∘ B·w = C·w`` over BN254's scalar field."""

    n_wires: int
    n_pub_out: int
    n_pub_in: int
    n_prv_in: int
    n_labels: int
    n_constraints: int
    matrix: np.ndarray
    """``(m,)`` ``uint8``: 0 = A, 1 = B, 2 = C."""
    constraint: np.ndarray
    """``(m,)`` ``uint32`` constraint index."""
    wire: np.ndarray
    """``(m,)`` ``uint32`` wire (signal) index."""
    values: np.ndarray
    """``(m, 4)`` ``uint64`` canonical limbs of each coefficient."""

    @property
    def n_public(self) -> int:
        """Public signals (outputs, then public inputs), not counting wire 0."""
        return self.n_pub_out + self.n_pub_in


@njit(cache=True)
def _count_terms(body: np.ndarray, n_constraints: int, n8: int) -> int:
    """Terms in the constraints section, or ``-1 − byte offset`` where it runs short/over."""
    pos = 0
    total = 0
    size = body.shape[0]
    for _ in range(n_constraints * 3):
        if pos + 4 > size:
            return -1 - pos
        count = (
            np.int64(body[pos])
            | (np.int64(body[pos + 1]) << 8)
            | (np.int64(body[pos + 2]) << 16)
            | (np.int64(body[pos + 3]) << 24)
        )
        pos += 4 + count * (4 + n8)
        if pos > size:
            return -1 - size
        total += count
    if pos != size:
        return -1 - pos
    return total


@njit(cache=True)
def _fill_terms(
    body: np.ndarray,
    n_constraints: int,
    n8: int,
    matrix: np.ndarray,
    constraint: np.ndarray,
    wire: np.ndarray,
    values: np.ndarray,
) -> None:
    pos = 0
    t = 0
    for k in range(n_constraints * 3):
        count = (
            np.int64(body[pos])
            | (np.int64(body[pos + 1]) << 8)
            | (np.int64(body[pos + 2]) << 16)
            | (np.int64(body[pos + 3]) << 24)
        )
        pos += 4
        for _ in range(count):
            w = np.uint32(0)
            for b in range(4):
                w |= np.uint32(body[pos + b]) << np.uint32(8 * b)
            pos += 4
            for limb in range(4):
                v = np.uint64(0)
                for b in range(8):
                    v |= np.uint64(body[pos + 8 * limb + b]) << np.uint64(8 * b)
                values[t, limb] = v
            pos += n8
            matrix[t] = k % 3
            constraint[t] = k // 3
            wire[t] = w
            t += 1


@njit(cache=True)
def _first_not_below(values: np.ndarray, bound: np.ndarray) -> int:
    for i in range(values.shape[0]):
        for limb in range(3, -1, -1):
            if values[i, limb] != bound[limb]:
                if values[i, limb] > bound[limb]:
                    return i
                break
        else:
            return i
    return -1


def read_r1cs(data: bytes | bytearray | memoryview) -> R1cs:
    """Parse and check a circom ``.r1cs`` (module docstring); :class:`MalformedR1csError` if bad."""
    _, sections = read_sections(data, b"r1cs", 1, MalformedR1csError, WHAT)
    header = unique_section(sections, 1, MalformedR1csError, WHAT, "header")
    if len(header) < 4:
        raise MalformedR1csError(f"{WHAT} section 1 (header) is truncated")
    n8 = struct.unpack_from("<I", header, 0)[0]
    if n8 != N8 or len(header) < 4 + n8:
        raise MalformedR1csError(
            f"{WHAT} header: field size n8 = {n8}; only bn254 (32) is supported"
        )
    prime = int.from_bytes(header[4 : 4 + n8], "little")
    if prime != BN254_R:
        raise MalformedR1csError(
            f"{WHAT} header: the prime is not bn254's r (only bn254 is supported)"
        )
    if len(header) != _HEADER_SIZE:
        raise MalformedR1csError(
            f"{WHAT} section 1 (header) has {len(header)} bytes, expected {_HEADER_SIZE}"
        )
    n_wires, n_out, n_in, n_prv, n_labels, n_constraints = _HEADER.unpack_from(header, 4 + n8)
    if n_wires < 1 or 1 + n_out + n_in + n_prv > n_wires:
        raise MalformedR1csError(
            f"{WHAT} header: nWires {n_wires} < 1 + outputs {n_out} + inputs {n_in} + {n_prv}"
        )
    body = np.frombuffer(
        unique_section(sections, 2, MalformedR1csError, WHAT, "constraints"), dtype=np.uint8
    )
    total = int(_count_terms(body, n_constraints, n8))
    if total < 0:
        raise MalformedR1csError(
            f"{WHAT} section 2 (constraints) does not hold exactly {n_constraints} constraints "
            f"({len(body)} bytes; the layout breaks at byte {-1 - total})"
        )
    matrix = np.empty(total, dtype=np.uint8)
    constraint = np.empty(total, dtype=np.uint32)
    wire = np.empty(total, dtype=np.uint32)
    values = np.empty((total, 4), dtype=np.uint64)
    _fill_terms(body, n_constraints, n8, matrix, constraint, wire, values)
    if total and int(wire.max()) >= n_wires:
        bad = int(np.argmax(wire >= n_wires))
        raise MalformedR1csError(
            f"{WHAT} constraint {int(constraint[bad])}: wire {int(wire[bad])} ≥ nWires {n_wires}"
        )
    bad = int(_first_not_below(values, _R_LIMBS))
    if bad >= 0:
        raise MalformedR1csError(
            f"{WHAT} constraint {int(constraint[bad])}: a coefficient is not below r"
        )
    return R1cs(
        n_wires, n_out, n_in, n_prv, n_labels, n_constraints, matrix, constraint, wire, values
    )

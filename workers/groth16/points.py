"""BN254 points of the Groth16 code: limb arrays ↔ integers ↔ py_ecc, checks, snarkjs JSON.

Conventions (docs/architecture.md §4, extended to G2 as in :mod:`workers.msm.curve`): a G1
point is ``(x, y)`` and a G2 point ``((x0, x1), (y0, y1))`` with ``x = x0 + x1·u``
in ``F_p² = F_p[u]/(u² + 1)``; the point at infinity is all zeros.  The few
additions and scalar multiplications of a proof run as tiny MSMs on the numba
kernels; the curve checks use py_ecc's ``optimized_bn128`` and the pairing
:mod:`workers.groth16.pairing`.  snarkjs writes points projectively with ``z = 1``
(``G1.toObject(G1.toAffine(p))`` in ``groth16_prove.js``), infinity as ``[0, 1, 0]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from py_ecc.optimized_bn128 import FQ, FQ2, Z1, Z2, is_on_curve, normalize
from py_ecc.optimized_bn128 import b as G1_B
from py_ecc.optimized_bn128 import b2 as G2_B

from workers.codec.limb_arrays import ints_to_limbs, limbs_to_ints, points_to_limbs
from workers.msm.pippenger import msm_limbs
from workers.params import BN254_P, BN254_R

G1Point = tuple[int, int]
G2Point = tuple[tuple[int, int], tuple[int, int]]
G1_INFINITY: G1Point = (0, 0)
G2_INFINITY: G2Point = ((0, 0), (0, 0))


def g1_from_limbs(row: np.ndarray) -> G1Point:
    """A G1 point from 8 words ``x‖y``."""
    x, y = limbs_to_ints(np.asarray(row).reshape(2, 4))
    return (x, y)


def g2_from_limbs(row: np.ndarray) -> G2Point:
    """A G2 point from 16 words ``x0‖x1‖y0‖y1``."""
    x0, x1, y0, y1 = limbs_to_ints(np.asarray(row).reshape(4, 4))
    return ((x0, x1), (y0, y1))


def g1_to_ecc(point: G1Point) -> Any:
    """py_ecc Jacobian G1 point (``Z1`` for infinity)."""
    if point == G1_INFINITY:
        return Z1
    return (FQ(point[0]), FQ(point[1]), FQ.one())


def g2_to_ecc(point: G2Point) -> Any:
    """py_ecc Jacobian G2 point (``Z2`` for infinity)."""
    if point == G2_INFINITY:
        return Z2
    (x0, x1), (y0, y1) = point
    return (FQ2([x0, x1]), FQ2([y0, y1]), FQ2.one())


def g1_from_ecc(point: Any) -> G1Point:
    if point[2] == FQ.zero():
        return G1_INFINITY
    x, y = normalize(point)
    return (int(x), int(y))


def g2_from_ecc(point: Any) -> G2Point:
    if point[2] == FQ2.zero():
        return G2_INFINITY
    x, y = normalize(point)
    return ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))


def g1_on_curve(point: G1Point) -> bool:
    """On ``y² = x³ + 3`` (or infinity), coordinates canonical."""
    if point == G1_INFINITY:
        return True
    if not all(0 <= c < BN254_P for c in point):
        return False
    return is_on_curve(g1_to_ecc(point), G1_B)


def g2_on_curve(point: G2Point) -> bool:
    """On the twist ``y² = x³ + 3/(9 + u)`` (or infinity), coordinates canonical."""
    if point == G2_INFINITY:
        return True
    if not all(0 <= c < BN254_P for pair in point for c in pair):
        return False
    return is_on_curve(g2_to_ecc(point), G2_B)


def g1_combine(terms: list[tuple[G1Point, int]]) -> G1Point:
    """``Σ kᵢ·Pᵢ`` for a handful of terms (the final assembly of a proof), ``kᵢ`` taken mod r.

    Runs the numba MSM of :mod:`workers.msm.pippenger` (py_ecc's Python double-and-add
    took a third of a 2^12 proof).
    """
    points = points_to_limbs([p for p, _ in terms])
    scalars = ints_to_limbs([k % BN254_R for _, k in terms])
    return msm_limbs("bn254_g1", points, scalars)


def g2_combine(terms: list[tuple[G2Point, int]]) -> G2Point:
    """``Σ kᵢ·Qᵢ`` for a handful of G2 terms (numba, :mod:`workers.msm.pippenger`)."""
    coords = [c for (x, y), _ in terms for c in (*x, *y)]
    points = ints_to_limbs(coords).reshape(len(terms), 2, 2, 4)
    scalars = ints_to_limbs([k % BN254_R for _, k in terms])
    return msm_limbs("bn254_g2", points, scalars)


def g1_json(point: G1Point) -> list[str]:
    """snarkjs' ``G1.toObject(toAffine(p))`` as decimal strings: ``[x, y, "1"]``, ∞ ``[0,1,0]``."""
    if point == G1_INFINITY:
        return ["0", "1", "0"]
    return [str(point[0]), str(point[1]), "1"]


def g2_json(point: G2Point) -> list[list[str]]:
    """snarkjs' G2 object: ``[[x0, x1], [y0, y1], ["1", "0"]]``, ∞ with ``y = 1``, ``z = 0``."""
    if point == G2_INFINITY:
        return [["0", "0"], ["1", "0"], ["0", "0"]]
    (x0, x1), (y0, y1) = point
    return [[str(x0), str(x1)], [str(y0), str(y1)], ["1", "0"]]


def _ints(values: object, count: int, what: str) -> list[int]:
    if not isinstance(values, list) or len(values) != count:
        raise ValueError(f"{what} is not a list of {count} decimal strings")
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{what} holds a value that is not a decimal integer") from None


def g1_from_json(value: object, what: str) -> G1Point:
    """Inverse of :func:`g1_json` (any ``z ≠ 0`` is normalised), ``ValueError`` if malformed."""
    x, y, z = _ints(value, 3, what)
    if not all(0 <= c < BN254_P for c in (x, y, z)):
        raise ValueError(f"{what} has a coordinate out of range [0, p)")
    if z == 0:
        return G1_INFINITY
    zi = pow(z, -1, BN254_P)
    return (x * zi * zi % BN254_P, y * zi * zi * zi % BN254_P) if z != 1 else (x, y)


def g2_from_json(value: object, what: str) -> G2Point:
    """Inverse of :func:`g2_json` (``z`` must be ``1`` or ``0``), ``ValueError`` if malformed."""
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError(f"{what} is not a list of three [c0, c1] pairs")
    (x0, x1), (y0, y1), (z0, z1) = (_ints(v, 2, what) for v in value)
    if not all(0 <= c < BN254_P for c in (x0, x1, y0, y1, z0, z1)):
        raise ValueError(f"{what} has a coordinate out of range [0, p)")
    if (z0, z1) == (0, 0):
        return G2_INFINITY
    if (z0, z1) != (1, 0):
        raise ValueError(f"{what} is not affine (z must be [1, 0])")
    return ((x0, x1), (y0, y1))

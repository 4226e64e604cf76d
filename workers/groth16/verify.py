"""The Groth16 pairing check (what ``snarkjs groth16 verify`` does), on the numba BN254 pairing.

Groth (EUROCRYPT 2016, §3.2) accepts ``(π_A, π_B, π_C)`` for public signals
``x₁..x_ℓ`` iff ``e(π_A, π_B) = e(α₁, β₂)·e(L, γ₂)·e(π_C, δ₂)`` with
``L = IC₀ + Σ xᵢ·ICᵢ``; snarkjs (``src/groth16_verify.js``) checks
``e(−π_A, π_B)·e(α₁, β₂)·e(L, γ₂)·e(π_C, δ₂) = 1`` with one final
exponentiation, as :func:`verify` does: one multi-Miller loop over the four pairs and one
final exponentiation of :mod:`workers.groth16.pairing` (py_ecc, 0.65–0.95 s per check, is the
tests' oracle).  Points must be on their curves and, for π_B, in the order-``r`` subgroup of
G2 (checked with the endomorphism test of :mod:`workers.msm.checks`, since the twist has a
cofactor); public signals must be below ``r``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers.codec.limb_arrays import ints_to_limbs, limbs_to_points
from workers.groth16.pairing import pairing_product_is_one
from workers.groth16.points import (
    G1_INFINITY,
    G2_INFINITY,
    G1Point,
    G2Point,
    g1_combine,
    g1_from_json,
    g1_on_curve,
    g2_from_json,
    g2_on_curve,
)
from workers.groth16.prover import Proof
from workers.groth16.zkey import ZKey
from workers.msm.checks import first_point_not_in_subgroup
from workers.params import BN254_P, BN254_R


@dataclass(frozen=True)
class VerificationKey:
    """A Groth16 verification key (snarkjs' ``verification_key.json``)."""

    alpha1: G1Point
    beta2: G2Point
    gamma2: G2Point
    delta2: G2Point
    ic: list[G1Point]

    @property
    def n_public(self) -> int:
        return len(self.ic) - 1

    @classmethod
    def from_zkey(cls, zkey: ZKey) -> VerificationKey:
        """The key snarkjs' ``zkey export verificationkey`` writes for ``zkey``."""
        return cls(zkey.alpha1, zkey.beta2, zkey.gamma2, zkey.delta2, limbs_to_points(zkey.ic))

    @classmethod
    def from_json(cls, vkey: Any) -> VerificationKey:
        """Parse snarkjs' ``verification_key.json`` object; ``ValueError`` if malformed."""
        if not isinstance(vkey, dict) or vkey.get("protocol") != "groth16":
            raise ValueError("not a groth16 verification key")
        if vkey.get("curve") != "bn128":
            raise ValueError(f"verification key curve {vkey.get('curve')!r}; only bn128")
        ic = vkey.get("IC")
        if not isinstance(ic, list) or not ic:
            raise ValueError("verification key has no IC list")
        return cls(
            alpha1=g1_from_json(vkey.get("vk_alpha_1"), "vk_alpha_1"),
            beta2=g2_from_json(vkey.get("vk_beta_2"), "vk_beta_2"),
            gamma2=g2_from_json(vkey.get("vk_gamma_2"), "vk_gamma_2"),
            delta2=g2_from_json(vkey.get("vk_delta_2"), "vk_delta_2"),
            ic=[g1_from_json(p, f"IC[{i}]") for i, p in enumerate(ic)],
        )


def proof_from_json(proof: Any, public: Any) -> Proof:
    """A :class:`Proof` from snarkjs' ``proof.json`` and ``public.json``; ``ValueError`` if bad."""
    if not isinstance(proof, dict) or proof.get("protocol") != "groth16":
        raise ValueError("not a groth16 proof")
    if not isinstance(public, list):
        raise ValueError("public signals must be a list of decimal strings")
    try:
        signals = [int(v) for v in public]
    except (TypeError, ValueError):
        raise ValueError("a public signal is not a decimal integer") from None
    return Proof(
        pi_a=g1_from_json(proof.get("pi_a"), "pi_a"),
        pi_b=g2_from_json(proof.get("pi_b"), "pi_b"),
        pi_c=g1_from_json(proof.get("pi_c"), "pi_c"),
        public_signals=signals,
    )


def _in_g2_subgroup(point: G2Point) -> bool:
    if point == G2_INFINITY:
        return True
    (x0, x1), (y0, y1) = point
    return first_point_not_in_subgroup("bn254_g2", ints_to_limbs([x0, x1, y0, y1])) < 0


def verify(vk: VerificationKey, proof: Proof) -> bool:
    """Whether ``proof`` (with its public signals) passes the pairing check for ``vk``."""
    signals = proof.public_signals
    if len(signals) != vk.n_public or not all(0 <= x < BN254_R for x in signals):
        return False
    if not (g1_on_curve(proof.pi_a) and g1_on_curve(proof.pi_c) and g2_on_curve(proof.pi_b)):
        return False
    if not _in_g2_subgroup(proof.pi_b):
        return False
    vk_x = g1_combine([(vk.ic[0], 1), *zip(vk.ic[1:], signals, strict=True)])
    minus_a = G1_INFINITY if proof.pi_a == G1_INFINITY else (proof.pi_a[0], BN254_P - proof.pi_a[1])
    pairs = [
        (minus_a, proof.pi_b),
        (vk.alpha1, vk.beta2),
        (vk_x, vk.gamma2),
        (proof.pi_c, vk.delta2),
    ]
    # e(O, ·) = e(·, O) = 1: such pairs drop out of the product.
    return pairing_product_is_one(
        [(g1, g2) for g1, g2 in pairs if g1 != G1_INFINITY and g2 != G2_INFINITY]
    )

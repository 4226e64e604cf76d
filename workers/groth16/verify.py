"""The Groth16 pairing check (what ``snarkjs groth16 verify`` does), on py_ecc's BN254 pairing.

Groth (EUROCRYPT 2016, §3.2) accepts ``(π_A, π_B, π_C)`` for public signals
``x₁..x_ℓ`` iff ``e(π_A, π_B) = e(α₁, β₂)·e(L, γ₂)·e(π_C, δ₂)`` with
``L = IC₀ + Σ xᵢ·ICᵢ``; snarkjs (``src/groth16_verify.js``) checks
``e(−π_A, π_B)·e(α₁, β₂)·e(L, γ₂)·e(π_C, δ₂) = 1`` with one final
exponentiation, as :func:`verify` does (four Miller loops of py_ecc's
``optimized_bn128``).  Points must be on their curves and, for π_B, in the
order-``r`` subgroup of G2 (checked, since the twist has a cofactor);
public signals must be below ``r``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from py_ecc.optimized_bn128 import FQ12, curve_order, final_exponentiate, multiply, neg, pairing

from workers.codec.limb_arrays import limbs_to_points
from workers.groth16.points import (
    G1_INFINITY,
    G2_INFINITY,
    G1Point,
    G2Point,
    g1_combine,
    g1_from_json,
    g1_on_curve,
    g1_to_ecc,
    g2_from_json,
    g2_on_curve,
    g2_to_ecc,
)
from workers.groth16.prover import Proof
from workers.groth16.zkey import ZKey
from workers.params import BN254_R


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
    return multiply(g2_to_ecc(point), curve_order)[2] == g2_to_ecc(G2_INFINITY)[2]


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
    product = FQ12.one()
    for g2, g1 in (
        (proof.pi_b, neg(g1_to_ecc(proof.pi_a))),
        (vk.beta2, g1_to_ecc(vk.alpha1)),
        (vk.gamma2, g1_to_ecc(vk_x)),
        (vk.delta2, g1_to_ecc(proof.pi_c)),
    ):
        if g2 == G2_INFINITY or g1[2] == g1_to_ecc(G1_INFINITY)[2]:
            continue  # e(O, ·) = e(·, O) = 1
        product = product * pairing(g2_to_ecc(g2), g1, final_exponentiate=False)
    return final_exponentiate(product) == FQ12.one()

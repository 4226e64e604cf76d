"""The numba BN254 pairing against py_ecc, its bilinearity, and the Groth16 check built on it."""

from __future__ import annotations

import random

import pytest
from py_ecc import optimized_bn128 as ecc

from workers.fields.tower import to_w_coefficients
from workers.groth16.pairing import pairing, pairing_product_is_one
from workers.groth16.points import G1_INFINITY, G2_INFINITY
from workers.groth16.prover import Proof
from workers.groth16.verify import VerificationKey, verify
from workers.params import BN254_P, BN254_R, CURVES
from workers.reference import in_subgroup, random_curve_point

P = BN254_P


def _g1(point: tuple) -> tuple[int, int]:
    x, y = ecc.normalize(point)
    return (int(x), int(y))


def _g2(point: tuple) -> tuple[tuple[int, int], tuple[int, int]]:
    x, y = ecc.normalize(point)
    return ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))


def _neg1(point: tuple[int, int]) -> tuple[int, int]:
    return (point[0], (P - point[1]) % P)


@pytest.mark.parametrize("seed", [1, 2])
def test_pairing_equals_py_ecc(seed: int) -> None:
    rng = random.Random(seed)
    a, b = rng.randrange(1, BN254_R), rng.randrange(1, BN254_R)
    g1, g2 = ecc.multiply(ecc.G1, a), ecc.multiply(ecc.G2, b)
    expected = [int(c) % P for c in ecc.pairing(g2, g1).coeffs]
    assert [c % P for c in to_w_coefficients(pairing(_g1(g1), _g2(g2)))] == expected


def test_generators_pair_to_py_ecc_and_not_to_one() -> None:
    value = pairing(_g1(ecc.G1), _g2(ecc.G2))
    expected = [int(c) % P for c in ecc.pairing(ecc.G2, ecc.G1).coeffs]
    assert [c % P for c in to_w_coefficients(value)] == expected
    assert value != [1] + [0] * 11
    assert not pairing_product_is_one([(_g1(ecc.G1), _g2(ecc.G2))])


def test_bilinearity_and_inverse_pairs() -> None:
    rng = random.Random(7)
    a, b = rng.randrange(1, BN254_R), rng.randrange(1, BN254_R)
    p1, q1 = _g1(ecc.multiply(ecc.G1, a)), _g2(ecc.multiply(ecc.G2, b))
    ab_p = _g1(ecc.multiply(ecc.G1, a * b % BN254_R))
    q = _g2(ecc.G2)
    # e(aP, bQ) · e(−abP, Q) = 1, and e(P, Q) · e(−P, Q) = 1
    assert pairing_product_is_one([(p1, q1), (_neg1(ab_p), q)])
    assert pairing_product_is_one([(p1, q1), (_neg1(p1), q1)])
    # off by one in the scalar: not one
    wrong = _g1(ecc.multiply(ecc.G1, (a * b + 1) % BN254_R))
    assert not pairing_product_is_one([(p1, q1), (_neg1(wrong), q)])
    assert pairing_product_is_one([])


def _toy_key_and_proof() -> tuple[VerificationKey, Proof]:
    """A valid Groth16 instance built from the equation itself (one public signal).

    With α, β, γ, δ, the IC scalars and a, b chosen at random, ``c`` is solved from
    ``a·b = α·β + L·γ + c·δ`` (``L = ic0 + x·ic1``), so every pairing of the check is non-trivial.
    """
    rng = random.Random(11)
    r = BN254_R
    alpha, beta, gamma, delta, ic0, ic1, a, b, x = (rng.randrange(1, r) for _ in range(9))
    l_scalar = (ic0 + x * ic1) % r
    c = (a * b - alpha * beta - l_scalar * gamma) * pow(delta, -1, r) % r
    g1, g2 = ecc.G1, ecc.G2
    vk = VerificationKey(
        alpha1=_g1(ecc.multiply(g1, alpha)),
        beta2=_g2(ecc.multiply(g2, beta)),
        gamma2=_g2(ecc.multiply(g2, gamma)),
        delta2=_g2(ecc.multiply(g2, delta)),
        ic=[_g1(ecc.multiply(g1, ic0)), _g1(ecc.multiply(g1, ic1))],
    )
    proof = Proof(
        pi_a=_g1(ecc.multiply(g1, a)),
        pi_b=_g2(ecc.multiply(g2, b)),
        pi_c=_g1(ecc.multiply(g1, c)),
        public_signals=[x],
    )
    return vk, proof


def test_verify_accepts_a_valid_instance_and_rejects_tampering() -> None:
    vk, proof = _toy_key_and_proof()
    assert verify(vk, proof)
    x = proof.public_signals[0]
    assert not verify(vk, Proof(proof.pi_a, proof.pi_b, proof.pi_c, [(x + 1) % BN254_R]))
    assert not verify(vk, Proof(proof.pi_c, proof.pi_b, proof.pi_a, proof.public_signals))
    assert not verify(vk, Proof(_neg1(proof.pi_a), proof.pi_b, proof.pi_c, proof.public_signals))
    assert not verify(vk, Proof(proof.pi_a, proof.pi_b, proof.pi_c, [x + BN254_R]))


def test_verify_refuses_identity_and_points_outside_g2() -> None:
    vk, proof = _toy_key_and_proof()
    for tampered in (
        Proof(G1_INFINITY, proof.pi_b, proof.pi_c, proof.public_signals),
        Proof(proof.pi_a, G2_INFINITY, proof.pi_c, proof.public_signals),
        Proof(G1_INFINITY, G2_INFINITY, G1_INFINITY, proof.public_signals),
        Proof((1, 3), proof.pi_b, proof.pi_c, proof.public_signals),  # off the curve
    ):
        assert not verify(vk, tampered)
    params = CURVES["bn254_g2"]
    rng = random.Random(5)
    outside = random_curve_point("bn254_g2", rng)
    while in_subgroup(params, outside):
        outside = random_curve_point("bn254_g2", rng)
    assert not verify(vk, Proof(proof.pi_a, outside, proof.pi_c, proof.public_signals))

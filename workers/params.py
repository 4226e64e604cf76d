"""Field and curve constants shared by every backend (DESIGN §4).

Points are affine ``(x, y)`` tuples of canonical integers; ``(0, 0)`` is the
point at infinity, as in the Ethereum precompiles (EIP-196).  The constants
are checked at import time so a typo cannot silently produce wrong proofs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldParams:
    """A prime field with a large power-of-two subgroup (for NTTs)."""

    name: str
    modulus: int
    generator: int
    """Multiplicative generator of the whole group ``F_p^*``."""
    two_adicity: int
    """Largest ``k`` with ``2^k | p - 1``: the biggest NTT has size ``2^k``."""

    def root_of_unity(self, size: int) -> int:
        """``omega = g^((p - 1) / size)``, a primitive ``size``-th root of unity."""
        return pow(self.generator, (self.modulus - 1) // size, self.modulus)


@dataclass(frozen=True)
class CurveParams:
    """A short-Weierstrass curve ``y^2 = x^3 + a x + b`` over ``F_p``."""

    name: str
    base_modulus: int
    a: int
    b: int
    order: int
    """Order ``r`` of the prime subgroup; scalars live in ``[0, r)``."""
    cofactor: int
    generator: tuple[int, int]
    scalar_field: str
    """Name of the scalar field in :data:`FIELDS`."""


BN254_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
BLS12_381_R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
"""Order of the BLS12-381 prime subgroup (its scalar field), 255 bits."""
GOLDILOCKS_P = (1 << 64) - (1 << 32) + 1
"""The Goldilocks prime of Polygon's Plonky2."""
BABYBEAR_P = 15 * (1 << 27) + 1
"""The BabyBear prime of RISC Zero."""

FIELDS: dict[str, FieldParams] = {
    "bn254_fr": FieldParams("bn254_fr", BN254_R, 5, 28),
    "bls12_381_fr": FieldParams("bls12_381_fr", BLS12_381_R, 7, 32),
    "goldilocks": FieldParams("goldilocks", GOLDILOCKS_P, 7, 32),
    "babybear": FieldParams("babybear", BABYBEAR_P, 31, 27),
}

CURVES: dict[str, CurveParams] = {
    "bn254_g1": CurveParams(
        name="bn254_g1",
        base_modulus=BN254_P,
        a=0,
        b=3,
        order=BN254_R,
        cofactor=1,
        generator=(1, 2),
        scalar_field="bn254_fr",
    ),
}

INFINITY: tuple[int, int] = (0, 0)


def _check_params() -> None:
    for field in FIELDS.values():
        p = field.modulus
        assert (p - 1) % (1 << field.two_adicity) == 0, field.name
        assert ((p - 1) >> field.two_adicity) % 2 == 1, field.name
        # g is a generator: g^((p-1)/2) = -1 is necessary for every 2-power root.
        assert pow(field.generator, (p - 1) // 2, p) == p - 1, field.name
    for curve in CURVES.values():
        p = curve.base_modulus
        x, y = curve.generator
        assert (y * y - (x * x * x + curve.a * x + curve.b)) % p == 0, curve.name
        assert curve.scalar_field in FIELDS and FIELDS[curve.scalar_field].modulus == curve.order


_check_params()

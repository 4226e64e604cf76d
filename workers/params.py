"""Field and curve constants shared by every backend (docs/architecture.md §4).

Points are affine ``(x, y)`` tuples of canonical integers; ``(0, 0)`` is the
point at infinity, as in the Ethereum precompiles (EIP-196).  On the G2 curves
(``degree`` 2) every coordinate is a pair ``(c0, c1)`` for ``c0 + c1·u`` in
``F_p² = F_p[u]/(u² + 1)`` and infinity is ``((0, 0), (0, 0))``.  The constants
are checked at import time so a typo cannot silently produce wrong proofs.

Sources: BN254 ("alt_bn128") as in EIP-196/197 and py_ecc ``optimized_bn128``;
BLS12-381 as in the IETF draft *draft-irtf-cfrg-pairing-friendly-curves*, §4.2.1
(and py_ecc ``optimized_bls12_381``); the G2 curves are the sextic twists
``y² = x³ + 3/(9 + u)`` (BN254, D-type) and ``y² = x³ + 4(1 + u)`` (BLS12-381, M-type).
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


Coordinate = int | tuple[int, int]
"""An ``F_p`` integer, or an ``F_p²`` pair ``(c0, c1)``."""


@dataclass(frozen=True)
class CurveParams:
    """A short-Weierstrass curve ``y^2 = x^3 + a x + b`` over ``F_p`` or ``F_p²``."""

    name: str
    base_modulus: int
    a: Coordinate
    b: Coordinate
    order: int
    """Order ``r`` of the prime subgroup; scalars live in ``[0, r)``."""
    cofactor: int
    generator: tuple[Coordinate, Coordinate]
    scalar_field: str
    """Name of the scalar field in :data:`FIELDS`."""
    degree: int = 1
    """Extension degree of the coordinates: 1 (``F_p``, G1) or 2 (``F_p²``, G2)."""

    @property
    def infinity(self) -> tuple[Coordinate, Coordinate]:
        """The point at infinity: ``(0, 0)``, or ``((0, 0), (0, 0))`` on a G2 curve."""
        return INFINITY if self.degree == 1 else INFINITY_G2


BN254_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
BN254_G2_COFACTOR = 2 * BN254_P - BN254_R
"""``#E'(F_p²) / r`` of the BN254 twist."""
BLS12_381_P = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
    16,
)
"""The 381-bit BLS12-381 base field prime."""
BLS12_381_R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
"""Order of the BLS12-381 prime subgroup (its scalar field), 255 bits."""
BLS12_381_X = -0xD201000000010000
"""The BLS12-381 curve parameter ``x`` (``p`` and ``r`` are polynomials in it)."""
BLS12_381_G1_COFACTOR = 0x396C8C005555E1568C00AAAB0000AAAB
BLS12_381_G2_COFACTOR = int(
    "5d543a95414e7f1091d50792876a202cd91de4547085abaa68a205b2e5a7ddfa628f1cb4d9e82ef21537e2"
    "93a6691ae1616ec6e786f0c70cf1c38e31c7238e5",
    16,
)
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
    "bn254_g2": CurveParams(
        name="bn254_g2",
        base_modulus=BN254_P,
        a=(0, 0),
        b=(
            19485874751759354771024239261021720505790618469301721065564631296452457478373,
            266929791119991161246907387137283842545076965332900288569378510910307636690,
        ),
        order=BN254_R,
        cofactor=BN254_G2_COFACTOR,
        generator=(
            (
                10857046999023057135944570762232829481370756359578518086990519993285655852781,
                11559732032986387107991004021392285783925812861821192530917403151452391805634,
            ),
            (
                8495653923123431417604973247489272438418190587263600148770280649306958101930,
                4082367875863433681332203403145435568316851327593401208105741076214120093531,
            ),
        ),
        scalar_field="bn254_fr",
        degree=2,
    ),
    "bls12_381_g1": CurveParams(
        name="bls12_381_g1",
        base_modulus=BLS12_381_P,
        a=0,
        b=4,
        order=BLS12_381_R,
        cofactor=BLS12_381_G1_COFACTOR,
        generator=(
            int(
                "17f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1ae"
                "ffb3af00adb22c6bb",
                16,
            ),
            int(
                "08b3f481e3aaa0f1a09e30ed741d8ae4fcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae"
                "40caa232946c5e7e1",
                16,
            ),
        ),
        scalar_field="bls12_381_fr",
    ),
    "bls12_381_g2": CurveParams(
        name="bls12_381_g2",
        base_modulus=BLS12_381_P,
        a=(0, 0),
        b=(4, 4),
        order=BLS12_381_R,
        cofactor=BLS12_381_G2_COFACTOR,
        generator=(
            (
                int(
                    "024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bb"
                    "efd48056c8c121bdb8",
                    16,
                ),
                int(
                    "13e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d"
                    "57e5ac7d055d042b7e",
                    16,
                ),
            ),
            (
                int(
                    "0ce5d527727d6e118cc9cdc6da2e351aadfd9baa8cbdd3a76d429a695160d12c923ac9cc3baca2"
                    "89e193548608b82801",
                    16,
                ),
                int(
                    "0606c4a02ea734cc32acd2b02bc28b99cb3e287e85a763af267492ab572e99ab3f370d275cec1d"
                    "a1aaa9075ff05f79be",
                    16,
                ),
            ),
        ),
        scalar_field="bls12_381_fr",
        degree=2,
    ),
}

INFINITY: tuple[int, int] = (0, 0)
INFINITY_G2: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))


def _fp2_mul(a: tuple[int, int], b: tuple[int, int], p: int) -> tuple[int, int]:
    return ((a[0] * b[0] - a[1] * b[1]) % p, (a[0] * b[1] + a[1] * b[0]) % p)


def _on_curve(curve: CurveParams, point: tuple[Coordinate, Coordinate]) -> bool:
    p = curve.base_modulus
    x, y = point
    if curve.degree == 1:
        return (y * y - (x * x * x + curve.a * x + curve.b)) % p == 0  # type: ignore[operator]
    lhs = _fp2_mul(y, y, p)  # type: ignore[arg-type]
    x3 = _fp2_mul(_fp2_mul(x, x, p), x, p)  # type: ignore[arg-type]
    ax = _fp2_mul(curve.a, x, p)  # type: ignore[arg-type]
    rhs = tuple((x3[k] + ax[k] + curve.b[k]) % p for k in range(2))  # type: ignore[index]
    return lhs == rhs


def _check_params() -> None:
    for field in FIELDS.values():
        p = field.modulus
        assert (p - 1) % (1 << field.two_adicity) == 0, field.name
        assert ((p - 1) >> field.two_adicity) % 2 == 1, field.name
        # g is a generator: g^((p-1)/2) = -1 is necessary for every 2-power root.
        assert pow(field.generator, (p - 1) // 2, p) == p - 1, field.name
    for curve in CURVES.values():
        assert _on_curve(curve, curve.generator), curve.name
        assert curve.scalar_field in FIELDS and FIELDS[curve.scalar_field].modulus == curve.order
        assert curve.base_modulus % 4 == 3, curve.name  # u² = −1 defines F_p², sqrt by a power
    # BLS12 family: p = (x − 1)²(x⁴ − x² + 1)/3 + x, r = x⁴ − x² + 1, #E(F_p) = p + 1 − (x + 1).
    x = BLS12_381_X
    assert x**4 - x**2 + 1 == BLS12_381_R
    assert (x - 1) ** 2 * BLS12_381_R // 3 + x == BLS12_381_P
    assert BLS12_381_P - x == BLS12_381_G1_COFACTOR * BLS12_381_R
    # G2 cofactor of BLS12 curves (Budroni and Pintore, ePrint 2017/419, §3.1 / the IETF draft).
    h2 = x**8 - 4 * x**7 + 5 * x**6 - 4 * x**4 + 6 * x**3 - 4 * x**2 - 4 * x + 13
    assert h2 == 9 * BLS12_381_G2_COFACTOR


_check_params()

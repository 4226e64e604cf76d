"""Plain-integer affine arithmetic on short-Weierstrass curves.

Slow but obviously right: used to combine partial MSM results on the head
(a handful of additions per job), to build demo inputs and as a readable
reference next to the numba kernels.  Formulas: the chord-and-tangent law,
e.g. Hankerson, Menezes, Vanstone, *Guide to Elliptic Curve Cryptography*,
§3.1.2.  ``(0, 0)`` is the point at infinity (DESIGN §4).
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from workers.params import CURVES, INFINITY, CurveParams

Point = tuple[int, int]


def is_on_curve(curve: CurveParams, point: Point) -> bool:
    """True for the point at infinity and for affine points satisfying the equation."""
    if point == INFINITY:
        return True
    x, y = point
    p = curve.base_modulus
    if not (0 <= x < p and 0 <= y < p):
        return False
    return (y * y - (x * x * x + curve.a * x + curve.b)) % p == 0


def point_neg(curve: CurveParams, point: Point) -> Point:
    if point == INFINITY:
        return INFINITY
    x, y = point
    return (x, (-y) % curve.base_modulus)


def point_add(curve: CurveParams, left: Point, right: Point) -> Point:
    """Affine addition, handling infinity, doubling and ``P + (-P)``."""
    if left == INFINITY:
        return right
    if right == INFINITY:
        return left
    p = curve.base_modulus
    x1, y1 = left
    x2, y2 = right
    if x1 == x2:
        if (y1 + y2) % p == 0:
            return INFINITY
        slope = (3 * x1 * x1 + curve.a) * pow(2 * y1, -1, p) % p
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, p) % p
    x3 = (slope * slope - x1 - x2) % p
    y3 = (slope * (x1 - x3) - y1) % p
    return (x3, y3)


def scalar_mul(curve: CurveParams, point: Point, scalar: int) -> Point:
    """Left-to-right double-and-add (not constant time: inputs here are public)."""
    result = INFINITY
    for bit in bin(scalar % curve.order)[2:] if scalar else "":
        result = point_add(curve, result, result)
        if bit == "1":
            result = point_add(curve, result, point)
    return result


def sum_points(curve_name: str, points: Iterable[Point]) -> Point:
    """Sum of affine points on the named curve."""
    curve = CURVES[curve_name]
    total = INFINITY
    for point in points:
        total = point_add(curve, total, point)
    return total


def naive_msm(curve_name: str, points: Iterable[Point], scalars: Iterable[int]) -> Point:
    """``Σ scalars[i] · points[i]`` by one scalar multiplication per term."""
    curve = CURVES[curve_name]
    return sum_points(
        curve_name, (scalar_mul(curve, p, k) for p, k in zip(points, scalars, strict=True))
    )


def random_points(curve_name: str, count: int, rng: random.Random) -> list[Point]:
    """``count`` independent uniform points: random ``x`` until ``x³ + ax + b`` is a square.

    The square root is ``rhs^((p + 1) / 4)``, valid because ``p ≡ 3 (mod 4)`` on
    the supported curves.  Only for curves with cofactor 1 (every point is in
    the prime-order group).
    """
    curve = CURVES[curve_name]
    p = curve.base_modulus
    if p % 4 != 3 or curve.cofactor != 1:
        raise ValueError(f"random_points supports p ≡ 3 (mod 4), cofactor 1; not {curve_name}")
    points: list[Point] = []
    while len(points) < count:
        x = rng.randrange(p)
        rhs = (x * x * x + curve.a * x + curve.b) % p
        y = pow(rhs, (p + 1) // 4, p)
        if y * y % p == rhs:
            points.append((x, y if rng.getrandbits(1) else (-y) % p))
    return points

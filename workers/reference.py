"""Plain-integer affine arithmetic on short-Weierstrass curves over ``F_p`` and ``F_p²``.

Slow but obviously right: used to combine partial MSM results on the head
(a handful of additions per job), to build demo and test inputs and as a
readable reference next to the numba kernels.  Formulas: the chord-and-tangent
law, e.g. Hankerson, Menezes, Vanstone, *Guide to Elliptic Curve Cryptography*,
§3.1.2.  ``(0, 0)`` is the point at infinity (docs/architecture.md §4); on the G2 curves a
coordinate is a pair ``(c0, c1)`` for ``c0 + c1·u`` with ``u² = −1`` and
infinity is ``((0, 0), (0, 0))``.  Square roots use ``p ≡ 3 (mod 4)``: in
``F_p`` ``a^((p+1)/4)``, in ``F_p²`` the "complex method" through the norm
(Adj and Rodríguez-Henríquez, "Square root computation over even extension
fields", IEEE TC 63(11), 2014, §3 — Scott's variant).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from workers.params import CURVES, CurveParams

Point = tuple[Any, Any]
"""An affine point: ``(x, y)`` of ints, or of ``(c0, c1)`` pairs on a G2 curve."""

# --- F_p and F_p² on plain integers (an element is an int or a pair) ------------------------


def f_add(a: Any, b: Any, p: int) -> Any:
    if isinstance(a, tuple):
        return ((a[0] + b[0]) % p, (a[1] + b[1]) % p)
    return (a + b) % p


def f_sub(a: Any, b: Any, p: int) -> Any:
    if isinstance(a, tuple):
        return ((a[0] - b[0]) % p, (a[1] - b[1]) % p)
    return (a - b) % p


def f_mul(a: Any, b: Any, p: int) -> Any:
    if isinstance(a, tuple):
        return ((a[0] * b[0] - a[1] * b[1]) % p, (a[0] * b[1] + a[1] * b[0]) % p)
    return a * b % p


def f_small(k: int, like: Any, p: int) -> Any:
    """The integer ``k`` as an element of the same field as ``like``."""
    return (k % p, 0) if isinstance(like, tuple) else k % p


def f_inv(a: Any, p: int) -> Any:
    """``a⁻¹``; in ``F_p²`` ``(a0 − a1·u) / (a0² + a1²)``."""
    if isinstance(a, tuple):
        t = pow(a[0] * a[0] + a[1] * a[1], -1, p)
        return (a[0] * t % p, -a[1] * t % p)
    return pow(a, -1, p)


def f_is_zero(a: Any) -> bool:
    return a == (0, 0) if isinstance(a, tuple) else a == 0


def f_sqrt(a: Any, p: int) -> Any | None:
    """A square root of ``a`` (``p ≡ 3 mod 4``), or ``None`` if ``a`` is not a square."""
    if not isinstance(a, tuple):
        y = pow(a, (p + 1) // 4, p)
        return y if y * y % p == a % p else None
    a0, a1 = a
    if a1 == 0:
        root = f_sqrt(a0, p)
        if root is not None:
            return (root, 0)
        root = f_sqrt(-a0 % p, p)  # √(−a0) · u squares to a0
        return None if root is None else (0, root)
    norm_root = f_sqrt((a0 * a0 + a1 * a1) % p, p)
    if norm_root is None:
        return None
    half = pow(2, -1, p)
    for sign in (1, -1):
        x0 = f_sqrt((a0 + sign * norm_root) * half % p, p)
        if x0:
            candidate = (x0, a1 * pow(2 * x0, -1, p) % p)
            if f_mul(candidate, candidate, p) == (a0 % p, a1 % p):
                return candidate
    return None


# --- points ---------------------------------------------------------------------------------


def _in_range(value: Any, p: int) -> bool:
    if isinstance(value, tuple):
        return len(value) == 2 and all(isinstance(v, int) and 0 <= v < p for v in value)
    return isinstance(value, int) and 0 <= value < p


def curve_rhs(curve: CurveParams, x: Any) -> Any:
    """``x³ + a·x + b``."""
    p = curve.base_modulus
    return f_add(f_add(f_mul(f_mul(x, x, p), x, p), f_mul(curve.a, x, p), p), curve.b, p)


def is_on_curve(curve: CurveParams, point: Point) -> bool:
    """True for the point at infinity and for affine points satisfying the equation."""
    if point == curve.infinity:
        return True
    x, y = point
    p = curve.base_modulus
    if not (_in_range(x, p) and _in_range(y, p)):
        return False
    if isinstance(x, tuple) != (curve.degree == 2):
        return False
    return f_mul(y, y, p) == curve_rhs(curve, x)


def point_neg(curve: CurveParams, point: Point) -> Point:
    if point == curve.infinity:
        return point
    x, y = point
    p = curve.base_modulus
    return (x, f_sub(f_small(0, y, p), y, p))


def point_add(curve: CurveParams, left: Point, right: Point) -> Point:
    """Affine addition, handling infinity, doubling and ``P + (-P)``."""
    infinity = curve.infinity
    if left == infinity:
        return right
    if right == infinity:
        return left
    p = curve.base_modulus
    x1, y1 = left
    x2, y2 = right
    if x1 == x2:
        if f_is_zero(f_add(y1, y2, p)):
            return infinity
        three_xx = f_mul(f_small(3, x1, p), f_mul(x1, x1, p), p)
        slope = f_mul(f_add(three_xx, curve.a, p), f_inv(f_add(y1, y1, p), p), p)
    else:
        slope = f_mul(f_sub(y2, y1, p), f_inv(f_sub(x2, x1, p), p), p)
    x3 = f_sub(f_sub(f_mul(slope, slope, p), x1, p), x2, p)
    y3 = f_sub(f_mul(slope, f_sub(x1, x3, p), p), y1, p)
    return (x3, y3)


def scalar_mul(curve: CurveParams, point: Point, scalar: int) -> Point:
    """Left-to-right double-and-add (not constant time: inputs here are public).

    The scalar is reduced mod ``r``: only valid for points of the prime-order
    subgroup (see :func:`scalar_mul_raw` otherwise).
    """
    return scalar_mul_raw(curve, point, scalar % curve.order)


def scalar_mul_raw(curve: CurveParams, point: Point, scalar: int) -> Point:
    """``scalar·P`` for any non-negative ``scalar`` and any point of the curve."""
    result = curve.infinity
    for bit in bin(scalar)[2:] if scalar else "":
        result = point_add(curve, result, result)
        if bit == "1":
            result = point_add(curve, result, point)
    return result


def in_subgroup(curve: CurveParams, point: Point) -> bool:
    """``r·P = O``: membership of the prime-order subgroup."""
    return scalar_mul_raw(curve, point, curve.order) == curve.infinity


def sum_points(curve_name: str, points: Iterable[Point]) -> Point:
    """Sum of affine points on the named curve."""
    curve = CURVES[curve_name]
    total = curve.infinity
    for point in points:
        total = point_add(curve, total, point)
    return total


def naive_msm(curve_name: str, points: Iterable[Point], scalars: Iterable[int]) -> Point:
    """``Σ scalars[i] · points[i]`` by one scalar multiplication per term."""
    curve = CURVES[curve_name]
    return sum_points(
        curve_name, (scalar_mul(curve, p, k) for p, k in zip(points, scalars, strict=True))
    )


def random_curve_point(curve_name: str, rng: random.Random) -> Point:
    """A uniformly random point of the whole curve (not cleared of the cofactor)."""
    curve = CURVES[curve_name]
    p = curve.base_modulus
    while True:
        x = rng.randrange(p) if curve.degree == 1 else (rng.randrange(p), rng.randrange(p))
        y = f_sqrt(curve_rhs(curve, x), p)
        if y is not None:
            return (x, y if rng.getrandbits(1) else f_sub(f_small(0, y, p), y, p))


def random_points(curve_name: str, count: int, rng: random.Random) -> list[Point]:
    """``count`` independent uniform points of the prime-order subgroup.

    Cofactor 1 (``bn254_g1``): a random ``x`` until ``x³ + ax + b`` is a square,
    the square root being ``rhs^((p + 1) / 4)`` (``p ≡ 3 mod 4``).  Otherwise a
    random multiple ``k·G`` of the generator (slow on G2: tens of ms a point).
    """
    curve = CURVES[curve_name]
    if curve.cofactor != 1:
        return [
            scalar_mul(curve, curve.generator, rng.randrange(1, curve.order)) for _ in range(count)
        ]
    p = curve.base_modulus
    if p % 4 != 3:
        raise ValueError(f"random_points supports p ≡ 3 (mod 4); not {curve_name}")
    points: list[Point] = []
    while len(points) < count:
        x = rng.randrange(p)
        rhs = (x * x * x + curve.a * x + curve.b) % p  # type: ignore[operator]
        y = pow(rhs, (p + 1) // 4, p)
        if y * y % p == rhs:
            points.append((x, y if rng.getrandbits(1) else (-y) % p))
    return points

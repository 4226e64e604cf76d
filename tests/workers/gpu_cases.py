"""Shared inputs for the GPU-backend tests (host build and real device)."""

from __future__ import annotations

import random

from workers.params import BN254_P, BN254_R, FIELDS

INF = (0, 0)
MSM_SIZES = (1, 2, 17, 256)
NTT_LOG_SIZES = tuple(range(11))
GPU_FIELDS = ("bn254_fr", "bls12_381_fr")


def random_point(rng: random.Random) -> tuple[int, int]:
    """A random point of BN254 G1 (cofactor 1), by a square root (p ≡ 3 mod 4)."""
    while True:
        x = rng.randrange(BN254_P)
        rhs = (x * x * x + 3) % BN254_P
        y = pow(rhs, (BN254_P + 1) // 4, BN254_P)
        if y * y % BN254_P == rhs:
            return (x, y if rng.random() < 0.5 else BN254_P - y)


def msm_case(n: int, seed: int) -> tuple[list[tuple[int, int]], list[int]]:
    """``n`` terms with zero scalars, ``r − 1``, infinity, repeated and opposite points."""
    rng = random.Random(seed)
    pool = [random_point(rng) for _ in range(max(1, n // 4))]
    points = [rng.choice(pool) for _ in range(n)]
    scalars = [rng.randrange(BN254_R) for _ in range(n)]
    if n >= 2:
        scalars[0] = 0
        points[1] = INF
    if n >= 17:
        scalars[2] = BN254_R - 1
        scalars[3] = 1
        points[4] = points[5]
        scalars[4] = scalars[5]  # the same term twice: the bucket doubles
        points[6] = (points[7][0], BN254_P - points[7][1])
        scalars[6] = scalars[7]  # P and −P with one scalar: the bucket empties
    return points, scalars


def ntt_values(field: str, n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    p = FIELDS[field].modulus
    return [rng.randrange(p) for _ in range(n)]

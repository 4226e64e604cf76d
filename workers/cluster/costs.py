"""The cost table: how many work units a chunk is worth (docs/architecture.md §6).

Credit never comes from what a worker says about itself; it is a function of
the chunk's *shape* only, so every honest node that computes the same chunk
earns the same.  One work unit is roughly one 256-bit Montgomery
multiplication on the CPU.

=====================  ===========================================================
chunk                  work units
=====================  ===========================================================
MSM, ``m`` points      ``m × MSM_POINT_WEIGHT[curve]``
NTT, ``count`` × size  ``count × size × (log2(size) + twiddled) × NTT_WEIGHT[field]``
=====================  ===========================================================

``MSM_POINT_WEIGHT``: a Pippenger MSM over 254-bit scalars costs about
``⌈254 / c⌉`` mixed additions per point (c ≈ 13 at 2^16 points, so ≈ 20),
each about 11 field multiplications: ≈ 220, rounded to 240 to cover bucket
reduction.  The other curves scale that by their measured CPU time per point
relative to ``bn254_g1`` (``msm_limbs``, 2^14 points, one thread, process CPU
time on the 2-core development machine): ``bls12_381_g1`` 1.8× (six-limb
``F_p``: 440), ``bn254_g2`` 2.8× (``F_p²`` over four limbs, Karatsuba: 680),
``bls12_381_g2`` 5.75× (1380).  ``NTT_WEIGHT``: a radix-2 butterfly is one multiplication; a
slice that also applies the four-step twiddles pays one more multiplication
per element (``twiddled`` = 1).  Every chunk is worth at least one unit.

``NTT_WEIGHT`` per field is the cost of one radix-2 butterfly relative to a
BN254 one (≈ 35 ns: one 4-limb Montgomery multiplication plus an addition and
a subtraction), measured with ``ntt_limbs`` at 2^20 on one core of the 2-core
development machine: ``bls12_381_fr`` runs the same 4-limb code (≈ 35 ns,
weight 1), ``goldilocks`` ≈ 5 ns (one 64×64→128-bit product and the
``2^64 − 2^32 + 1`` reduction, weight 1/8) and ``babybear`` ≈ 2.8 ns (a 31-bit
Montgomery product on one word, weight 1/12).  Weights are exact fractions and
the product is rounded up to whole units.
"""

from __future__ import annotations

import math
from fractions import Fraction

MSM_POINT_WEIGHT: dict[str, int] = {
    "bn254_g1": 240,
    "bls12_381_g1": 440,
    "bn254_g2": 680,
    "bls12_381_g2": 1380,
}
NTT_WEIGHT: dict[str, Fraction] = {
    "bn254_fr": Fraction(1),
    "bls12_381_fr": Fraction(1),
    "goldilocks": Fraction(1, 8),
    "babybear": Fraction(1, 12),
}


def msm_work_units(curve: str, n_points: int) -> int:
    """Work units of an MSM chunk of ``n_points`` bases."""
    return max(1, n_points * MSM_POINT_WEIGHT[curve])


def ntt_work_units(field: str, size: int, count: int, *, twiddled: bool = False) -> int:
    """Work units of ``count`` independent NTTs of ``size`` (plus twiddles if ``twiddled``)."""
    log_size = size.bit_length() - 1
    return max(1, math.ceil(count * size * (log_size + int(twiddled)) * NTT_WEIGHT[field]))

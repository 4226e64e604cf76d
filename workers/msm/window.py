"""The window rule of the bucket method: its cost model, written down once for every curve.

Pippenger's algorithm (N. Pippenger, "On the evaluation of powers and related
problems", FOCS 1976) in the bucket form of Bernstein, Doumen, Lange and
Oosterwijk ("Faster batch forgery identification", INDOCRYPT 2012) cuts each
scalar into ``W = ⌈(256 + 1) / c⌉`` signed ``c``-bit digits
(:mod:`workers.msm.digits`) and spends, per window, one mixed addition per term
and two additions per bucket for the running sums.  With ``n`` terms the cost
in field multiplications is modelled as ::

    cost(c) = ⌈257 / c⌉ · (n · MADD_COST + 2 · 2^(c−1) · ADD_COST)

(``MADD_COST = 10``: the XYZZ mixed addition ``madd-2008-s``, 8M + 2S;
``ADD_COST = 14``: ``add-2008-s``, 12M + 2S — see :mod:`workers.msm.xyzz`).
The ``≈ 256`` doublings of the final Horner combination and the ``W·n`` digit
extractions hardly depend on ``c`` and are left out.  The window ``c`` is the
minimiser over ``1 ≤ c ≤`` :func:`max_window`: the first term shrinks like
``1/c`` and the second grows like ``2^c / c``, so ``c`` grows roughly like
``log₂ n − log₂ log₂ n`` (``c = 6`` at ``n = 2^8``, ``13`` at ``2^16``, ``16``
at ``2^20``) — the trade-off gnark-crypto's ``bestC`` makes.  Measured on one
core at ``n = 2^18`` (BN254 G1), the wall time is ``cost(c) × 26…30 ns`` for
``c`` = 12…16 and the model's choice was within 3 % of the best measured ``c``.

The ratio of mixed to general additions is the same over ``F_p²`` (every
multiplication there costs three) and with batch-affine buckets (measured at
2^16 on ``bls12_381_g1``: c = 11, 12, 13, 14 → 0.86, 0.83, 0.81, 0.88 s; the
rule picks 13), so one rule serves all four curves.  Two caps: ``c ≤``
:data:`C_MAX`, and one thread's ``2^(c−1)`` XYZZ buckets within
:data:`BUCKET_BYTES_MAX` (about a server core's L2 cache; wider windows pay
cache misses the model does not count): ``c ≤ 16`` on BN254 G1, ``15`` on
BLS12-381 G1 and BN254 G2, ``14`` on BLS12-381 G2.

With ``threads > 1`` the windows are shared out among the threads in
contiguous ranges (:mod:`workers.msm.pippenger`), so the wall time follows the
busiest thread: ``⌈W / threads⌉`` windows' worth of the cost instead of ``W``'s.

See ``docs/architecture.md`` §5.
"""

from __future__ import annotations

SCALAR_BITS = 256
"""Scalars are read as 256-bit integers (canonical ones are below ``r < 2^255``)."""
C_MAX = 16
"""Widest window, whatever the point size."""
MADD_COST = 10
"""Field multiplications of a mixed XYZZ addition (8M + 2S)."""
ADD_COST = 14
"""Field multiplications of a general XYZZ addition (12M + 2S)."""
BUCKET_BYTES_MAX = 4 << 20
"""Largest XYZZ bucket array of one thread (about a server core's L2 cache)."""
BN254_G1_POINT_WORDS = 8
"""``uint64`` words of an affine BN254 G1 point (``x‖y``, four limbs each): the default size."""


def n_windows(c: int, scalar_bits: int = SCALAR_BITS) -> int:
    """Signed ``c``-bit digits of a ``scalar_bits``-bit scalar (plus one bit for the carry)."""
    return -(-(scalar_bits + 1) // c)


def msm_cost(n: int, c: int, scalar_bits: int = SCALAR_BITS) -> int:
    """Modelled field multiplications of an ``n``-term MSM with window ``c`` (module doc)."""
    return n_windows(c, scalar_bits) * (n * MADD_COST + 2 * (1 << (c - 1)) * ADD_COST)


def max_window(point_words: int = BN254_G1_POINT_WORDS) -> int:
    """Largest ``c`` whose ``2^(c−1)`` XYZZ buckets fit :data:`BUCKET_BYTES_MAX`.

    ``point_words`` counts the ``uint64`` words of an affine point ``x‖y``; an
    XYZZ bucket holds twice as many.
    """
    bucket_bytes = 8 * 2 * point_words
    c = 1
    while c < C_MAX and (1 << c) * bucket_bytes <= BUCKET_BYTES_MAX:
        c += 1
    return c


def window_size(
    n: int,
    threads: int = 1,
    point_words: int = BN254_G1_POINT_WORDS,
    scalar_bits: int = SCALAR_BITS,
) -> int:
    """The window ``c`` minimising the busiest thread's :func:`msm_cost` (the smaller on ties)."""

    def cost(c: int) -> tuple[int, int]:
        windows = n_windows(c, scalar_bits)
        per_window = msm_cost(n, c, scalar_bits) // windows
        return (-(-windows // threads) * per_window, c)

    return min(range(1, max_window(point_words) + 1), key=cost)

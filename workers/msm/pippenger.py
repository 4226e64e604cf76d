"""Multi-scalar multiplication ``Q = Σ kᵢ·Pᵢ`` on any of the four curves, in numba.

The algorithm is Pippenger's (N. Pippenger, "On the evaluation of powers and
related problems", FOCS 1976) in the bucket form used for elliptic curves by
Bernstein, Doumen, Lange and Oosterwijk ("Faster batch forgery
identification", INDOCRYPT 2012) and laid out in arkworks
(``ec/src/scalar_mul/variable_base``) and gnark-crypto (``ecc/bn254/multiexp.go``):

1. Drop the terms with a zero scalar or a base at infinity.
2. Cut every scalar into ``W`` signed ``c``-bit digits (:mod:`workers.msm.digits`),
   ``c`` from the window rule of :mod:`workers.msm.window`.
3. For each window, add every ``±Pᵢ`` to its bucket and form ``S_w = Σ_j j·B_j``
   (:mod:`workers.msm.buckets`: XYZZ buckets, or batch-affine ones from
   :data:`BATCH_AFFINE_TERMS` terms on).
4. ``Q = Σ_w 2^(w·c)·S_w`` by Horner's rule from the top window.

Everything is written once over the generic field operations of
:mod:`workers.fields.generic` with the XYZZ formulas of :mod:`workers.msm.xyzz`;
numba compiles one specialisation per element type (``F_p`` on four or six
limbs, ``F_p²`` over either), so ``bn254_g1``, ``bls12_381_g1``, ``bn254_g2``
and ``bls12_381_g2`` run the same source.

Threads (:func:`workers.fields.mont4.kernel_threads`): from
:data:`PARALLEL_MIN_TERMS` terms on, the windows are split into contiguous
ranges, one per thread, each with its own bucket array (the carries into a
range's first window are recomputed from the digits below it); the ranges run
as ``nogil`` kernels on Python threads, and the window rule counts
``⌈W / threads⌉`` windows.  (A numba ``prange`` cannot pass the tuple field
descriptor into its outlined gufunc.)  One thread runs the kernel directly.

Measured on one core (process CPU time, 2^16 terms), batch-affine against
XYZZ buckets: ``bn254_g1`` 0.49 → 0.40 s, ``bls12_381_g1`` 0.95 → 0.81 s,
``bn254_g2`` 1.44 → 1.07 s, ``bls12_381_g2`` 2.82 → 2.18 s; at 2^12 it is a
wash and at 2^10 no better, hence the 2^13 threshold.

The input checks (on the curve, in the subgroup) are in :mod:`workers.msm.checks`.
See ``docs/architecture.md`` §5.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from workers.codec.limb_arrays import limbs_to_point
from workers.fields.generic import from_mont_rows
from workers.fields.mont4 import kernel_threads
from workers.msm.buckets import combine_windows, window_sums_batch_affine, window_sums_xyzz
from workers.msm.curve import kernel_array, kernel_curve, mont_rows
from workers.msm.window import n_windows, window_size

BATCH_AFFINE_TERMS = 1 << 13
"""From this many terms on, the buckets accumulate batch-affine (:mod:`workers.msm.buckets`)."""
PARALLEL_MIN_TERMS = 1 << 12
"""Below this many terms an MSM runs on one thread (threads cost more than they save)."""


def bucket_msm(
    bases: np.ndarray,
    scalars: np.ndarray,
    c: int,
    f: tuple,
    threads: int = 1,
    batch_affine: bool = False,
) -> np.ndarray:
    """``Σ scalars[i]·bases[i]`` as an affine ``(2, e)`` array in Montgomery form (zeros = ∞).

    ``bases`` is ``(n, 2e)``: ``x‖y`` in Montgomery form, all finite;
    ``scalars`` is ``(n, 4)``; ``f`` the field descriptor.  With ``threads > 1``
    the windows are split into that many contiguous ranges (at most one per
    window), each run on its own Python thread with its own buckets.
    """
    windows = n_windows(c)
    window_sums = np.zeros((windows, 2 * bases.shape[1]), dtype=np.uint64)
    kernel = window_sums_batch_affine if batch_affine else window_sums_xyzz
    threads = max(1, min(threads, windows))
    if threads == 1:
        kernel(bases, scalars, c, 0, windows, window_sums, f)
    else:

        def run(t: int) -> None:
            w0, w1 = t * windows // threads, (t + 1) * windows // threads
            kernel(bases, scalars, c, w0, w1, window_sums, f)

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(run, range(threads)))
    return combine_windows(window_sums, c, f)


def msm_to_limbs(
    curve: str, bases: np.ndarray, scalars: np.ndarray, batch_affine: bool | None = None
) -> np.ndarray:
    """Unchecked MSM on ``curve``: the affine sum as a canonical ``(2, words)`` array.

    ``bases``: ``(n, 2, words)`` canonical coordinates (or anything reshaping to
    ``(n, 2·words)``, see :func:`workers.codec.limb_arrays.points_to_limbs`),
    on the curve, infinity as zeros; ``scalars``: ``(n, 4)`` below ``2^256``
    (canonical: below ``r``).  All zeros in the result is infinity.
    ``batch_affine`` forces the bucket representation (default: by size).
    """
    kc = kernel_curve(curve)
    bases = kernel_array(bases, 2 * kc.words)
    scalars = kernel_array(scalars, 4)
    if bases.shape[0] != scalars.shape[0]:
        raise ValueError(f"{bases.shape[0]} bases but {scalars.shape[0]} scalars")
    keep = bases.any(axis=1) & scalars.any(axis=1)
    if not keep.any():
        return np.zeros((2, kc.words), dtype=np.uint64)
    if not keep.all():
        bases, scalars = bases[keep], scalars[keep]
    n = bases.shape[0]
    threads = kernel_threads() if n >= PARALLEL_MIN_TERMS else 1
    c = window_size(n, threads=threads, point_words=2 * kc.words)
    if batch_affine is None:
        batch_affine = n >= BATCH_AFFINE_TERMS
    result = bucket_msm(mont_rows(kc, bases), scalars, c, kc.f, threads, batch_affine)
    return from_mont_rows(result, kc.modulus)


def msm_limbs(curve: str, bases: np.ndarray, scalars: np.ndarray) -> tuple:
    """Unchecked MSM: ``Σ scalars[i]·bases[i]`` as an affine point of Python ints.

    Inputs as in :func:`msm_to_limbs`; the result is ``(x, y)`` on G1 and
    ``((x0, x1), (y0, y1))`` on G2, all zeros for infinity.  Nothing is
    validated here — see :func:`workers.api.validate_msm_input`.
    """
    return limbs_to_point(msm_to_limbs(curve, bases, scalars), curve)

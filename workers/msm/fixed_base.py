"""Many scalar multiples of one fixed point: 8-bit windowed tables, one mixed addition per window.

``k·G`` for a fixed generator ``G`` and many scalars ``k`` (a trusted setup's
work, :mod:`workers.groth16.setup`): the table holds ``d·2^(8j)·G`` for every
window ``j < 32`` and digit ``1 ≤ d < 256`` (8160 affine points), so with the
scalar's base-256 digits ``k = Σ d_j·2^(8j)`` the product is ``Σ_j T[j][d_j]``:
at most 32 mixed additions (:func:`workers.msm.xyzz.madd`, no doubling at
all).  The results come back affine in Montgomery form (rows ``x‖y``, zeros for
infinity), each chunk of :data:`CHUNK` points turned affine together with one
field inversion (Montgomery's simultaneous-inversion trick: P. L. Montgomery,
"Speeding the Pollard and elliptic curve methods of factorization", Math. Comp.
48 (1987), §10.3.1): in XYZZ ``ZZ = Z²`` and ``ZZZ = Z³``, so with ``u = ZZZ⁻¹``
``x = X·u²·ZZ²`` and ``y = Y·u``.

Generic over the curve through :mod:`workers.fields.generic` (BN254 and
BLS12-381, G1 and G2).  Threads: the chunks are shared out to
:func:`workers.fields.mont4.kernel_threads` Python threads running a ``nogil``
kernel (a ``prange`` cannot carry the tuple field descriptor, see
:mod:`workers.msm.pippenger`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from workers.fields.generic import fe_inv, fe_is_zero, fe_load, fe_mul, fe_sqr, fe_store
from workers.fields.mont4 import kernel_threads
from workers.msm.curve import kernel_array, kernel_curve, mont_rows
from workers.msm.xyzz import infinity, load_xyzz, madd, store_xyzz, to_affine

WINDOW_BITS = 8
WINDOWS = 32
"""Windows of a scalar below ``2^256``."""
DIGITS = 1 << WINDOW_BITS
CHUNK = 1024
"""Points turned affine with one inversion (and the unit of work of a thread)."""


@njit(cache=True)
def _build_table(base: np.ndarray, table: np.ndarray, e: int, f: tuple) -> None:
    """``table[j·256 + d] = d·2^(8j)·B`` (affine, Montgomery) for the finite affine ``base``."""
    bx = fe_load(base, 0, 0, f)
    by = fe_load(base, 0, e, f)
    for j in range(WINDOWS):
        acc = infinity(f)
        for d in range(1, DIGITS):
            acc = madd(acc, bx, by, f)
            aff = to_affine(acc, e, f)
            fe_store(table, j * DIGITS + d, fe_load(aff, 0, 0, f), 0)
            fe_store(table, j * DIGITS + d, fe_load(aff, 1, 0, f), e)
        nxt = to_affine(madd(acc, bx, by, f), e, f)  # 256·B
        bx = fe_load(nxt, 0, 0, f)
        by = fe_load(nxt, 1, 0, f)


@njit(cache=True, nogil=True)
def _mul_chunks(
    table: np.ndarray, scalars: np.ndarray, out: np.ndarray, first: int, last: int, e: int, f: tuple
) -> None:
    """``out[i] = scalars[i]·G`` for the chunks ``first ≤ c < last`` (affine, Montgomery)."""
    m = scalars.shape[0]
    tmp = np.empty((CHUNK, 4 * e), dtype=np.uint64)
    prefix = np.empty((CHUNK, e), dtype=np.uint64)
    for c in range(first, last):
        lo = c * CHUNK
        hi = min(lo + CHUNK, m)
        for i in range(lo, hi):
            acc = infinity(f)
            for j in range(WINDOWS):
                d = (scalars[i, j >> 3] >> np.uint64(8 * (j & 7))) & np.uint64(0xFF)
                if d != 0:
                    row = j * DIGITS + np.int64(d)
                    acc = madd(acc, fe_load(table, row, 0, f), fe_load(table, row, e, f), f)
            store_xyzz(tmp, i - lo, acc, e)
        running = f[2]
        for k in range(hi - lo):
            zzz = fe_load(tmp, k, 3 * e, f)
            if not fe_is_zero(zzz):
                fe_store(prefix, k, running, 0)
                running = fe_mul(running, zzz, f)
        inv = fe_inv(running, f)
        for k in range(hi - lo - 1, -1, -1):
            x, y, zz, zzz = load_xyzz(tmp, k, e, f)
            if fe_is_zero(zzz):
                for w in range(2 * e):
                    out[lo + k, w] = 0
                continue
            u = fe_mul(inv, fe_load(prefix, k, 0, f), f)
            inv = fe_mul(inv, zzz, f)
            fe_store(out, lo + k, fe_mul(x, fe_mul(fe_sqr(u, f), fe_sqr(zz, f), f), f), 0)
            fe_store(out, lo + k, fe_mul(y, u, f), e)


def generator_table(curve: str, point: np.ndarray | None = None) -> np.ndarray:
    """The ``(32·256, 2·words)`` Montgomery table of ``point`` (canonical limbs, default the
    curve's generator); row ``j·256 + d`` is ``d·2^(8j)·point``, rows ``j·256`` unused."""
    from workers.codec.limb_arrays import points_to_limbs
    from workers.params import CURVES

    kc = kernel_curve(curve)
    if point is None:
        point = points_to_limbs([CURVES[curve].generator], curve)
    base = mont_rows(kc, point)
    if not base.any():
        raise ValueError("the fixed base must be a finite point")
    table = np.zeros((WINDOWS * DIGITS, 2 * kc.words), dtype=np.uint64)
    _build_table(base, table, kc.words, kc.f)
    return table


def fixed_base_mul(curve: str, table: np.ndarray, scalars: np.ndarray) -> np.ndarray:
    """``scalars[i]·P`` for the point ``P`` of ``table`` (:func:`generator_table`).

    ``scalars``: ``(m, 4)`` ``uint64`` canonical limbs (any value below ``2^256``).
    Returns ``(m, 2·words)`` affine rows in **Montgomery form** — which is exactly
    ffjavascript's LEM encoding (snarkjs' ``.zkey``) — zeros for infinity.
    """
    kc = kernel_curve(curve)
    scalars = kernel_array(scalars, 4)
    m = scalars.shape[0]
    out = np.empty((m, 2 * kc.words), dtype=np.uint64)
    chunks = -(-m // CHUNK)
    threads = max(1, min(kernel_threads(), chunks))
    if threads == 1:
        _mul_chunks(table, scalars, out, 0, chunks, kc.words, kc.f)
        return out
    step = max(1, min(64, chunks // (4 * threads)))

    def run(first: int) -> None:
        _mul_chunks(table, scalars, out, first, min(first + step, chunks), kc.words, kc.f)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, range(0, chunks, step)))
    return out

"""Checking untrusted chunk results on the head (DESIGN §6).  No Ray here.

NTT slices: a random-point evaluation per row, O(n)
----------------------------------------------------
A slice is a block of ``r`` rows, each the NTT of size ``m`` of the matching
input row (:mod:`workers.plan`): ``O_i = s · T_i · NTT_m(A_i)`` where ``T_i`` is
the diagonal four-step twiddle ``diag(ω_n^{(o+i)·k})`` of a column slice (the
identity for a row slice) and ``s`` the inverse's ``n⁻¹`` (else 1).  Read row
``i`` as the coefficients of a polynomial and evaluate both sides at a secret
random ``σ`` drawn on the head after the result arrived (Freivalds,
"Fast probabilistic algorithms", MFCS 1979; Schwartz, J. ACM 27(4), 1980)::

    Σ_k σ^k · ω_n^{−(o+i)·k} · O_ik  ==  Σ_j u_j · A_ij,
    u_j = s · Σ_k σ^k ω_m^{jk}   (u = s · NTT_m(1, σ, σ², …): once per slice)

The left side is Horner's rule at ``x_i = σ·ω_n^{−(o+i)}`` (``x_{i+1} =
x_i·ω_n^{−1}``), the right a dot product with ``u``: one multiplication per
element on each side, so ``2·r·m`` for the slice plus one NTT of size ``m``,
against the worker's ``O(r·m log m)``.  Both run in one pass per row
(:func:`_row_evaluations`, GIL released so the scheduler can check a slice
while it keeps the nodes busy).  **Soundness**: if row ``i`` is wrong,
``D = T_i⁻¹(O_i − O_i^true)`` is nonzero (``T_i`` is invertible) and
``Σ_k D_k σ^k`` a nonzero polynomial of degree < ``m``: it vanishes for at
most ``m − 1`` of the ``p`` values of ``σ``.  A wrong slice passes with
probability at most ``(m − 1)/p``: for a 2^20 NTT (rows of ``m ≤ 2^10``)
below ``2^−20`` even on BabyBear (``p ≈ 2^31``), below ``2^−243`` on BN254.  A cheater cannot
adapt: ``σ`` is drawn after the result is in.

MSM chunks: audits by recomputation
-----------------------------------
An MSM partial sum has no cheap check, so each chunk is audited independently
with probability ``a`` (``PROVERPOOL_AUDIT_RATE``): recomputed on a node of a
different contributor and compared; a mismatch is settled by a third
computation on the head.  :func:`audit_sample` is the sampler the runner uses.
A contributor who corrupts ``c ≥ 1`` of its chunks in a job goes undetected
only if none of those ``c`` is audited::

    P(undetected) = (1 − a)^c

(:func:`undetected_probability`).  At the default ``a = 0.05`` a cheater
corrupting 10 chunks of a job escapes with probability 0.95^10 ≈ 0.60, one
corrupting 50 with ≈ 0.077, 100 with ≈ 0.0059; over ``J`` jobs the chance of
never being caught is ``(1 − a)^{Σ c}``.  Detection voids the cheater's credit
for the whole job, recomputes all its chunks elsewhere and adds a strike, so
cheating has negative expected value at any ``a > 0``; the rate trades the
verification cost (``a`` of the MSM work, run on other nodes) against how
quickly a cheater is caught.
"""

from __future__ import annotations

import random
import secrets

import numpy as np
from numba import njit

from workers import cpu_ntt
from workers.arith import (
    add,
    load,
    mont_mul,
    montgomery_constants,
    store,
    to_mont_into,
    to_montgomery_int,
    unpack,
)
from workers.encoding import ints_to_limbs
from workers.params import FIELDS

DEFAULT_AUDIT_RATE = 0.05
"""Fraction of MSM chunks recomputed on another contributor's node."""


@njit(cache=True, nogil=True)
def _row_evaluations(
    left: np.ndarray,
    right: np.ndarray,
    inputs: np.ndarray,
    outputs: np.ndarray,
    u: np.ndarray,
    x0: np.ndarray,
    beta: np.ndarray,
    consts: np.ndarray,
) -> None:
    """Per row: ``left[i] = Σ_k x_i^k·O[i][k]`` (``x_i = x0·β^i``), ``right[i] = Σ_j u_j·A[i][j]``.

    ``inputs``/``outputs`` hold canonical values, ``u``, ``x0`` and ``β``
    Montgomery ones, so every product (and both results) stays canonical.
    Horner's chain and the dot product share one loop, so their
    multiplications overlap.
    """
    p, pinv, _, _ = unpack(consts)
    x = load(x0, 0)
    b = load(beta, 0)
    z = np.uint64(0)
    m = inputs.shape[1]
    half = m // 2
    for i in range(inputs.shape[0]):
        a_row = inputs[i]
        o_row = outputs[i]
        y = mont_mul(x, x, p, pinv)
        even = (z, z, z, z)  # Σ_t O[2t]·y^t and Σ_t O[2t+1]·y^t: two independent chains
        odd = (z, z, z, z)
        d0 = (z, z, z, z)
        d1 = (z, z, z, z)
        for t in range(half - 1, -1, -1):
            even = add(mont_mul(even, y, p, pinv), load(o_row, 2 * t), p)
            odd = add(mont_mul(odd, y, p, pinv), load(o_row, 2 * t + 1), p)
            d0 = add(d0, mont_mul(load(a_row, 2 * t), load(u, 2 * t), p, pinv), p)
            d1 = add(d1, mont_mul(load(a_row, 2 * t + 1), load(u, 2 * t + 1), p, pinv), p)
        h = add(even, mont_mul(odd, x, p, pinv), p)
        d = add(d0, d1, p)
        if m % 2:  # m = 1: the row is its own NTT
            h = add(h, load(o_row, m - 1), p)
            d = add(d, mont_mul(load(a_row, m - 1), load(u, m - 1), p, pinv), p)
        store(left, i, h)
        store(right, i, d)
        x = mont_mul(x, b, p, pinv)


def _as_limbs(values: np.ndarray) -> np.ndarray:
    """A C-contiguous ``(rows, m, 4)`` uint64 copy-free view where possible."""
    arr = np.ascontiguousarray(values, dtype=np.uint64)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ValueError(f"expected a (rows, m, 4) limb array, got shape {arr.shape}")
    return arr


def row_evaluations(
    field: str,
    inputs: np.ndarray,
    outputs: np.ndarray,
    sigma: int,
    *,
    twiddle_n: int = 1,
    row_offset: int = 0,
    scale: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Both sides of the check of every row at ``σ`` (see the module docstring).

    ``(left, right)``, each ``(r, 4)`` canonical limbs; a correct slice has
    ``left == right``.  Works for every field in the ``(…, 4)`` limb layout
    (the one-word fields run the same 4-limb Montgomery code: any odd ``p``).
    """
    p = FIELDS[field].modulus
    consts = montgomery_constants(p)
    inputs = _as_limbs(inputs)
    outputs = _as_limbs(outputs)
    rows, m = inputs.shape[0], inputs.shape[1]
    sigma %= p
    powers = [1] * m
    for k in range(1, m):
        powers[k] = powers[k - 1] * sigma % p
    u_canonical = cpu_ntt.ntt_limbs(field, ints_to_limbs(powers))
    if scale is not None:
        u_canonical = cpu_ntt.scale_limbs(field, u_canonical, scale)
    u = np.empty((m, 4), dtype=np.uint64)
    to_mont_into(u, np.ascontiguousarray(u_canonical, dtype=np.uint64), consts)
    beta = pow(FIELDS[field].root_of_unity(twiddle_n), -1, p) if twiddle_n > 1 else 1
    x0 = sigma * pow(beta, row_offset % max(1, twiddle_n), p) % p
    left = np.empty((rows, 4), dtype=np.uint64)
    right = np.empty((rows, 4), dtype=np.uint64)
    _row_evaluations(
        left,
        right,
        inputs,
        outputs,
        u,
        to_montgomery_int(x0, p),
        to_montgomery_int(beta, p),
        consts,
    )
    return left, right


def random_challenge(field: str) -> int:
    """A secret uniform ``σ`` in ``[1, p)`` (drawn on the head, never shown to workers)."""
    return 1 + secrets.randbelow(FIELDS[field].modulus - 1)


def check_ntt_slice(
    field: str,
    inputs: np.ndarray,
    outputs: np.ndarray,
    *,
    twiddle_n: int | None = None,
    row_offset: int = 0,
    scale: int | None = None,
    sigma: int | None = None,
) -> bool:
    """Whether ``outputs`` is the slice computed from ``inputs`` (see the module docstring).

    ``inputs``/``outputs``: ``(r, m, 4)`` canonical limbs.  A column slice of
    the four-step algorithm passes ``twiddle_n = n`` and its first column
    ``row_offset``; a row slice of an inverse passes ``scale = n⁻¹ mod p``.
    A wrong slice passes with probability at most ``(m − 1)/p``.  Anything
    that is not such an array (an untrusted worker's reply) fails.
    """
    try:
        inputs = _as_limbs(inputs)
        outputs = _as_limbs(outputs)
    except (TypeError, ValueError):
        return False
    if inputs.shape != outputs.shape:
        return False
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        return True
    p = FIELDS[field].modulus
    if int(outputs.max(initial=0)) and not _canonical(outputs, p):
        return False
    sigma = random_challenge(field) if sigma is None else sigma
    left, right = row_evaluations(
        field,
        inputs,
        outputs,
        sigma,
        twiddle_n=twiddle_n or 1,
        row_offset=row_offset,
        scale=scale,
    )
    return bool(np.array_equal(left, right))


def _canonical(values: np.ndarray, p: int) -> bool:
    """Every ``(…, 4)`` element is below ``p`` (a non-canonical value is a wrong answer)."""
    flat = values.reshape(-1, 4)
    limbs = [(p >> (64 * i)) & (2**64 - 1) for i in range(4)]
    below = np.zeros(flat.shape[0], dtype=bool)
    equal = np.ones(flat.shape[0], dtype=bool)
    for i in (3, 2, 1, 0):
        col = flat[:, i]
        below |= equal & (col < np.uint64(limbs[i]))
        equal &= col == np.uint64(limbs[i])
    return bool(below.all())


def audit_sample(chunk_indices: list[int], audit_rate: float, rng: random.Random) -> set[int]:
    """The chunks to audit: each independently with probability ``audit_rate``.

    Independent sampling (rather than a fixed count) makes
    :func:`undetected_probability` exact for any number of corrupted chunks.
    """
    if not 0.0 <= audit_rate <= 1.0:
        raise ValueError(f"audit rate must be in [0, 1], got {audit_rate}")
    return {i for i in chunk_indices if rng.random() < audit_rate}


def undetected_probability(audit_rate: float, corrupted_chunks: int) -> float:
    """Chance that none of ``corrupted_chunks`` independently audited chunks is audited."""
    if corrupted_chunks <= 0:
        return 1.0
    return (1.0 - audit_rate) ** corrupted_chunks


def points_equal(a: object, b: object) -> bool:
    """Two partial MSM results agree (affine tuples of ints)."""
    return tuple(a) == tuple(b)  # type: ignore[arg-type]

"""Checking untrusted chunk results on the head (DESIGN §6).  No Ray here.

NTT slices: a randomized linear check in O(n)
----------------------------------------------
A slice is a block of ``r`` rows, each the NTT of size ``m`` of the matching
input row (:mod:`workers.plan`): ``O_i = s · T_i · NTT_m(A_i)`` where ``T_i`` is
the diagonal four-step twiddle ``diag(ω_n^{(o+i)·k})`` of a column slice (the
identity for a row slice) and ``s`` the inverse's ``n⁻¹`` (else 1).  NTT is
linear, so with a secret random ``ρ`` drawn on the head after the result
arrived (Freivalds, "Fast probabilistic algorithms", MFCS 1979, the same
"check a random linear combination" idea)::

    Σ_i ρ^i · T_i⁻¹ O_i  ==  s · NTT_m( Σ_i ρ^i A_i )

Left and right cost ``r·m`` multiplications each (two passes over the slice)
plus one NTT of size ``m`` — O(n) for the slice, against the worker's
O(n log m).  **Soundness**: if ``O`` is wrong, ``D = T⁻¹(O − O_true)`` is a
nonzero ``r × m`` matrix (``T`` is invertible); some column ``k`` of ``D`` is
a nonzero polynomial ``Σ_i D_ik ρ^i`` of degree < ``r`` in ``ρ``, which
vanishes for at most ``r − 1`` of the ``p`` values of ``ρ``.  A wrong slice
passes with probability at most ``(r − 1)/p``: below ``2^−21`` even on
BabyBear (``p ≈ 2^31``, ``r ≤ 2^10``), below ``2^−244`` on BN254.  A cheater
cannot adapt: ``ρ`` is drawn after the result is in.

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
    mont_pow_small,
    montgomery_constants,
    store,
    to_montgomery_int,
    unpack,
)
from workers.params import FIELDS

DEFAULT_AUDIT_RATE = 0.05
"""Fraction of MSM chunks recomputed on another contributor's node."""


@njit(cache=True)
def _fold_rows(
    acc: np.ndarray,
    matrix: np.ndarray,
    rho: np.ndarray,
    beta: np.ndarray,
    n: int,
    row_offset: int,
    consts: np.ndarray,
) -> None:
    """``acc[k] = Σ_i ρ^i · β^{((row_offset + i) mod n)·k} · matrix[i][k]`` (ρ, β Montgomery).

    ``matrix`` holds canonical values; the products stay canonical.
    """
    p, pinv, _, one = unpack(consts)
    r = load(rho, 0)
    b = load(beta, 0)
    weight = one
    twiddled = n > 1
    for i in range(matrix.shape[0]):
        step = mont_pow_small(b, (row_offset + i) % n, p, pinv, one)
        w = weight
        row = matrix[i]
        if twiddled:
            for k in range(matrix.shape[1]):
                store(acc, k, add(load(acc, k), mont_mul(load(row, k), w, p, pinv), p))
                w = mont_mul(w, step, p, pinv)
        else:  # β = 1: one multiplication per element
            for k in range(matrix.shape[1]):
                store(acc, k, add(load(acc, k), mont_mul(load(row, k), w, p, pinv), p))
        weight = mont_mul(weight, r, p, pinv)


def _as_limbs(values: np.ndarray) -> np.ndarray:
    """A C-contiguous ``(rows, m, 4)`` uint64 copy-free view where possible."""
    arr = np.ascontiguousarray(values, dtype=np.uint64)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ValueError(f"expected a (rows, m, 4) limb array, got shape {arr.shape}")
    return arr


def fold(
    field: str, matrix: np.ndarray, rho: int, *, untwiddle_n: int = 1, row_offset: int = 0
) -> np.ndarray:
    """``Σ_i ρ^i · ω_n^{−(row_offset+i)·k} · matrix[i][k]`` for every ``k`` (``n = untwiddle_n``).

    With ``untwiddle_n = 1`` the twiddle is 1: a plain ``ρ``-weighted row sum.
    Works for every field in the ``(…, 4)`` canonical-limb layout (the
    one-word fields run the same 4-limb Montgomery code: any odd ``p`` works).
    """
    p = FIELDS[field].modulus
    consts = montgomery_constants(p)
    matrix = _as_limbs(matrix)
    beta = pow(FIELDS[field].root_of_unity(untwiddle_n), -1, p) if untwiddle_n > 1 else 1
    acc = np.zeros((matrix.shape[1], 4), dtype=np.uint64)
    _fold_rows(
        acc,
        matrix,
        to_montgomery_int(rho % p, p),
        to_montgomery_int(beta, p),
        max(1, untwiddle_n),
        row_offset,
        consts,
    )
    return acc


def random_challenge(field: str) -> int:
    """A secret uniform ``ρ`` in ``[1, p)`` (drawn on the head, never shown to workers)."""
    return 1 + secrets.randbelow(FIELDS[field].modulus - 1)


def check_ntt_slice(
    field: str,
    inputs: np.ndarray,
    outputs: np.ndarray,
    *,
    twiddle_n: int | None = None,
    row_offset: int = 0,
    scale: int | None = None,
    rho: int | None = None,
) -> bool:
    """Whether ``outputs`` is the slice computed from ``inputs`` (see the module docstring).

    ``inputs``/``outputs``: ``(r, m, 4)`` canonical limbs.  A column slice of
    the four-step algorithm passes ``twiddle_n = n`` and its first column
    ``row_offset``; a row slice of an inverse passes ``scale = n⁻¹ mod p``.
    A wrong slice passes with probability at most ``(r − 1)/p``.
    """
    inputs = _as_limbs(inputs)
    outputs = _as_limbs(outputs)
    if inputs.shape != outputs.shape:
        return False
    if inputs.shape[0] == 0:
        return True
    p = FIELDS[field].modulus
    if int(outputs.max(initial=0)) and not _canonical(outputs, p):
        return False
    rho = random_challenge(field) if rho is None else rho
    left = fold(field, outputs, rho, untwiddle_n=twiddle_n or 1, row_offset=row_offset)
    right = cpu_ntt.ntt_limbs(field, fold(field, inputs, rho))
    if scale is not None:
        right = cpu_ntt.scale_limbs(field, right, scale)
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

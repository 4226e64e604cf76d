"""Checking untrusted chunk results on the head (docs/architecture.md §6).  No Ray here.

NTT slices: a random combination of rows, O(n)
-----------------------------------------------
Workers compute only plain NTTs: a slice is a block of ``r`` rows, each the
NTT of size ``m`` of the matching input row, times ``s`` (the inverse's
``n⁻¹``, else 1): ``O_i = s · NTT_m(A_i)``.  The four-step twiddles are the
head's (:func:`workers.cluster.dispatch.run_ntt`), so that this check stays cheap.
NTT is linear, so with secret random weights ``w_i`` drawn on the head after
the result arrived (Freivalds, "Fast probabilistic algorithms", MFCS 1979:
check a random combination instead of every row)::

    Σ_i w_i · O_i  ==  s · NTT_m( Σ_i w_i · A_i )

The weights are 64-bit integers (below ``p`` on the small fields), so each
side costs one 256 × 64-bit product per element, added up without reduction
(:func:`_weighted_column_sums`: four multiply-adds, no Montgomery reduction,
one reduction per column at the end; on Goldilocks and BabyBear one 64 × 64-bit
product on the slice's own words, :func:`_weighted_word_sums`), plus one NTT
of size ``m`` — for a 2^20
NTT about 8 ms a phase on one core, against the workers' 0.4 s.  **Soundness**:
if ``O`` is wrong, ``D = O − O_true`` has a nonzero column ``k``, and
``Σ_i w_i D_ik`` is a nonzero linear form in the weights: fixing every weight
but one with a nonzero coefficient, exactly one value of that one makes it
vanish.  A wrong slice passes with probability at most ``1/|W|``, ``W`` the
set the weights are drawn from: ``2^−64`` on BN254, BLS12-381 and
Goldilocks, ``1/(p − 1) < 2^−30`` on BabyBear.  A cheater cannot adapt: the
weights are drawn after the result is in.

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

from workers.codec.arrays import (
    element_dtype,
    element_words,
    elements_from_ints,
    elements_to_ints,
    first_non_canonical,
)
from workers.fields.mont4 import adc, mac, mul_wide
from workers.ntt import radix2
from workers.params import CURVES, FIELDS
from workers.reference import Point, is_on_curve

DEFAULT_AUDIT_RATE = 0.05
"""Fraction of MSM chunks recomputed on another contributor's node."""


@njit(cache=True, nogil=True)
def _weighted_column_sums(acc: np.ndarray, values: np.ndarray, weights: np.ndarray) -> None:
    """``acc[k] += Σ_i weights[i] · values[i][k]`` as 384-bit integers, no reduction.

    ``values``: ``(r, m, 4)`` canonical limbs (below ``2^256``); ``weights``: ``(r,)``
    ``uint64``; ``acc``: ``(m, 6)`` ``uint64`` limbs, low first.  Each product is
    below ``2^320`` and ``r < 2^64`` of them fit in 384 bits.
    """
    z = np.uint64(0)
    for i in range(values.shape[0]):
        w = weights[i]
        row = values[i]
        for k in range(values.shape[1]):
            p0, c = mul_wide(row[k, 0], w)
            p1, c = mac(row[k, 1], w, c, z)
            p2, c = mac(row[k, 2], w, c, z)
            p3, p4 = mac(row[k, 3], w, c, z)
            a = acc[k]
            a[0], c = adc(a[0], p0, z)
            a[1], c = adc(a[1], p1, c)
            a[2], c = adc(a[2], p2, c)
            a[3], c = adc(a[3], p3, c)
            a[4], c = adc(a[4], p4, c)
            a[5] = a[5] + c


@njit(cache=True, nogil=True)
def _weighted_word_sums(acc: np.ndarray, values: np.ndarray, weights: np.ndarray) -> None:
    """:func:`_weighted_column_sums` for one-word elements: ``values`` ``(r, m)`` ``uint64``
    or ``uint32``, ``acc`` ``(m, 3)`` (a product is below ``2^128``, ``r`` of them below
    ``2^192``)."""
    z = np.uint64(0)
    for i in range(values.shape[0]):
        w = weights[i]
        row = values[i]
        for k in range(values.shape[1]):
            lo, hi = mul_wide(np.uint64(row[k]), w)
            a = acc[k]
            a[0], c = adc(a[0], lo, z)
            a[1], c = adc(a[1], hi, c)
            a[2] = a[2] + c


def _as_slice(field: str, values: object) -> np.ndarray:
    """``values`` if it is a C-contiguous compact ``(rows, m)`` (``(rows, m, 4)``) array of
    ``field`` elements (:mod:`workers.codec.arrays`), else :class:`ValueError`."""
    words = element_words(field)
    if not isinstance(values, np.ndarray) or values.dtype != element_dtype(field):
        raise ValueError(f"expected a {element_dtype(field)} array of {field} elements")
    if values.ndim != (3 if words > 1 else 2) or (words > 1 and values.shape[2] != words):
        raise ValueError(f"expected a (rows, m) array of {field} elements, got {values.shape}")
    return np.ascontiguousarray(values)


def canonical_block(field: str, value: object, shape: tuple[int, ...]) -> np.ndarray:
    """An untrusted worker's NTT slice as the one array the head checks and keeps.

    A fresh, C-contiguous base-class ``ndarray`` of the field's element dtype
    (:mod:`workers.codec.arrays`) and exactly ``shape`` (the slice's input shape), copied
    from ``value``; an integer array of another dtype or byte order is converted only when
    no value changes.  Anything else — not an array, another shape, floats, objects, a
    negative or too wide value — is :class:`ValueError`: the reply fails its check.  The
    scheduler keeps what this returns, so the array that was checked is the array that is
    recorded and combined (never the worker's object, whose dtype could turn a
    concatenation into ``float64``).  Canonical values (below ``p``) are
    :func:`check_ntt_slice`'s business.
    """
    dtype = element_dtype(field)
    if not isinstance(value, np.ndarray):
        raise ValueError(f"expected a {dtype} array of {field} elements, got {type(value)!r}")
    if value.shape != tuple(shape):
        raise ValueError(f"expected a {tuple(shape)} array of {field} elements, got {value.shape}")
    if value.dtype.kind not in "ui":
        raise ValueError(f"expected a {dtype} array of {field} elements, got {value.dtype}")
    if value.dtype != dtype and value.size:
        low, high = int(value.min()), int(value.max())
        if low < 0 or high > int(np.iinfo(dtype).max):
            raise ValueError(f"a {value.dtype} reply does not fit {dtype} without loss")
    return np.array(value, dtype=dtype, order="C", copy=True, subok=False)


def canonical_point(curve: str, value: object) -> Point:
    """An untrusted worker's MSM partial sum as the one value the head keeps: an affine
    point of Python ints (``(x, y)``, on G2 ``((x0, x1), (y0, y1))``) on the curve, or
    infinity; anything else (another type or shape, a coordinate out of range, a point off
    the curve) is :class:`ValueError`, a failed check.  (Whether it is the *right* point
    is the audit's business.)"""
    params = CURVES[curve]

    def coordinate(c: object) -> int | tuple[int, int]:
        if params.degree == 2:
            if not isinstance(c, (tuple, list)) or len(c) != 2:
                raise ValueError(f"a {curve} coordinate is a pair of integers")
            return (_integer(c[0]), _integer(c[1]))
        return _integer(c)

    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"a {curve} point is a pair of coordinates, got {type(value)!r}")
    point = (coordinate(value[0]), coordinate(value[1]))
    if not is_on_curve(params, point):
        raise ValueError(f"the reply is not a point of {curve}")
    return point


def _integer(value: object) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"a coordinate is an integer, got {type(value)!r}")
    return int(value)


def column_sums(field: str, values: np.ndarray, weights: np.ndarray) -> list[int]:
    """``Σ_i weights[i] · values[i][k] mod p`` for every column ``k`` of a compact
    ``(r, m)`` array of ``field`` elements (``(r, m, 4)`` on the 254/255-bit fields)."""
    values = _as_slice(field, values)
    weights = np.ascontiguousarray(weights, dtype=np.uint64)
    if values.ndim == 3:
        acc = np.zeros((values.shape[1], 6), dtype=np.uint64)
        _weighted_column_sums(acc, values, weights)
    else:
        acc = np.zeros((values.shape[1], 3), dtype=np.uint64)
        _weighted_word_sums(acc, values, weights)
    p = FIELDS[field].modulus
    width = 8 * acc.shape[1]
    raw = acc.tobytes()
    return [int.from_bytes(raw[width * k : width * (k + 1)], "little") % p for k in range(len(acc))]


def random_weights(field: str, rows: int) -> np.ndarray:
    """Secret uniform weights, one per row: 64-bit, or below ``p`` on a field smaller than that."""
    bound = min(FIELDS[field].modulus, 1 << 64)
    return np.array([secrets.randbelow(bound) for _ in range(rows)], dtype=np.uint64)


def check_ntt_slice(
    field: str,
    inputs: np.ndarray,
    outputs: object,
    *,
    scale: int | None = None,
) -> bool:
    """Whether ``outputs`` is ``scale · NTT`` of each row of ``inputs`` (see the module docstring).

    ``inputs``/``outputs``: compact ``(r, m)`` arrays of ``field`` elements
    (``(r, m, 4)`` on the 254/255-bit fields).  ``scale`` is the
    inverse's ``n⁻¹ mod p`` (a row slice of an inverse NTT), else none.  A wrong
    slice passes with probability at most ``2^−64`` (``1/(p − 1)`` on BabyBear).
    Anything that is not such an array (an untrusted worker's reply) fails.
    """
    try:
        inputs = _as_slice(field, inputs)
        outputs = _as_slice(field, outputs)
    except ValueError:
        return False
    if inputs.shape != outputs.shape:
        return False
    rows, m = inputs.shape[0], inputs.shape[1]
    if rows == 0 or m == 0:
        return True
    p = FIELDS[field].modulus
    if first_non_canonical(field, outputs) >= 0:
        return False  # a non-canonical value is a wrong answer
    weights = random_weights(field, rows)
    left = column_sums(field, outputs, weights)
    folded = elements_from_ints(field, column_sums(field, inputs, weights))
    right = elements_to_ints(field, radix2.ntt_limbs(field, folded))
    if scale is not None:
        right = [scale * v % p for v in right]
    return left == right


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

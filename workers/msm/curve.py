"""What the MSM kernels need to know of a curve: its field descriptor and its array layout.

The four curves ``bn254_g1``, ``bls12_381_g1``, ``bn254_g2`` and
``bls12_381_g2`` are all ``y² = x³ + b`` (``a = 0``) over ``F_p`` or ``F_p²``,
with ``p`` on four limbs (BN254) or six (BLS12-381).  A coordinate is ``D·N``
``uint64`` words — ``D = 1`` or ``2`` components of ``N = 4`` or ``6`` limbs,
``c0`` first — and a base row is ``x‖y``; the point at infinity is all zeros
(the binary layout of ``docs/architecture.md`` §4, extended to G2).  The
kernels take rows in Montgomery form and the field descriptor
``(p, p', one)`` of :func:`workers.fields.generic.descriptor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from workers.fields.generic import descriptor, element_mont, element_words, to_mont_rows
from workers.params import CURVES


@dataclass(frozen=True)
class KernelCurve:
    """One curve as the numba kernels see it."""

    name: str
    modulus: int
    """The base-field prime ``p``."""
    f: tuple
    """The field descriptor ``(p, p', one)`` of the coordinates' field."""
    words: int
    """``uint64`` words of one coordinate (4, 6, 8 or 12)."""
    b: Any
    """The curve constant ``b`` as a Montgomery-form element of the coordinates' field."""


@cache
def kernel_curve(curve: str) -> KernelCurve:
    """The :class:`KernelCurve` of ``curve`` (cached); ``a ≠ 0`` curves are refused."""
    params = CURVES[curve]
    if params.a not in (0, (0, 0)):
        raise NotImplementedError(f"the CPU MSM handles a = 0 curves only, not {curve}")
    p = params.base_modulus
    return KernelCurve(
        name=curve,
        modulus=p,
        f=descriptor(p, params.degree),
        words=element_words(p, params.degree),
        b=element_mont(params.b, p),
    )


def kernel_array(arr: np.ndarray, columns: int) -> np.ndarray:
    """``arr`` as a C-contiguous, writable ``uint64`` ``(-1, columns)`` array (a copy if need be).

    Arrays from Ray's object store are read-only, and numba compiles a separate
    specialisation for read-only arguments: this keeps one compiled kernel type.
    """
    return np.require(arr, dtype=np.uint64, requirements=["C", "W"]).reshape(-1, columns)


def mont_rows(kc: KernelCurve, bases: np.ndarray) -> np.ndarray:
    """Canonical bases (anything reshaping to ``(n, 2·words)``) as Montgomery-form rows."""
    return to_mont_rows(kernel_array(bases, 2 * kc.words), kc.modulus)

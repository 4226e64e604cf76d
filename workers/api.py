"""The public, single-process kernel API: checked :func:`msm`, :func:`ntt`, :func:`ntt_batch`.

Inputs follow docs/architecture.md §4: canonical Python integers, points as affine
``(x, y)`` pairs with ``(0, 0)`` for the point at infinity.  Everything is
validated before any kernel runs, and every problem raises a subclass of
:class:`~workers.errors.KernelInputError` (a :class:`ValueError`) whose
message names the offending input and index, e.g. ``points[3] is not on
bn254_g1``.  :func:`validate_msm_input` and :func:`validate_ntt_input` run the
same checks alone, for a caller (the HTTP layer) that stores a job before
computing it.  The unchecked kernels on limb arrays are
:func:`workers.msm.pippenger.msm_limbs` and :mod:`workers.ntt.radix2`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workers.codec.arrays import (
    curve_params,
    element_shape,
    elements_from_ints,
    elements_to_ints,
    field_params,
)
from workers.codec.limb_arrays import ints_to_limbs, points_to_limbs
from workers.errors import (
    BackendUnavailableError,
    KernelInputError,
    LengthMismatchError,
    MalformedPointError,
    PointNotInSubgroupError,
    PointNotOnCurveError,
    ScalarOutOfRangeError,
    SizeNotPowerOfTwoError,
    SizeTooLargeError,
    ValueOutOfRangeError,
)
from workers.gpu import cupy_backend, driver
from workers.msm.checks import first_point_not_in_subgroup, first_point_off_curve
from workers.msm.pippenger import msm_limbs
from workers.ntt.radix2 import ntt_limbs, ntt_rows_limbs
from workers.params import CurveParams, FieldParams

__all__ = [
    "msm",
    "ntt",
    "ntt_batch",
    "validate_msm_input",
    "validate_ntt_batch_input",
    "validate_ntt_input",
    "validate_ntt_size",
]


def _is_int(value: object) -> bool:
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def _check_sequence(name: str, value: object, what: str, field: str | None = None) -> Sequence:
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Sequence):
        raise KernelInputError(
            f"{name} must be a sequence of {what}, not {type(value).__name__}", field=field or name
        )
    return value


def _check_ints(
    name: str,
    values: Sequence,
    bound: int,
    symbol: str,
    error: type[KernelInputError],
    field: str | None = None,
) -> None:
    """Every element an ``int`` (not ``bool``) in ``[0, bound)``, named ``symbol`` in messages."""
    field = field or name
    for i, value in enumerate(values):
        if type(value) is not int and not _is_int(value):
            raise KernelInputError(
                f"{name}[{i}] is not an integer (got {type(value).__name__})", field=field
            )
        if not 0 <= value < bound:
            raise error(f"{name}[{i}] is out of range [0, {symbol})", field=field)


def _check_coordinate(i: int, value: object, params: CurveParams) -> None:
    """One ``F_p`` integer of ``points[i]``: an ``int`` in ``[0, p)``."""
    if not _is_int(value):
        raise MalformedPointError(
            f"points[{i}] has a non-integer coordinate (got {type(value).__name__})"
        )
    if not 0 <= value < params.base_modulus:  # type: ignore[operator]
        raise PointNotOnCurveError(
            f"points[{i}] is not on {params.name}: coordinate out of range [0, p)"
        )


def _check_point_shape(i: int, point: object, params: CurveParams) -> None:
    """``(x, y)`` of ints on G1; ``((x0, x1), (y0, y1))`` on G2; every integer in ``[0, p)``."""
    shape = "an (x, y) pair" if params.degree == 1 else "a ((x0, x1), (y0, y1)) pair of pairs"
    if not isinstance(point, (tuple, list)) or len(point) != 2:
        raise MalformedPointError(f"points[{i}] is not {shape} on {params.name}")
    for coordinate in point:
        if params.degree == 1:
            _check_coordinate(i, coordinate, params)
            continue
        if not isinstance(coordinate, (tuple, list)) or len(coordinate) != 2:
            raise MalformedPointError(f"points[{i}] is not {shape} on {params.name}")
        for component in coordinate:
            _check_coordinate(i, component, params)


def _prepare_msm(curve: object, points: object, scalars: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate an MSM input and return it as ``(bases (n, 2, words), scalars (n, 4))`` limbs.

    Checks in order: the curve, sequences of equal length, every point's
    shape and coordinate range, every scalar in ``[0, r)``, every point on the
    curve (vectorised, :func:`workers.msm.checks.first_point_off_curve`) and, where
    the cofactor is not 1, in the prime-order subgroup (an endomorphism test in numba,
    :func:`workers.msm.checks.first_point_not_in_subgroup`).
    """
    params = curve_params(curve)
    points = _check_sequence("points", points, "points")
    scalars = _check_sequence("scalars", scalars, "integers")
    if len(points) != len(scalars):
        raise LengthMismatchError(
            f"points and scalars differ in length: {len(points)} vs {len(scalars)}"
        )
    for i, point in enumerate(points):
        _check_point_shape(i, point, params)
    _check_ints("scalars", scalars, params.order, "r", ScalarOutOfRangeError)
    bases = points_to_limbs(points, params.name)
    bad = first_point_off_curve(params.name, bases)
    if bad >= 0:
        raise PointNotOnCurveError(f"points[{bad}] is not on {params.name}")
    if params.cofactor != 1:
        bad = first_point_not_in_subgroup(params.name, bases)
        if bad >= 0:
            raise PointNotInSubgroupError(
                f"points[{bad}] is on {params.name} but not in its prime-order subgroup"
            )
    return bases, ints_to_limbs(scalars)


def _check_ntt_size(params: FieldParams, name: str, n: int, field: str) -> None:
    if n == 0 or n & (n - 1):
        raise SizeNotPowerOfTwoError(f"{name} has length {n}, not a power of two", field=field)
    if n > 1 << params.two_adicity:
        raise SizeTooLargeError(
            f"{name} has length {n}, above the largest NTT size 2^{params.two_adicity} "
            f"of {params.name}",
            field=field,
        )


def _check_flags(inverse: object, coset: object, params: FieldParams) -> None:
    """``inverse`` a bool; ``coset`` ``None`` or an ``int`` in ``[1, p)``."""
    if not isinstance(inverse, bool):
        raise KernelInputError(
            f"inverse must be a bool, not {type(inverse).__name__}", field="inverse"
        )
    if coset is None:
        return
    if not _is_int(coset):
        raise KernelInputError(
            f"coset must be an integer shift, not {type(coset).__name__}", field="coset"
        )
    if not 0 < coset < params.modulus:  # type: ignore[operator]
        raise ValueOutOfRangeError("coset is out of range [1, p)", field="coset")


def _prepare_ntt(
    field: object, values: object, coset: object = None
) -> tuple[FieldParams, np.ndarray]:
    """Validate an NTT input and return the field and its compact array (``workers.codec``)."""
    params = field_params(field)
    _check_flags(False, coset, params)
    values = _check_sequence("values", values, "integers")
    _check_ntt_size(params, "values", len(values), "values")
    _check_ints("values", values, params.modulus, "p", ValueOutOfRangeError)
    return params, elements_from_ints(params.name, values, checked=False)


def _prepare_ntt_batch(
    field: object, batch: object, coset: object = None
) -> tuple[FieldParams, np.ndarray]:
    """Validate a batch of NTT inputs and return the field and its compact ``(m, n)`` array."""
    params = field_params(field)
    _check_flags(False, coset, params)
    batch = _check_sequence("batch", batch, "sequences of integers")
    size = None
    for i, row in enumerate(batch):
        name = f"batch[{i}]"
        _check_sequence(name, row, "integers", "batch")
        if size is None:
            size = len(row)
            _check_ntt_size(params, name, size, "batch")
        elif len(row) != size:
            raise LengthMismatchError(
                f"{name} has length {len(row)}, batch[0] has {size}: "
                "every NTT of a batch has the same size",
                field="batch",
            )
        _check_ints(name, row, params.modulus, "p", ValueOutOfRangeError, "batch")
    if size is None:
        return params, np.zeros(element_shape(params.name, 0, 1), dtype=np.uint64)
    flat = elements_from_ints(params.name, [v for row in batch for v in row], checked=False)
    return params, flat.reshape(element_shape(params.name, len(batch), size))


BACKENDS = ("auto", "cpu", "gpu")
"""Values of the ``backend`` argument: ``auto`` takes the GPU when CuPy sees a device."""


def _use_gpu(backend: object, kind: str, name: str) -> bool:
    """Whether a call on curve/field ``name`` runs on the GPU under ``backend`` (architecture §5).

    ``"cpu"``: never.  ``"gpu"``: always, or :class:`BackendUnavailableError`
    when there is no CUDA device or no GPU kernel for ``name``.  ``"auto"``:
    when there is both (so a CPU-only machine behaves as ``"cpu"``).
    """
    if backend not in BACKENDS:
        raise KernelInputError(
            f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}", field="backend"
        )
    if backend == "cpu":
        return False
    has_kernel = driver.supported(kind, name)
    if backend == "auto":
        return has_kernel and cupy_backend.gpu_available()
    if not has_kernel:
        what = "MSM on" if kind == "msm" else "NTT over"
        raise BackendUnavailableError(f"the GPU backend has no {what} {name}; use backend='cpu'")
    if not cupy_backend.gpu_available():
        raise BackendUnavailableError(
            "backend='gpu' but no CUDA device is visible (CuPy missing or no GPU)"
        )
    return True


def validate_msm_input(curve: str, points: Sequence[tuple], scalars: Sequence[int]) -> None:
    """Raise a :class:`KernelInputError` subclass if :func:`msm` would reject this input."""
    _prepare_msm(curve, points, scalars)


def validate_ntt_input(field: str, values: Sequence[int], coset: int | None = None) -> None:
    """Raise a :class:`KernelInputError` subclass if :func:`ntt` would reject this input."""
    _prepare_ntt(field, values, coset)


def validate_ntt_batch_input(
    field: str, batch: Sequence[Sequence[int]], coset: int | None = None
) -> None:
    """Raise a :class:`KernelInputError` subclass if :func:`ntt_batch` would reject this input."""
    _prepare_ntt_batch(field, batch, coset)


def validate_ntt_size(field: str, n: int) -> None:
    """Raise a :class:`KernelInputError` subclass if :func:`ntt` would reject ``n`` elements
    of ``field`` (not a power of two, or above ``2^two_adicity``): the check an input
    already decoded and range-checked (:func:`workers.codec.arrays.decode_elements`) still needs.
    """
    _check_ntt_size(field_params(field), "values", n, "values")


def msm(
    curve: str,
    points: Sequence[tuple],
    scalars: Sequence[int],
    backend: str = "auto",
) -> tuple:
    """``Σ scalars[i]·points[i]`` on ``curve`` as an affine point; ``(0, 0)`` is infinity.

    Curves: ``bn254_g1``, ``bls12_381_g1``, ``bn254_g2``, ``bls12_381_g2``.  On
    the G2 curves points (and the result) are ``((x0, x1), (y0, y1))`` for
    coordinates ``c0 + c1·u`` and infinity is ``((0, 0), (0, 0))``.  Points must
    be on the curve and, where the cofactor is not 1, in the prime-order
    subgroup (or infinity); scalars in ``[0, r)``; an empty input gives
    infinity.  ``backend``: ``"cpu"``, ``"gpu"`` or ``"auto"`` (the GPU when CuPy
    sees a device and has kernels for ``curve``: only ``bn254_g1`` so far;
    ``"gpu"`` on another curve raises :class:`BackendUnavailableError`).
    """
    bases, scalar_limbs = _prepare_msm(curve, points, scalars)
    if _use_gpu(backend, "msm", curve):
        return cupy_backend.msm_gpu(curve, bases, scalar_limbs)
    return msm_limbs(curve, bases, scalar_limbs)


def ntt(
    field: str,
    values: Sequence[int],
    inverse: bool = False,
    coset: int | None = None,
    backend: str = "auto",
) -> list[int]:
    """The NTT of ``values`` (size a power of two), or the inverse NTT if ``inverse``.

    ``out[k] = Σ_j values[j]·ω^(j·k)`` with ``ω = g^((p−1)/n)``; the inverse
    is ``n⁻¹ Σ_k values[k]·ω^(−j·k)`` (docs/architecture.md §4).  With ``coset = s`` (an
    integer in ``[1, p)``) the coset NTT ``out[k] = Σ_j values[j]·(s·ω^k)^j``,
    i.e. the evaluations of the polynomial on ``s·⟨ω⟩``; with ``inverse`` too,
    its inverse (coefficients from evaluations on the coset).
    Fields: ``bn254_fr``, ``bls12_381_fr``, ``goldilocks``, ``babybear``.
    ``backend`` as in :func:`msm` (GPU kernels: ``bn254_fr``, ``bls12_381_fr``).
    """
    params = field_params(field)
    _check_flags(inverse, coset, params)
    params, limbs = _prepare_ntt(field, values, coset)
    if _use_gpu(backend, "ntt", params.name):
        return elements_to_ints(
            params.name, cupy_backend.ntt_gpu(params.name, limbs, inverse, coset)
        )
    return elements_to_ints(params.name, ntt_limbs(params.name, limbs, inverse, coset))


def ntt_batch(
    field: str,
    batch: Sequence[Sequence[int]],
    inverse: bool = False,
    coset: int | None = None,
    backend: str = "auto",
) -> list[list[int]]:
    """:func:`ntt` of every row of ``batch``; all rows have the same power-of-two length.

    Equal to ``[ntt(field, row, inverse, coset) for row in batch]``, with the
    twiddles shared and one conversion for the whole batch.  An empty batch
    gives ``[]``.  ``backend`` as in :func:`ntt`.
    """
    params = field_params(field)
    _check_flags(inverse, coset, params)
    params, limbs = _prepare_ntt_batch(field, batch, coset)
    use_gpu = _use_gpu(backend, "ntt", params.name)
    if limbs.shape[0] == 0:
        return []
    m, n = limbs.shape[:2]
    rows = (cupy_backend.ntt_rows_gpu if use_gpu else ntt_rows_limbs)(
        params.name, limbs, inverse, coset
    )
    flat = elements_to_ints(params.name, rows)
    return [flat[i * n : (i + 1) * n] for i in range(m)]

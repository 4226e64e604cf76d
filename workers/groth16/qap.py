"""The field work of a Groth16 proof in snarkjs' conventions: QAP evaluations and ``A·B − C``.

snarkjs (``src/groth16_prove.js``, ``buildABC1`` and ``joinABC``) proves with
the QAP of Gennaro, Gentry, Parno and Raykova (EUROCRYPT 2013) over the
domain ``⟨ω⟩`` of size ``n = domainSize``, ``ω = 5^((r−1)/n)`` (ffjavascript's
``Fr.w[log n]``, the same root as :meth:`workers.params.FieldParams.root_of_unity`):

1. ``A_T[c] = Σ coef·w[s]`` over the zkey's coefficient entries
   ``(matrix 0, constraint c, signal s, coef)``, likewise ``B_T`` (matrix 1),
   and ``C_T[c] = A_T[c]·B_T[c]`` — the evaluations of ``A(x), B(x), C(x)`` on
   ``⟨ω⟩`` (:func:`evaluate_abc`).
2. Coefficients by an inverse NTT, then evaluations on the coset ``g·⟨ω⟩`` with
   ``g = ω_{2n}`` (``Fr.w[log n + 1]``, or ``Fr.shift = 25`` when ``n = 2^28``;
   :func:`coset_shift`) — the odd points of the domain of size ``2n``.
3. ``A·B − C`` on that coset (:func:`h_scalars`): the scalars of the MSM over
   the zkey's ``H`` points, which snarkjs' setup has already divided by
   ``Z(g·ωⁱ) = gⁿ − 1 = −2``.

Everything here is canonical (not Montgomery): the zkey stores each
coefficient as ``v·R² mod r`` (``R = 2^256``), which the reader turns into
``v·R`` once, so ``mont_mul(v·R, w) = v·w`` needs no further conversion.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workers.fields.mont4 import add, load, mont_mul, montgomery_constants, store, sub, unpack
from workers.params import BN254_R, FIELDS

FIELD = "bn254_fr"
_TWO_ADICITY = FIELDS[FIELD].two_adicity
_FFJS_SHIFT = 25
"""ffjavascript's ``Fr.shift = nqr²`` with ``nqr = 5`` (used only when ``n = 2^28``)."""


@njit(cache=True, nogil=True)
def _evaluate_ab(
    matrix: np.ndarray,
    constraint: np.ndarray,
    signal: np.ndarray,
    values: np.ndarray,
    witness: np.ndarray,
    out_a: np.ndarray,
    out_b: np.ndarray,
    consts: np.ndarray,
) -> None:
    p, pinv, _, _ = unpack(consts)
    for i in range(matrix.shape[0]):
        term = mont_mul(load(values, i), load(witness, signal[i]), p, pinv)
        c = constraint[i]
        if matrix[i] == 0:
            store(out_a, c, add(load(out_a, c), term, p))
        else:
            store(out_b, c, add(load(out_b, c), term, p))


@njit(cache=True, nogil=True)
def _mul_sub(
    out: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, consts: np.ndarray
) -> None:
    """``out[i] = a[i]·b[i] − c[i]`` for canonical rows (``out`` may alias an input)."""
    p, pinv, r2, _ = unpack(consts)
    for i in range(out.shape[0]):
        a_mont = mont_mul(load(a, i), r2, p, pinv)
        store(out, i, sub(mont_mul(a_mont, load(b, i), p, pinv), load(c, i), p))


def coset_shift(domain_size: int) -> int:
    """snarkjs' coset generator for a domain of ``domain_size = 2^k`` (module docstring, step 2)."""
    power = domain_size.bit_length() - 1
    if power == _TWO_ADICITY:
        return _FFJS_SHIFT
    return FIELDS[FIELD].root_of_unity(2 * domain_size)


def evaluate_abc(
    matrix: np.ndarray,
    constraint: np.ndarray,
    signal: np.ndarray,
    values_mont: np.ndarray,
    witness: np.ndarray,
    domain_size: int,
) -> np.ndarray:
    """``(3, domain_size, 4)`` rows ``A_T, B_T, C_T`` (step 1) from the zkey's coefficients.

    ``values_mont``: ``(m, 4)`` coefficients as ``v·R mod r``; ``witness``:
    ``(n_vars, 4)`` canonical limbs.  Indices must already be checked.
    """
    consts = montgomery_constants(BN254_R)
    rows = np.zeros((3, domain_size, 4), dtype=np.uint64)
    _evaluate_ab(matrix, constraint, signal, values_mont, witness, rows[0], rows[1], consts)
    _mul_sub(rows[2], rows[0], rows[1], rows[2], consts)
    return rows


def h_scalars(coset_rows: np.ndarray) -> np.ndarray:
    """``A·B − C`` on the coset (step 3), ``(n, 4)`` canonical, from ``(3, n, 4)`` rows."""
    out = np.empty_like(coset_rows[0])
    _mul_sub(out, coset_rows[0], coset_rows[1], coset_rows[2], montgomery_constants(BN254_R))
    return out

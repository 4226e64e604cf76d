"""UNSAFE development trusted setup: a snarkjs-compatible Groth16 ``.zkey`` from a ``.r1cs``.

**For tests and benchmarks only, never for production**: one party draws the toxic
waste ``τ, α, β, γ, δ`` (from :mod:`secrets`, or from a seed for reproducible tests),
computes the key and forgets it — whoever ran it (or knows the seed) can forge proofs.

:func:`dev_setup` computes exactly what ``snarkjs groth16 setup`` (``src/zkey_new.js``)
followed by one ``zkey contribute`` would for that toxic waste (Groth, EUROCRYPT 2016,
§3.2, in snarkjs' QAP conventions, :mod:`workers.groth16.qap`):

* domain ``n`` = the smallest ``2^k ≥ nConstraints + nPublic + 1``: snarkjs appends, for
  every public signal ``s`` (signal 0 included), the constraint ``s·1 = 0`` in matrix A
  (row ``nConstraints + s``), which makes the ``A_s`` independent;
* the Lagrange basis of ``⟨ω⟩`` at ``τ``: ``L_c(τ) = ω^c/n · (τⁿ − 1)/(τ − ω^c)`` (all
  the ``τ − ω^c`` inverted together); ``A_s(τ) = Σ_c A[c][s]·L_c(τ)``, likewise ``B_s``,
  ``C_s``;
* points (``[x]₁ = x·G₁``, ``[x]₂ = x·G₂``): ``α₁, β₁, β₂, γ₂, δ₁, δ₂``; ``A_s = [A_s(τ)]₁``,
  ``B1_s = [B_s(τ)]₁``, ``B2_s = [B_s(τ)]₂``; ``IC_s = [(β·A_s + α·B_s + C_s)(τ)/γ]₁`` for
  ``s ≤ nPublic``, ``C_s`` the same over ``δ`` for the others;
* ``H_i = [L^{2n}_{2i+1}(τ)/δ]₁``: the Lagrange basis of the size-``2n`` domain at its odd
  points ``ω_{2n}^{2i+1}`` (snarkjs' coset), ``L^{2n}_j(τ) = ω_{2n}^j/(2n) · (τ^{2n} − 1)/
  (τ − ω_{2n}^j)``, so that ``Σ_i (A·B − C)(ω_{2n}^{2i+1})·H_i = [h(τ)·Z(τ)/δ]₁``.

The ``≈ 4·nVars + n`` G1 and ``nVars`` G2 multiples of the generators are fixed-base
products (:mod:`workers.msm.fixed_base`); the file is written by
:mod:`workers.groth16.zkey_write`.

Measured on the shared 2-core machine (load 4–19 from other work, so wall times vary):
2^16 chain circuit 66 s, 2^18 63 s, 2^20 (a synthetic chain-shaped r1cs, 1.05 M
constraints) 99 s wall, 155 s CPU, 516 MiB ``.zkey``; snarkjs' powers of tau + setup took
about an hour at 2^16.
"""

from __future__ import annotations

import random
import secrets

import numpy as np
from numba import njit

from workers.codec.limb_arrays import limbs_to_points
from workers.fields.generic import from_mont_rows
from workers.fields.mont4 import (
    add,
    from_mont_into,
    load,
    mont_inv,
    mont_mul,
    montgomery_constants,
    mul_const_into,
    store,
    sub,
    to_mont,
    to_mont_into,
    unpack,
)
from workers.groth16.r1cs import R1cs
from workers.groth16.zkey_write import ZkeyParts, vkey_json, zkey_bytes
from workers.msm.fixed_base import fixed_base_mul, generator_table
from workers.params import BN254_P, BN254_R, FIELDS

UNSAFE_WARNING = (
    "UNSAFE development Groth16 key (proverpool dev_setup): the toxic waste was known to one "
    "process; for tests and benchmarks only, never for production"
)
MAX_DOMAIN_POWER = 27
"""``2n`` must stay within ``bn254_fr``'s two-adicity (28)."""
_FR = FIELDS["bn254_fr"]


def domain_size(r1cs: R1cs) -> int:
    """snarkjs' domain: the smallest ``2^k ≥ nConstraints + nPublic + 1``."""
    need = r1cs.n_constraints + r1cs.n_public + 1
    return 1 << max(0, (need - 1).bit_length())


@njit(cache=True)
def _lagrange(
    tau: np.ndarray,
    omega2: np.ndarray,
    n: int,
    even: np.ndarray,
    odd: np.ndarray,
    consts: np.ndarray,
) -> None:
    """``even[c] = L_c(τ)`` on ``⟨ω⟩`` and ``odd[i] = L^{2n}_{2i+1}(τ)`` (Montgomery form)."""
    p, pinv, r2, one = unpack(consts)
    t = load(tau, 0)
    w2 = load(omega2, 0)
    roots = np.empty((2 * n, 4), dtype=np.uint64)
    inv = np.empty((2 * n, 4), dtype=np.uint64)
    acc = one
    run = one
    for j in range(2 * n):
        store(roots, j, acc)
        store(inv, j, run)  # prefix product of (τ − ω₂^i), i < j
        run = mont_mul(run, sub(t, acc, p), p, pinv)
        acc = mont_mul(acc, w2, p, pinv)
    back = mont_inv(run, p, pinv, one)
    for j in range(2 * n - 1, -1, -1):
        d = sub(t, load(roots, j), p)
        store(inv, j, mont_mul(back, load(inv, j), p, pinv))
        back = mont_mul(back, d, p, pinv)
    tn = t
    k = 1
    while k < n:
        tn = mont_mul(tn, tn, p, pinv)
        k *= 2
    t2n = mont_mul(tn, tn, p, pinv)
    n_m = to_mont((np.uint64(n), np.uint64(0), np.uint64(0), np.uint64(0)), p, pinv, r2)
    n2_m = add(n_m, n_m, p)
    f_even = mont_mul(sub(tn, one, p), mont_inv(n_m, p, pinv, one), p, pinv)
    f_odd = mont_mul(sub(t2n, one, p), mont_inv(n2_m, p, pinv, one), p, pinv)
    for c in range(n):
        e = mont_mul(load(roots, 2 * c), load(inv, 2 * c), p, pinv)
        store(even, c, mont_mul(e, f_even, p, pinv))
        o = mont_mul(load(roots, 2 * c + 1), load(inv, 2 * c + 1), p, pinv)
        store(odd, c, mont_mul(o, f_odd, p, pinv))


@njit(cache=True)
def _accumulate(
    matrix: np.ndarray,
    constraint: np.ndarray,
    wire: np.ndarray,
    values: np.ndarray,
    lag: np.ndarray,
    abc: np.ndarray,
    consts: np.ndarray,
) -> None:
    """``abc[k, s] += v·L_c(τ)`` for every term ``(k, c, s, v)`` (all in Montgomery form)."""
    p, pinv, _, _ = unpack(consts)
    for i in range(matrix.shape[0]):
        k = matrix[i]
        s = wire[i]
        term = mont_mul(load(values, i), load(lag, constraint[i]), p, pinv)
        store(abc[k], s, add(load(abc[k], s), term, p))


@njit(cache=True)
def _ic_c(
    abc: np.ndarray,
    ab: np.ndarray,
    inv_gd: np.ndarray,
    n_pub: int,
    out: np.ndarray,
    consts: np.ndarray,
) -> None:
    """``out[s] = (β·A_s + α·B_s + C_s)·(γ⁻¹ if s ≤ nPublic else δ⁻¹)`` (Montgomery)."""
    p, pinv, _, _ = unpack(consts)
    alpha, beta = load(ab, 0), load(ab, 1)
    for s in range(abc.shape[1]):
        x = add(
            mont_mul(beta, load(abc[0], s), p, pinv), mont_mul(alpha, load(abc[1], s), p, pinv), p
        )
        x = add(x, load(abc[2], s), p)
        store(out, s, mont_mul(x, load(inv_gd, 0 if s <= n_pub else 1), p, pinv))


def _draw(seed: int | None) -> list[int]:
    """``τ, α, β, γ, δ`` in ``[1, r)``: from :mod:`secrets`, or reproducibly from ``seed``."""
    if seed is None:
        return [1 + secrets.randbelow(BN254_R - 1) for _ in range(5)]
    rng = random.Random(seed)
    return [1 + rng.randrange(BN254_R - 1) for _ in range(5)]


def _limbs(values: list[int]) -> np.ndarray:
    return np.array(
        [[(v >> (64 * k)) & 0xFFFF_FFFF_FFFF_FFFF for k in range(4)] for v in values], np.uint64
    )


def _mont(values: list[int]) -> np.ndarray:
    rows = _limbs(values)
    to_mont_into(rows, rows, montgomery_constants(BN254_R))
    return rows


def _canonical(rows: np.ndarray) -> np.ndarray:
    out = np.empty_like(rows)
    from_mont_into(out, rows, montgomery_constants(BN254_R))
    return out


def dev_setup(r1cs: R1cs, seed: int | None = None) -> tuple[bytes, dict]:
    """UNSAFE development setup (module docstring): ``(zkey bytes, verification_key.json)``.

    ``seed`` makes the toxic waste reproducible (tests); without it it comes from
    :mod:`secrets` and is dropped on return.  The vkey lacks ``vk_alphabeta_12``
    (:mod:`workers.groth16.zkey_write`).
    """
    n = domain_size(r1cs)
    if n > 1 << MAX_DOMAIN_POWER:
        raise ValueError(f"domain 2^{n.bit_length() - 1} exceeds 2^{MAX_DOMAIN_POWER}")
    n_vars, n_pub, n_con = r1cs.n_wires, r1cs.n_public, r1cs.n_constraints
    consts = montgomery_constants(BN254_R)
    tau, alpha, beta, gamma, delta = _draw(seed)
    even = np.empty((n, 4), dtype=np.uint64)
    odd = np.empty((n, 4), dtype=np.uint64)
    _lagrange(_mont([tau]), _mont([_FR.root_of_unity(2 * n)]), n, even, odd, consts)

    # The coefficients of A and B as snarkjs lists them, then the public `s·1 = 0` rows.
    ab = r1cs.matrix != 2
    pub = np.arange(n_pub + 1, dtype=np.uint32)
    matrix = np.concatenate([r1cs.matrix[ab].astype(np.uint32), np.zeros(n_pub + 1, np.uint32)])
    cons = np.concatenate([r1cs.constraint[ab], n_con + pub])
    signal = np.concatenate([r1cs.wire[ab], pub])
    ones = np.zeros((n_pub + 1, 4), np.uint64)
    ones[:, 0] = 1
    values = np.concatenate([r1cs.values[ab], ones])
    coeff_values = np.empty_like(values)
    to_mont_into(coeff_values, values, consts)  # v·R
    values_mont = coeff_values.copy()
    to_mont_into(coeff_values, coeff_values, consts)  # v·R², as snarkjs stores them

    abc = np.zeros((3, n_vars, 4), dtype=np.uint64)
    terms = np.empty_like(r1cs.values)
    to_mont_into(terms, r1cs.values, consts)
    _accumulate(r1cs.matrix, r1cs.constraint, r1cs.wire, terms, even, abc, consts)
    n_ab = int(ab.sum())  # A_s += L_{nConstraints + s}: the public rows
    _accumulate(
        matrix[n_ab:].astype(np.uint8), cons[n_ab:], pub, values_mont[n_ab:], even, abc, consts
    )
    inv_gd = _mont([pow(gamma, -1, BN254_R), pow(delta, -1, BN254_R)])
    icc = np.empty((n_vars, 4), dtype=np.uint64)
    _ic_c(abc, _mont([alpha, beta]), inv_gd, n_pub, icc, consts)
    h = np.empty_like(odd)
    mul_const_into(h, odd, inv_gd[1:2], consts)  # Montgomery · δ⁻¹(Montgomery) stays Montgomery

    g1_scalars = np.concatenate(
        [
            _limbs([alpha, beta, delta]),
            _canonical(abc[0]),
            _canonical(abc[1]),
            _canonical(icc),
            _canonical(h),
        ]
    )
    g1 = fixed_base_mul("bn254_g1", generator_table("bn254_g1"), g1_scalars)
    g2_scalars = np.concatenate([_limbs([beta, gamma, delta]), _canonical(abc[1])])
    g2 = fixed_base_mul("bn254_g2", generator_table("bn254_g2"), g2_scalars)
    pos = 3
    a_pts, pos = g1[pos : pos + n_vars], pos + n_vars
    b1_pts, pos = g1[pos : pos + n_vars], pos + n_vars
    icc_pts, pos = g1[pos : pos + n_vars], pos + n_vars
    parts = ZkeyParts(
        n_vars=n_vars,
        n_public=n_pub,
        domain_size=n,
        header_g1=g1[:3],
        header_g2=g2[:3],
        coeff_matrix=matrix,
        coeff_constraint=cons.astype(np.uint32),
        coeff_signal=signal.astype(np.uint32),
        coeff_values=coeff_values,
        ic=icc_pts[: n_pub + 1],
        a=a_pts,
        b1=b1_pts,
        b2=g2[3:],
        c=icc_pts[n_pub + 1 :],
        h=g1[pos:],
    )
    g1c = limbs_to_points(from_mont_rows(np.concatenate([g1[:3], parts.ic]), BN254_P))
    g2c = limbs_to_points(from_mont_rows(g2[:3], BN254_P), "bn254_g2")
    vkey = vkey_json(n_pub, g1c[0], g2c[0], g2c[1], g2c[2], g1c[3:])
    return zkey_bytes(parts), vkey

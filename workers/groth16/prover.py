"""The Groth16 prover in snarkjs' conventions, with injectable MSM and NTT kernels.

The proof is Groth's (J. Groth, "On the size of pairing-based non-interactive
arguments", EUROCRYPT 2016, §3.2) exactly as ``src/groth16_prove.js`` of
iden3/snarkjs computes it from a ``.zkey`` and a witness ``w``:

* ``h`` = ``A·B − C`` on snarkjs' coset (:mod:`workers.groth16.qap`: the
  evaluations from the coefficients, three inverse NTTs and three coset NTTs);
* five MSMs: ``[A]₁ = Σ wᵢ·Aᵢ``, ``[B]₁ = Σ wᵢ·B1ᵢ``, ``[B]₂ = Σ wᵢ·B2ᵢ``,
  ``[C]₁ = Σ_{i > nPublic} wᵢ·Cᵢ`` and ``[H]₁ = Σ hⱼ·Hⱼ``;
* random ``r, s ∈ F_r``: ``π_A = α₁ + [A]₁ + r·δ₁``, ``π_B = β₂ + [B]₂ + s·δ₂``,
  ``B₁ = β₁ + [B]₁ + s·δ₁``, ``π_C = [C]₁ + [H]₁ + s·π_A + r·B₁ − r·s·δ₁``.

Kernels.  :class:`Groth16Prover` takes two callables, so the pool can route
each MSM and NTT through its distributed runner; the defaults run the
single-process numba kernels (all cores):

``msm(curve, bases, scalars) -> point``
    ``curve`` ``"bn254_g1"`` (``bases`` ``(n, 2, 4)``) or ``"bn254_g2"``
    (``(n, 2, 2, 4)``: ``x0, x1, y0, y1``); canonical ``uint64`` limbs, infinity
    all zeros; ``scalars`` ``(n, 4)`` canonical.  Returns the affine sum as
    integers, ``(x, y)`` or ``((x0, x1), (y0, y1))``, zeros for infinity.
``ntt(rows, inverse, coset) -> rows``
    ``rows`` ``(m, n, 4)`` canonical ``bn254_fr`` limbs; every row transformed
    as :func:`workers.ntt` does (``coset`` ``None`` or the shift ``g``).

:meth:`Groth16Prover.prove` runs the MSMs one after the other, in the order A, B1,
B2, C, H.  A caller that wants them concurrently (the pool's runner, splitting all
five across its nodes at once) uses the two halves instead:
:meth:`Groth16Prover.msm_tasks` (the NTT work, then the five :class:`MsmTask`) and
:meth:`Groth16Prover.assemble` (the proof from the five sums).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workers.codec.limb_arrays import limbs_to_ints
from workers.groth16 import qap
from workers.groth16.points import (
    G1Point,
    G2Point,
    g1_combine,
    g1_json,
    g2_combine,
    g2_json,
)
from workers.groth16.wtns import check_witness
from workers.groth16.zkey import ZKey
from workers.msm.pippenger import msm_limbs
from workers.ntt.radix2 import ntt_rows_limbs
from workers.params import BN254_R

MsmFn = Callable[[str, np.ndarray, np.ndarray], Any]
NttFn = Callable[[np.ndarray, bool, "int | None"], np.ndarray]


def default_msm(curve: str, bases: np.ndarray, scalars: np.ndarray) -> Any:
    """The single-process CPU MSM of :mod:`workers.msm.pippenger` (G1 and G2)."""
    if curve in ("bn254_g1", "bn254_g2"):
        return msm_limbs(curve, bases, scalars)
    raise ValueError(f"no Groth16 MSM on {curve!r}")


def default_ntt(rows: np.ndarray, inverse: bool, coset: int | None) -> np.ndarray:
    """The single-process CPU NTT of :mod:`workers.ntt.radix2` over ``bn254_fr`` rows."""
    return ntt_rows_limbs(qap.FIELD, rows, inverse, coset)


MSM_NAMES = ("A", "B1", "B2", "C", "H")


@dataclass(frozen=True, eq=False)
class MsmTask:
    """One MSM of a proof: ``name`` in :data:`MSM_NAMES`, arrays as in the module docstring."""

    name: str
    curve: str
    bases: np.ndarray
    scalars: np.ndarray


@dataclass(frozen=True)
class Proof:
    """A Groth16 proof and its public signals (``w[1..nPublic]``)."""

    pi_a: G1Point
    pi_b: G2Point
    pi_c: G1Point
    public_signals: list[int]

    def proof_json(self) -> dict[str, Any]:
        """The object of snarkjs' ``proof.json`` (``groth16 prove``), key order included."""
        return {
            "pi_a": g1_json(self.pi_a),
            "pi_b": g2_json(self.pi_b),
            "pi_c": g1_json(self.pi_c),
            "protocol": "groth16",
            "curve": "bn128",
        }

    def public_json(self) -> list[str]:
        """snarkjs' ``public.json``: the public signals as decimal strings."""
        return [str(v) for v in self.public_signals]


class Groth16Prover:
    """Groth16 proofs from a :class:`~workers.groth16.zkey.ZKey` and a witness (module doc)."""

    def __init__(self, msm: MsmFn | None = None, ntt: NttFn | None = None) -> None:
        self.msm: MsmFn = msm or default_msm
        self.ntt: NttFn = ntt or default_ntt

    def h_scalars(self, zkey: ZKey, witness: np.ndarray) -> np.ndarray:
        """``A·B − C`` on snarkjs' coset: the ``(domain_size, 4)`` scalars of the H MSM."""
        rows = qap.evaluate_abc(
            zkey.coeff_matrix,
            zkey.coeff_constraint,
            zkey.coeff_signal,
            zkey.coeff_values,
            witness,
            zkey.domain_size,
        )
        coefficients = self.ntt(rows, True, None)
        evaluations = self.ntt(coefficients, False, qap.coset_shift(zkey.domain_size))
        return qap.h_scalars(evaluations)

    def msm_tasks(self, zkey: ZKey, witness: np.ndarray) -> list[MsmTask]:
        """The five MSMs of a proof of ``witness`` (after the NTT work for ``H``).

        Raises :class:`~workers.errors.WitnessMismatchError` for a witness of another key.
        """
        return [*self.witness_tasks(zkey, witness), self.h_task(zkey, witness)]

    def witness_tasks(self, zkey: ZKey, witness: np.ndarray) -> list[MsmTask]:
        """The four MSMs whose scalars are the witness itself (A, B1, B2, C), no NTT needed.

        Raises :class:`~workers.errors.WitnessMismatchError` for a witness of another key.
        """
        check_witness(zkey, witness)
        witness = np.ascontiguousarray(witness, dtype=np.uint64)
        return [
            MsmTask("A", "bn254_g1", zkey.a_points, witness),
            MsmTask("B1", "bn254_g1", zkey.b1_points, witness),
            MsmTask("B2", "bn254_g2", zkey.b2_points, witness),
            MsmTask("C", "bn254_g1", zkey.c_points, witness[zkey.n_public + 1 :]),
        ]

    def h_task(self, zkey: ZKey, witness: np.ndarray) -> MsmTask:
        """The H MSM: its ``zkey.domain_size`` scalars cost the NTTs (:meth:`h_scalars`)."""
        witness = np.ascontiguousarray(witness, dtype=np.uint64)
        return MsmTask("H", "bn254_g1", zkey.h_points, self.h_scalars(zkey, witness))

    def assemble(
        self,
        zkey: ZKey,
        witness: np.ndarray,
        sums: dict[str, Any],
        r: int | None = None,
        s: int | None = None,
    ) -> Proof:
        """The proof from the five MSM results ``sums`` (by task name) and the blinding ``r, s``.

        ``r`` and ``s`` default to fresh random elements of ``F_r`` (zero
        knowledge); fixing them is for tests only.
        """
        r = secrets.randbelow(BN254_R) if r is None else r
        s = secrets.randbelow(BN254_R) if s is None else s
        pi_a = g1_combine([(zkey.alpha1, 1), (sums["A"], 1), (zkey.delta1, r)])
        pi_b = g2_combine([(zkey.beta2, 1), (sums["B2"], 1), (zkey.delta2, s)])
        b1 = g1_combine([(zkey.beta1, 1), (sums["B1"], 1), (zkey.delta1, s)])
        pi_c = g1_combine(
            [(sums["C"], 1), (sums["H"], 1), (pi_a, s), (b1, r), (zkey.delta1, -r * s)]
        )
        public = limbs_to_ints(witness[1 : zkey.n_public + 1])
        return Proof(pi_a=pi_a, pi_b=pi_b, pi_c=pi_c, public_signals=public)

    def prove(
        self, zkey: ZKey, witness: np.ndarray, r: int | None = None, s: int | None = None
    ) -> Proof:
        """A proof for ``witness`` (``(n_vars, 4)`` limbs, e.g. from :func:`read_wtns`).

        :meth:`msm_tasks`, each MSM through ``self.msm`` in turn, :meth:`assemble`.
        """
        tasks = self.msm_tasks(zkey, witness)
        sums = {task.name: self.msm(task.curve, task.bases, task.scalars) for task in tasks}
        return self.assemble(zkey, witness, sums, r, s)

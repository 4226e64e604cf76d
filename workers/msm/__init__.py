"""Multi-scalar multiplication on the CPU: Pippenger's bucket method and the input checks.

One implementation for ``bn254_g1``, ``bls12_381_g1``, ``bn254_g2`` and ``bls12_381_g2``:

* :mod:`~workers.msm.pippenger` — the entry points (``msm_limbs``, ``msm_to_limbs``), threads;
* :mod:`~workers.msm.window` — the window rule and its cost model;
* :mod:`~workers.msm.digits` — signed ``c``-bit digits of the scalars;
* :mod:`~workers.msm.xyzz` — the XYZZ point formulas (EFD), over any field;
* :mod:`~workers.msm.buckets` — XYZZ and batch-affine bucket accumulation, window sums;
* :mod:`~workers.msm.curve` — a curve as the kernels see it (field descriptor, layout);
* :mod:`~workers.msm.checks` — on the curve, in the subgroup.

See ``docs/architecture.md`` §5.
"""

"""Proving kernels (MSM, NTT) and their distribution over Ray.

The public, single-process API is :func:`msm` and :func:`ntt`; everything else
in this package is used by the pool's job runner.
"""

from workers.api import msm, ntt
from workers.errors import KernelInputError

__all__ = ["KernelInputError", "msm", "ntt"]

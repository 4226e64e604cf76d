"""Proving kernels (MSM, NTT) and their distribution over Ray.

The public, single-process API is :func:`msm`, :func:`ntt` and
:func:`ntt_batch`; everything else in this package is used by the pool's job
runner.
"""

from workers.api import msm, ntt, ntt_batch
from workers.errors import KernelInputError

__all__ = ["KernelInputError", "msm", "ntt", "ntt_batch"]

"""Every error the ``workers`` package raises.

Input errors subclass :class:`ValueError` so callers that only know the
public API (``msm``/``ntt``) can catch them generically, while the API layer
maps each one to a 4xx answer naming the problem.
"""

from __future__ import annotations


class WorkersError(Exception):
    """Base class of every error raised by ``workers``."""


class KernelInputError(WorkersError, ValueError):
    """The input of a kernel call is invalid; nothing was computed.

    ``field`` names the offending input (``"curve"``, ``"points"``,
    ``"scalars"``, ``"values"``, ...) so an HTTP layer can point at it.
    """

    field: str = "input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class UnknownCurveError(KernelInputError):
    field = "curve"


class UnknownFieldError(KernelInputError):
    field = "field"


class PointNotOnCurveError(KernelInputError):
    field = "points"


class LengthMismatchError(KernelInputError):
    field = "scalars"


class ScalarOutOfRangeError(KernelInputError):
    field = "scalars"


class ValueOutOfRangeError(KernelInputError):
    field = "values"


class SizeNotPowerOfTwoError(KernelInputError):
    field = "values"


class SizeTooLargeError(KernelInputError):
    """An NTT larger than the field's biggest power-of-two subgroup (``2^two_adicity``)."""

    field = "values"


class MalformedEncodingError(KernelInputError):
    """A malformed binary body (architecture §4): wrong length, non-canonical, off-curve point."""

    field = "body"


class NonCanonicalEncodingError(MalformedEncodingError, ValueOutOfRangeError):
    """An encoded integer is not below its modulus (also a :class:`ValueOutOfRangeError`)."""


class EncodedPointNotOnCurveError(MalformedEncodingError, PointNotOnCurveError):
    """An encoded point is not on its curve (also a :class:`PointNotOnCurveError`)."""


class JobInterrupted(WorkersError):
    """A distributed run stopped at a chunk boundary (job cancelled, runner stopping)."""


class PlanError(WorkersError):
    """A job plan that is not one: malformed stored JSON, or parts that do not fit the job."""


class DispatchError(WorkersError):
    """A distributed job could not be completed (a chunk failed for good)."""


class RayUnavailableError(WorkersError):
    """The Ray cluster this process is configured for does not answer (unreachable address,
    refused connection, wrong token, connection timed out)."""


class BackendUnavailableError(KernelInputError):
    """The requested backend cannot run this call (no CUDA device, or no GPU kernel for it)."""

    field = "backend"


class Groth16InputError(KernelInputError):
    """A Groth16 proving input (a snarkjs ``.zkey`` or ``.wtns`` file) is invalid."""

    field = "zkey"


class MalformedZkeyError(Groth16InputError):
    """A ``.zkey`` file is malformed: bad magic, version, sections, sizes or values."""

    field = "zkey"


class UnsupportedZkeyError(MalformedZkeyError):
    """A well-formed ``.zkey`` this prover does not handle (another curve, not Groth16)."""


class MalformedWitnessError(Groth16InputError):
    """A ``.wtns`` file is malformed: bad magic, version, sections, sizes or values."""

    field = "witness"


class WitnessMismatchError(Groth16InputError):
    """A witness that does not fit the proving key (length, field, or ``w[0] ≠ 1``)."""

    field = "witness"


class ProofVerificationError(WorkersError):
    """A Groth16 proof failed its pairing check against the verification key."""


class MalformedPointError(KernelInputError):
    """A point is not shaped as ``(x, y)`` (on G2: ``((x0, x1), (y0, y1))``)."""

    field = "points"


class PointNotInSubgroupError(PointNotOnCurveError):
    """A point is on the curve but outside its prime-order subgroup (cofactor ≠ 1)."""


class EncodedPointNotInSubgroupError(MalformedEncodingError, PointNotInSubgroupError):
    """An encoded point is on its curve but not in the prime-order subgroup."""


class MalformedR1csError(Groth16InputError):
    """A circom ``.r1cs`` file is malformed (bad magic, sections, sizes, indices or values)
    or not over BN254."""

    field = "r1cs"

"""Exact integer splitting of an amount by weights, and the operator fee.

:func:`split_largest_remainder` is the *largest remainder method* (Hamilton's
method of apportionment, https://en.wikipedia.org/wiki/Largest_remainder_method)
applied to token base units instead of parliamentary seats: every contributor
first gets the floor of their exact proportional share, then the units left
over (fewer than the number of contributors) go one each to the largest
fractional parts, ties broken by the smaller contributor id. The parts sum to
the amount exactly and each differs from the exact share by less than one
unit. Everything is integer arithmetic on Python ints: amounts may be far
beyond 2^64 and no float is ever involved.
"""

from __future__ import annotations

from collections.abc import Mapping

from accounting.errors import InvalidAmountError, InvalidFeeError, InvalidWeightsError
from accounting.types import as_units

#: One basis point is 1/10000.
BPS_DENOMINATOR = 10_000


def _non_negative_units(amount_units: object) -> int:
    amount = as_units(amount_units)
    if amount < 0:
        raise InvalidAmountError(f"amount_units must be >= 0, got {amount}")
    return amount


def fee_bps_checked(fee_bps: object) -> int:
    """``fee_bps`` if it is an ``int`` in ``[0, 10000]``; else raise :class:`InvalidFeeError`."""
    if isinstance(fee_bps, bool) or not isinstance(fee_bps, int):
        raise InvalidFeeError(f"fee_bps must be an integer, got {type(fee_bps).__name__}")
    if not 0 <= fee_bps <= BPS_DENOMINATOR:
        raise InvalidFeeError(f"fee_bps must be in [0, {BPS_DENOMINATOR}], got {fee_bps}")
    return int(fee_bps)


def fee_units(amount_units: int, fee_bps: int) -> int:
    """The operator fee on a reward: ⌊amount_units · fee_bps / 10000⌋ (never rounded up)."""
    amount = _non_negative_units(amount_units)
    return amount * fee_bps_checked(fee_bps) // BPS_DENOMINATOR


def split_largest_remainder(amount_units: int, weights: Mapping[int, int]) -> dict[int, int]:
    """Split ``amount_units`` among ``weights``' keys in proportion to their weights.

    Returns ``{key: units}`` for every key (ascending key order), possibly with
    zero parts. ``sum(result.values()) == amount_units`` always holds, and each
    part is ``⌊exact⌋`` or ``⌊exact⌋ + 1`` where ``exact = amount·w/Σw``.

    Raises :class:`InvalidAmountError` for a negative or non-integer amount and
    :class:`InvalidWeightsError` for empty weights, non-``int`` keys, or a weight
    that is not a positive ``int``.
    """
    amount = _non_negative_units(amount_units)
    if not isinstance(weights, Mapping):
        raise InvalidWeightsError(f"weights must be a mapping, got {type(weights).__name__}")
    if not weights:
        raise InvalidWeightsError("weights must not be empty: nothing to split among")
    # Fast path first (one pass over the types, 100,000 weights at a time); the
    # loop below only runs to name the offending entry.
    if (
        set(map(type, weights)) != {int}
        or set(map(type, weights.values())) != {int}
        or min(weights.values()) <= 0
    ):
        for key, weight in weights.items():
            if isinstance(key, bool) or not isinstance(key, int):
                raise InvalidWeightsError(f"weight keys must be integer ids, got {key!r}")
            if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
                raise InvalidWeightsError(
                    f"weight of {key} must be a positive integer, got {weight!r}"
                )

    keys = sorted(weights)
    total = sum(weights.values())
    parts: dict[int, int] = {}
    remainders: dict[int, int] = {}
    for key in keys:
        # exact share = amount·w/total = quotient + remainder/total
        parts[key], remainders[key] = divmod(amount * weights[key], total)
    left = amount - sum(parts.values())
    # 0 <= left < len(keys): Σ remainder/total == left and each remainder/total < 1.
    # Largest remainders first, ties by ascending key: ``keys`` ascend and the sort
    # is stable (also with ``reverse=True``), so equal remainders keep key order.
    if left:
        for key in sorted(keys, key=remainders.__getitem__, reverse=True)[:left]:
            parts[key] += 1
    return parts

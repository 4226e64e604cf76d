"""Every error the ``accounting`` package raises.

Input errors subclass :class:`ValueError` as well, so a caller that only
knows "bad argument" can catch them generically, while the API layer maps
each one to a 4xx answer naming the offending ``field``.

Whenever one of these is raised by a ledger writer, its savepoint has been
rolled back first: nothing of the failed call was written, while the caller's
transaction (and what the caller wrote in it before) is left for the caller to
commit or roll back.
"""

from __future__ import annotations


class AccountingError(Exception):
    """Base class of every error raised by ``accounting``."""


class InvalidInputError(AccountingError, ValueError):
    """An argument is invalid; nothing was read or written because of it.

    ``field`` names the offending argument (``"amount_units"``, ``"fee_bps"``,
    ``"weights"``, ...) so an HTTP layer can point at it.
    """

    field: str = "input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class InvalidAmountError(InvalidInputError):
    """An amount (token base units or work units) is not an acceptable integer."""

    field = "amount_units"


class InvalidFeeError(InvalidInputError):
    """A fee in basis points is not an integer in ``[0, 10000]``."""

    field = "fee_bps"


class InvalidWeightsError(InvalidInputError):
    """Split weights are empty, or a key/weight is not a (positive) integer."""

    field = "weights"


class InvalidIdError(InvalidInputError):
    """An identifier (idempotency key, job reference, contributor id) is invalid."""

    field = "id"


class ConflictError(AccountingError):
    """A record with this idempotency key exists with *different* contents.

    Posting the same id twice with the same contents is a no-op (``"exists"``);
    with different contents it is this error, and nothing is changed.
    ``differences`` maps each differing field to ``(stored, requested)``.
    """

    def __init__(
        self,
        *,
        entity: str,
        record_id: str,
        differences: dict[str, tuple[object, object]],
    ) -> None:
        self.entity = entity
        self.record_id = record_id
        self.differences = dict(differences)
        detail = ", ".join(
            f"{name}: stored {stored!r}, requested {requested!r}"
            for name, (stored, requested) in sorted(self.differences.items())
        )
        super().__init__(f"{entity} {record_id!r} already exists with other contents ({detail})")


class ImmutableRecordError(AccountingError):
    """Something tried to update or delete an immutable ledger record through the ORM."""


class InsufficientFundsError(AccountingError):
    """The account would go negative (a withdrawal or penalty above its balance, ...)."""

    field = "amount_units"


class InvalidStateError(AccountingError):
    """The operation does not apply to the record's current state.

    E.g. releasing a reward that holds nothing, marking a withdrawal that is not
    in the batch, a second release of the same reward.
    """

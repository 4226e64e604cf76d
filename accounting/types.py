"""Exact integer money columns.

Amounts are integers in the reward token's smallest unit (wei for an
EVM token), and they routinely exceed 2^63, the range of ``BIGINT``.
:class:`Units` stores them exactly:

* on PostgreSQL as ``NUMERIC(78, 0)`` — 78 decimal digits hold any
  unsigned 256-bit integer (2^256 − 1 has 78 digits);
* on every other dialect (SQLite in development and tests) as canonical
  decimal text (``"-123"``, ``"0"``, ``"340282366920938463463374607431768211456"``);
  SQLite would otherwise store a large number as an 8-byte float.

The Python side is always :class:`int`. Binding a ``bool``, a ``float``
or a :class:`~decimal.Decimal` with a fractional part raises
:class:`~accounting.errors.InvalidAmountError`; no float ever touches a
money path.

Because the text representation does not order or add numerically, this
package never sums or compares ``Units`` columns in SQL: it reads them and
does the arithmetic on Python ints.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import NUMERIC
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from accounting.errors import InvalidAmountError

#: Decimal digits a :class:`Units` column can hold.
UNITS_DIGITS = 78
#: Largest magnitude a :class:`Units` column can hold (10^78 − 1 ≥ 2^256 − 1).
MAX_UNITS = 10**UNITS_DIGITS - 1


def as_units(value: object, *, field: str = "amount_units") -> int:
    """Return ``value`` as an exact ``int`` of base units, or raise.

    Accepts ``int`` (not ``bool``) and a finite :class:`~decimal.Decimal`
    with no fractional part; rejects everything else (notably ``float``)
    and magnitudes above :data:`MAX_UNITS`.
    """
    if isinstance(value, bool):
        raise InvalidAmountError(f"{field} must be an integer, got a bool", field=field)
    if isinstance(value, int):
        result = int(value)
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise InvalidAmountError(
                f"{field} must be a whole number of base units, got {value!r}", field=field
            )
        result = int(value)
    else:
        raise InvalidAmountError(
            f"{field} must be an integer number of base units, got {type(value).__name__}",
            field=field,
        )
    if abs(result) > MAX_UNITS:
        raise InvalidAmountError(
            f"{field} has more than {UNITS_DIGITS} decimal digits", field=field
        )
    return result


class Units(TypeDecorator[int]):
    """An exact integer amount: ``NUMERIC(78, 0)`` on PostgreSQL, decimal text elsewhere."""

    impl = String(UNITS_DIGITS + 2)
    cache_ok = True

    @property
    def python_type(self) -> type[int]:
        return int

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(NUMERIC(UNITS_DIGITS, 0, asdecimal=True))
        return dialect.type_descriptor(String(UNITS_DIGITS + 2))

    def process_bind_param(self, value: object, dialect: Dialect) -> int | str | None:
        if value is None:
            return None
        units = as_units(value)
        if dialect.name == "postgresql":
            return units
        return str(units)

    def process_literal_param(self, value: object, dialect: Dialect) -> str:
        if value is None:
            return "NULL"
        units = as_units(value)
        if dialect.name == "postgresql":
            return str(units)
        return f"'{units}'"

    def process_result_value(self, value: object, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, str):
            return int(value)
        # PostgreSQL NUMERIC arrives as Decimal (exact); SQLite may hand back an
        # int when a row was written by hand with a numeric literal.
        return as_units(value, field="stored amount")

"""CSV cells that a spreadsheet will not run: text starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return is prefixed with ``'`` (OWASP's advice on CSV injection).

Numbers stay numbers: only ``str`` cells are escaped, so a negative amount (an ``int``)
is written as it is.  Every CSV this package renders goes through :func:`safe_row`.
"""

from __future__ import annotations

from collections.abc import Mapping

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value``, or ``"'" + value`` for text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def safe_row(row: Mapping[str, object]) -> dict[str, object]:
    """The row with every cell passed through :func:`safe_cell`."""
    return {name: safe_cell(value) for name, value in row.items()}

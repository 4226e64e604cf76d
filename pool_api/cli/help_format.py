"""``--help`` without a ``<bool>`` placeholder after flags (issue 17 item 3).

Typer shows every option's type in angle brackets, flags included (``--no-gpu <bool>``,
``--help <bool>``), though a flag takes no value.  :func:`hide_flag_types` makes the type
column empty for flags; options that take a value keep theirs.
"""

from __future__ import annotations

from typer.core import TyperOption

_original = TyperOption.display_type_rich


def _display_type(self: TyperOption, ctx: object) -> str | None:
    if self.is_flag and not self.count:
        return None
    return _original(self, ctx)  # type: ignore[arg-type]


def hide_flag_types() -> None:
    """Hide the type of flags in every command's ``--help`` (idempotent)."""
    TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]

"""JSON numbers of job bodies: decimal strings, ``0x`` hex strings or integers (architecture §4).

Numbers that may exceed 2^53 travel as strings, as in snarkjs' ``proof.json``;
the parsed integers are range-checked later, by the job's own validation
(:func:`workers.api.validate_msm_input`, :func:`workers.api.validate_ntt_input`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workers.errors import KernelInputError

# Long enough for any canonical coordinate (BLS12-381's 381-bit F_p: 115 digits, 96 hex
# digits), short enough that parsing one number stays cheap.
_DECIMAL = re.compile(r"[0-9]{1,120}")
_HEX = re.compile(r"0[xX][0-9a-fA-F]{1,100}")


def parse_number(raw: object, where: str) -> int:
    """A non-negative integer from a decimal string, a ``0x`` hex string or a JSON integer."""
    if isinstance(raw, bool):
        raise KernelInputError(f"{where} must be an integer, not a boolean", field=where)
    if isinstance(raw, int):
        if raw < 0:
            raise KernelInputError(f"{where} is negative", field=where)
        return raw
    if isinstance(raw, str):
        if _DECIMAL.fullmatch(raw):
            return int(raw)
        if _HEX.fullmatch(raw):
            return int(raw, 16)
    raise KernelInputError(
        f"{where} must be a decimal string, a 0x-hex string or an integer; got {raw!r:.40}",
        field=where,
    )


def parse_numbers(raws: Sequence[object], name: str) -> list[int]:
    """:func:`parse_number` of every item, named ``name[i]`` in errors."""
    return [parse_number(raw, f"{name}[{i}]") for i, raw in enumerate(raws)]


def parse_points(raws: Sequence[object], name: str = "points") -> list[tuple]:
    """``[x, y]`` pairs; on G2 each coordinate may itself be a pair ``[c0, c1]``."""
    points: list[tuple] = []
    for i, raw in enumerate(raws):
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            raise KernelInputError(f"{name}[{i}] must be a pair [x, y]", field=name)
        point = []
        for j, coordinate in enumerate(raw):
            where = f"{name}[{i}][{j}]"
            if isinstance(coordinate, list | tuple):
                if len(coordinate) != 2:
                    raise KernelInputError(
                        f"{where} must be a number or a pair [c0, c1]", field=name
                    )
                point.append(
                    tuple(parse_number(c, f"{where}[{k}]") for k, c in enumerate(coordinate))
                )
            else:
                point.append(parse_number(coordinate, where))
        points.append(tuple(point))
    return points

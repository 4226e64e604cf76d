"""Job payloads: JSON numbers in, little-endian limb blobs at rest, JSON out (DESIGN §4)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import numpy as np

from workers.encoding import ints_to_limbs, limbs_to_ints, points_to_limbs
from workers.errors import KernelInputError

_DECIMAL = re.compile(r"[0-9]{1,100}")
_HEX = re.compile(r"0[xX][0-9a-fA-F]{1,80}")
LIMBS = 4
DTYPE = np.dtype("<u8")


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
    return [parse_number(raw, f"{name}[{i}]") for i, raw in enumerate(raws)]


def parse_points(raws: Sequence[object], name: str = "points") -> list[tuple[int, int]]:
    points = []
    for i, raw in enumerate(raws):
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            raise KernelInputError(f"{name}[{i}] must be a pair [x, y]", field=name)
        points.append(
            (parse_number(raw[0], f"{name}[{i}][0]"), parse_number(raw[1], f"{name}[{i}][1]"))
        )
    return points


def encode_msm_input(points: Sequence[tuple[int, int]], scalars: Sequence[int]) -> bytes:
    """``bases (n, 2, 4)`` then ``scalars (n, 4)``: x‖y‖…‖k‖… as 32-byte little-endian ints."""
    bases = points_to_limbs(points).astype(DTYPE, copy=False)
    ks = ints_to_limbs(scalars, LIMBS).astype(DTYPE, copy=False)
    return bases.tobytes() + ks.tobytes()


def decode_msm_input(data: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
    flat = np.frombuffer(data, dtype=DTYPE)
    bases = flat[: n * 2 * LIMBS].reshape(n, 2, LIMBS).astype(np.uint64)
    scalars = flat[n * 2 * LIMBS :].reshape(n, LIMBS).astype(np.uint64)
    return bases, scalars


def encode_field_elements(values: Sequence[int] | np.ndarray) -> bytes:
    arr = values if isinstance(values, np.ndarray) else ints_to_limbs(values, LIMBS)
    return np.ascontiguousarray(arr).astype(DTYPE, copy=False).tobytes()


def decode_field_elements(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=DTYPE).reshape(-1, LIMBS).astype(np.uint64)


def result_to_json(kind: str, data: bytes) -> str:
    """The stored result blob as the API's JSON: ``[x, y]`` or a list, decimal strings."""
    values = limbs_to_ints(decode_field_elements(data))
    return json.dumps([str(v) for v in values])

"""Job payloads: JSON numbers in, little-endian limb blobs at rest, JSON out (architecture §4)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import numpy as np

from workers.codec.limb_arrays import (
    coordinate_words,
    ints_to_limbs,
    limbs_to_ints,
    points_to_limbs,
)
from workers.errors import KernelInputError

# Long enough for any canonical coordinate (BLS12-381's 381-bit F_p: 115 digits, 96 hex
# digits), short enough that parsing one number stays cheap.
_DECIMAL = re.compile(r"[0-9]{1,120}")
_HEX = re.compile(r"0[xX][0-9a-fA-F]{1,100}")
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


def encode_msm_input(
    points: Sequence[tuple], scalars: Sequence[int], curve: str = "bn254_g1"
) -> bytes:
    """``bases (n, 2, words)`` then ``scalars (n, 4)``, little-endian 64-bit words.

    ``words`` per coordinate: 4 on ``bn254_g1``, 6 on ``bls12_381_g1``, 8 on
    ``bn254_g2`` and 12 on ``bls12_381_g2`` (:func:`workers.codec.limb_arrays.points_to_limbs`).
    """
    bases = points_to_limbs(points, curve).astype(DTYPE, copy=False)
    ks = ints_to_limbs(scalars, LIMBS).astype(DTYPE, copy=False)
    return bases.tobytes() + ks.tobytes()


def decode_msm_input(data: bytes, n: int, curve: str = "bn254_g1") -> tuple[np.ndarray, np.ndarray]:
    words = coordinate_words(curve)
    flat = np.frombuffer(data, dtype=DTYPE)
    bases = flat[: n * 2 * words].reshape(n, 2, words).astype(np.uint64)
    scalars = flat[n * 2 * words :].reshape(n, LIMBS).astype(np.uint64)
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

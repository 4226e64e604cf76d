"""Job submission and result bodies: JSON (decimal strings) or binary (docs/architecture.md §4).

Binary submission: ``POST /v1/jobs`` with ``Content-Type: application/octet-stream``
and the job's parameters in the query string (``kind``, ``curve`` or ``field``,
``inverse``).  Bodies are little-endian fixed-width canonical integers:

* MSM on ``curve``: ``n`` points ``x‖y`` (64 bytes each on ``bn254_g1``, infinity
  all zeros), then ``n`` scalars of the curve's scalar field (32 bytes each).
* NTT on ``field``: ``n`` elements of :func:`workers.codec.binary.element_width` bytes
  (32, or 8 on Goldilocks, 4 on BabyBear).

A binary result (``Accept: application/octet-stream`` or ``?format=binary``) is
the MSM point ``x‖y`` or the NTT's output elements in the same encoding.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from pool_api.api.schemas import JobCreate, MsmJobCreate
from pool_api.codec import (
    decode_field_elements,
    encode_field_elements,
    encode_msm_input,
    parse_numbers,
    parse_points,
)
from pool_api.store.models import Job
from workers.api import validate_msm_input, validate_ntt_input
from workers.codec import binary
from workers.codec.limb_arrays import limbs_to_ints
from workers.errors import KernelInputError, MalformedEncodingError
from workers.params import CURVES

_JOB_CREATE = TypeAdapter(JobCreate)


def _inline_refs(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]), defs)
        return {k: _inline_refs(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(v, defs) for v in schema]
    return schema


def _json_body_schema() -> dict[str, Any]:
    schema = _JOB_CREATE.json_schema()
    inlined = _inline_refs(schema, schema.get("$defs", {}))
    inlined.pop("discriminator", None)  # its mapping names $defs that are inlined now
    return inlined


REQUEST_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _json_body_schema()},
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
                "description": "architecture §4 binary body; parameters in the query string.",
            },
        },
    }
}


def parse_json_job(raw: bytes) -> tuple[Job, bytes]:
    """Validate a JSON job body; ``(job without id, input blob)``."""
    try:
        body = _JOB_CREATE.validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for error in errors:
            error["loc"] = ("body", *error["loc"])
            if isinstance(error.get("input"), bytes):  # invalid JSON: not UTF-8 in a response
                error["input"] = error["input"].decode("utf-8", "replace")
        raise RequestValidationError(errors) from None
    if isinstance(body, MsmJobCreate):
        points = parse_points(body.points)
        scalars = parse_numbers(body.scalars, "scalars")
        validate_msm_input(body.curve, points, scalars)
        job = Job(id="", kind="msm", curve=body.curve, size=len(points), input_sha256="")
        return job, encode_msm_input(points, scalars, body.curve)
    values = parse_numbers(body.values, "values")
    validate_ntt_input(body.field, values)
    job = Job(
        id="", kind="ntt", field=body.field, inverse=body.inverse, size=len(values), input_sha256=""
    )
    return job, encode_field_elements(values)


def _binary_msm_input(curve: str, raw: bytes) -> tuple[Job, bytes]:
    point_bytes = binary.point_width(curve)
    scalar_bytes = binary.element_width(CURVES[curve].scalar_field)
    per_term = point_bytes + scalar_bytes
    if not raw or len(raw) % per_term:
        raise MalformedEncodingError(
            f"{curve} MSM body of {len(raw)} bytes is not n·{per_term} bytes "
            f"(n points of {point_bytes} bytes, then n scalars of {scalar_bytes})"
        )
    n = len(raw) // per_term
    points = binary.decode_points(curve, raw[: n * point_bytes])
    scalar_raw = raw[n * point_bytes :]
    scalars = [
        int.from_bytes(scalar_raw[i : i + scalar_bytes], "little")
        for i in range(0, len(scalar_raw), scalar_bytes)
    ]
    validate_msm_input(curve, points, scalars)
    return Job(id="", kind="msm", curve=curve, size=n, input_sha256=""), encode_msm_input(
        points, scalars, curve
    )


def parse_binary_job(
    raw: bytes, kind: str | None, curve: str | None, field: str | None, inverse: bool
) -> tuple[Job, bytes]:
    """Validate a binary job body and its query parameters; ``(job without id, blob)``."""
    if kind == "msm":
        if curve is None:
            raise KernelInputError("a binary MSM needs ?curve=…", field="curve")
        binary.point_width(curve)  # unknown curve → UnknownCurveError
        return _binary_msm_input(curve, raw)
    if kind == "ntt":
        if field is None:
            raise KernelInputError("a binary NTT needs ?field=…", field="field")
        values = binary.decode_field_elements(field, raw)
        validate_ntt_input(field, values)
        job = Job(
            id="", kind="ntt", field=field, inverse=inverse, size=len(values), input_sha256=""
        )
        return job, encode_field_elements(values)
    raise KernelInputError("a binary job needs ?kind=msm or ?kind=ntt", field="kind")


def result_json(kind: str, curve: str | None, result_blob: bytes) -> list[Any]:
    """The stored result as JSON values (decimal strings, docs/architecture.md §4).

    An MSM's point is ``[x, y]`` (G2: ``[[x0, x1], [y0, y1]]``); an NTT's result
    is the list of its elements.
    """
    if kind == "msm":
        assert curve is not None
        point = binary.decode_points(curve, result_blob)[0]
        return [
            [str(c) for c in coordinate] if isinstance(coordinate, tuple) else str(coordinate)
            for coordinate in point
        ]
    return [str(v) for v in limbs_to_ints(decode_field_elements(result_blob))]


def binary_result(kind: str, curve: str | None, field: str | None, result_blob: bytes) -> bytes:
    """The result in architecture §4 encoding: the MSM point ``x‖y`` or the NTT's elements."""
    if kind == "msm":
        return result_blob  # stored in that encoding already
    assert field is not None
    return binary.encode_field_elements(field, limbs_to_ints(decode_field_elements(result_blob)))

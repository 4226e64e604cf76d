"""Job submission and result bodies: JSON (decimal strings) or binary (docs/architecture.md §4).

Binary submission: ``POST /v1/jobs`` with ``Content-Type: application/octet-stream``
and the job's parameters in the query string (``kind``, ``curve`` or ``field``,
``inverse``).  Bodies are the compact little-endian words of
:mod:`workers.codec.arrays`:

* MSM on ``curve``: ``n`` points ``x‖y`` (64 bytes each on ``bn254_g1``, infinity
  all zeros), then ``n`` scalars of the curve's scalar field (32 bytes each).
* NTT on ``field``: ``n`` elements of :func:`workers.codec.arrays.element_width` bytes
  (32, or 8 on Goldilocks, 4 on BabyBear).

The stored input blob is that same encoding whichever way the job came in (a
binary body, once validated, is stored as it is), and so is the stored result:
a binary result (``Accept: application/octet-stream`` or ``?format=binary``) is
the MSM point ``x‖y`` or the NTT's output elements, read back unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from pool_api.api.numbers import parse_numbers, parse_points
from pool_api.api.schemas import JobCreate, MsmJobCreate
from pool_api.store.models import Job
from workers.api import validate_msm_input, validate_ntt_input, validate_ntt_size
from workers.codec import arrays
from workers.codec.limb_arrays import limbs_to_point, points_to_limbs
from workers.errors import KernelInputError

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
        scalar_field = arrays.curve_params(body.curve).scalar_field
        blob = arrays.encode_msm_input(
            body.curve,
            points_to_limbs(points, body.curve),
            arrays.elements_from_ints(scalar_field, scalars, "scalars", checked=False),
            check_points=False,  # validate_msm_input checked them
        )
        return job, blob
    values = parse_numbers(body.values, "values")
    validate_ntt_input(body.field, values)
    job = Job(
        id="", kind="ntt", field=body.field, inverse=body.inverse, size=len(values), input_sha256=""
    )
    return job, arrays.encode_elements(
        body.field, arrays.elements_from_ints(body.field, values, checked=False)
    )


def parse_binary_job(
    raw: bytes, kind: str | None, curve: str | None, field: str | None, inverse: bool
) -> tuple[Job, bytes]:
    """Validate a binary job body and its query parameters; ``(job without id, blob)``."""
    if kind == "msm":
        if curve is None:
            raise KernelInputError("a binary MSM needs ?curve=…", field="curve")
        n = arrays.msm_input_size(curve, raw)  # unknown curve → UnknownCurveError
        arrays.decode_msm_input(curve, raw, n)  # every check: ranges, curve, subgroup
        return Job(id="", kind="msm", curve=curve, size=n, input_sha256=""), bytes(raw)
    if kind == "ntt":
        if field is None:
            raise KernelInputError("a binary NTT needs ?field=…", field="field")
        n = len(arrays.decode_elements(field, raw))
        validate_ntt_size(field, n)
        job = Job(id="", kind="ntt", field=field, inverse=inverse, size=n, input_sha256="")
        return job, bytes(raw)
    raise KernelInputError("a binary job needs ?kind=msm or ?kind=ntt", field="kind")


def result_json(kind: str, curve: str | None, field: str | None, result_blob: bytes) -> list[Any]:
    """The stored result as JSON values (decimal strings, docs/architecture.md §4).

    An MSM's point is ``[x, y]`` (G2: ``[[x0, x1], [y0, y1]]``); an NTT's result
    is the list of its elements.
    """
    if kind == "msm":
        assert curve is not None
        point = limbs_to_point(arrays.decode_points(curve, result_blob)[0], curve)
        return [
            [str(c) for c in coordinate] if isinstance(coordinate, tuple) else str(coordinate)
            for coordinate in point
        ]
    assert field is not None
    values = arrays.elements_to_ints(field, arrays.decode_elements(field, result_blob))
    return [str(v) for v in values]


def binary_result(kind: str, curve: str | None, field: str | None, result_blob: bytes) -> bytes:
    """The result in architecture §4 encoding: the MSM point ``x‖y`` or the NTT's elements,
    which is how it is stored."""
    return result_blob

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

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from pool_api.api.numbers import parse_numbers, parse_points
from pool_api.api.schemas import JobCreate, MsmJobCreate
from pool_api.errors import JOB_KIND_MESSAGE, PayloadTooLargeError
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


async def read_body(request: Request) -> bytearray:
    """The request body in one growing buffer, without the copies of ``Request.body()``.

    ``Request.body()`` keeps every received chunk and then joins them (twice the body
    at its peak); here each chunk is appended to one ``bytearray`` as it arrives (grown
    in place; nothing is allocated ahead of the bytes that came).  A binary job is then
    read straight from this buffer (``numpy.frombuffer``) and stored as it is: about
    one body's worth of memory.
    """
    buffer = bytearray()
    async for chunk in request.stream():
        buffer += chunk
    return buffer


def _element_width(kind: str | None, curve: str | None, field: str | None) -> int | None:
    """Bytes per element (NTT) or term (MSM) of a binary body, if the parameters are known."""
    try:
        if kind == "ntt" and field is not None:
            return arrays.element_width(field)
        if kind == "msm" and curve is not None:
            return arrays.point_width(curve) + arrays.scalar_width(curve)
    except KernelInputError:
        return None  # an unknown field or curve: the parser says so, with the body
    return None


def check_job_elements(n: int, max_elements: int) -> None:
    """413 for a job of more than ``PROVERPOOL_MAX_JOB_ELEMENTS`` elements (or terms)."""
    if n > max_elements:
        raise PayloadTooLargeError(
            f"a job of {n} elements is over the limit of {max_elements} per request "
            "(PROVERPOOL_MAX_JOB_ELEMENTS)"
        )


def check_declared_size(
    request: Request, kind: str | None, curve: str | None, field: str | None, max_elements: int
) -> None:
    """Refuse an over-large binary job by its ``Content-Length``, before reading the body."""
    declared = request.headers.get("content-length", "")
    width = _element_width(kind, curve, field)
    if declared.isdigit() and width:
        check_job_elements(int(declared) // width, max_elements)


_KIND_ERRORS = ("union_tag_invalid", "union_tag_not_found")
JSON_KIND_MESSAGE = (
    f"{JOB_KIND_MESSAGE} (a JSON body is msm or ntt; groth16 is a binary .wtns body with "
    "?kind=groth16&zkey=<sha256>)"
)
EMPTY_MSM_MESSAGE = "an MSM needs at least one point and scalar"


def parse_json_job(raw: bytes | bytearray, max_elements: int) -> tuple[Job, bytes]:
    """Validate a JSON job body; ``(job without id, input blob)``."""
    # Every element takes at least one comma and an MSM term at most eight: a body with
    # far too many is refused before it is parsed into Python objects.
    commas = raw.count(b",")
    if commas > 8 * (max_elements + 1):
        check_job_elements(commas // 8, max_elements)
    try:
        body = _JOB_CREATE.validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        for error in errors:
            error["loc"] = ("body", *error["loc"])
            if error["type"] in _KIND_ERRORS:  # no or an unknown "kind"
                error["loc"], error["msg"] = ("body", "kind"), JSON_KIND_MESSAGE
        raise RequestValidationError(errors) from None
    check_job_elements(
        len(body.points) if isinstance(body, MsmJobCreate) else len(body.values), max_elements
    )
    if isinstance(body, MsmJobCreate):
        if not body.points and not body.scalars:
            raise KernelInputError(EMPTY_MSM_MESSAGE, field="points")
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
    raw: bytes | bytearray,
    kind: str | None,
    curve: str | None,
    field: str | None,
    inverse: bool,
    max_elements: int,
) -> tuple[Job, bytes | bytearray]:
    """Validate a binary job body and its query parameters; ``(job without id, blob)``.

    The body is checked where it lies (NumPy views of ``raw``, no Python integers) and
    is itself the blob to store: the compact encoding of :mod:`workers.codec.arrays`.
    """
    if kind == "msm":
        if curve is None:
            raise KernelInputError("a binary MSM needs ?curve=…", field="curve")
        if not raw:
            arrays.point_width(curve)  # an unknown curve is named first
            raise KernelInputError(EMPTY_MSM_MESSAGE, field="body")
        n = arrays.msm_input_size(curve, raw)  # unknown curve → UnknownCurveError
        check_job_elements(n, max_elements)
        arrays.decode_msm_input(curve, raw, n)  # every check: ranges, curve, subgroup
        return Job(id="", kind="msm", curve=curve, size=n, input_sha256=""), raw
    if kind == "ntt":
        if field is None:
            raise KernelInputError("a binary NTT needs ?field=…", field="field")
        width = arrays.element_width(field)  # unknown field → UnknownFieldError
        check_job_elements(len(raw) // width, max_elements)
        n = len(arrays.decode_elements(field, raw))
        validate_ntt_size(field, n)
        job = Job(id="", kind="ntt", field=field, inverse=inverse, size=n, input_sha256="")
        return job, raw
    raise KernelInputError(f"a binary job needs ?kind=: {JOB_KIND_MESSAGE}", field="kind")


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

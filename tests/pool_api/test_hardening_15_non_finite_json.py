"""Issue 14 item 15: non-finite JSON numbers and out-of-range integers gave 500.

The fault: ``NaN``, ``Infinity`` or ``1e999`` in a rejected field gave 500 on 14 of 15
JSON endpoints (the 422 echoed the input back, and JSON cannot carry it), and
``POST /v1/rewards/{id}/release`` with ``"to": 2^63`` raised OverflowError (500) on
SQLite.  What must hold: every JSON endpoint (enumerated from the OpenAPI schema)
answers 4xx, never 5xx, to NaN, ±Infinity, ±1e999 and integers beyond 64 bits in
each field of its body; validation errors carry ``loc``, ``msg`` and ``type`` and
never the input; ids are bounded to what the databases hold.
"""

from __future__ import annotations

import json
import re
from typing import Any

from route_auth import api_routes

BAD_LITERALS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    str(2**63),
    str(-(2**63) - 1),
    str(10**80),
)


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _variants(schema: dict[str, Any], spec: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, spec)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return [v for sub in schema[key] for v in _variants(sub, spec)]
    return [schema]


def _valid_value(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A plausible value of ``schema`` (the other fields of a body under test)."""
    schema = _variants(schema, spec)[0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return "x"


def _bodies(schema: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """Raw JSON bodies: each property of each variant set to each bad literal (and, for
    arrays, a list holding it), the other required properties valid; and the literal
    as the whole body."""
    bodies = list(BAD_LITERALS)
    for variant in _variants(schema, spec):
        properties = variant.get("properties", {})
        base = {
            name: _valid_value(sub, spec)
            for name, sub in properties.items()
            if name in variant.get("required", ())
        }
        for name, sub in properties.items():
            is_array = _variants(sub, spec)[0].get("type") == "array"
            for literal in BAD_LITERALS:
                for value in (literal, f"[{literal}]") if is_array else (literal,):
                    rest = {k: v for k, v in base.items() if k != name}
                    prefix = json.dumps(rest)[1:-1]
                    bodies.append("{" + (prefix + ", " if prefix else "") + f'"{name}": {value}}}')
    return bodies


def test_no_json_endpoint_answers_5xx_to_non_finite_or_huge_numbers(api):
    carol = api.add_contributor("carol")
    spec = api.client.app.openapi()
    auth = {(m, p): kind for m, p, kind in api_routes(api.client.app)}
    params = {
        "contributor_id": str(carol["id"]),
        "job_id": "0" * 32,
        "batch_id": "b",
        "withdrawal_id": "w",
        "reward_id": "r",
        "ray_node_id": "c" * 56,
        "submitter_id": "1",
        "sha256": "0" * 64,
    }
    tried, failures = 0, []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            url = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)
            kind = auth.get((method.upper(), path))
            headers = {"Content-Type": "application/json"}
            headers |= api.key(carol) if kind == "contributor" else api.operator
            for body in _bodies(content["application/json"]["schema"], spec):
                answer = api.client.request(method, url, content=body, headers=headers)
                tried += 1
                if not 400 <= answer.status_code < 500:
                    failures.append(f"{method.upper()} {path} {body}: {answer.status_code}")
                elif answer.status_code == 422:
                    for error in answer.json()["detail"]:
                        assert set(error) == {"loc", "msg", "type"}, error
    assert tried > 150
    assert not failures, f"{len(failures)} of {tried}:\n" + "\n".join(failures[:40])


def test_release_to_a_contributor_id_beyond_the_database_is_422(api):
    for to in (2**63, 2**31, 0, -1):
        answer = api.client.post(
            "/v1/rewards/r/release", json={"release_id": "x", "to": to}, headers=api.operator
        )
        assert answer.status_code == 422, (to, answer.status_code, answer.text)


def test_validation_errors_do_not_echo_the_input(api):
    secret = "s3cret-value-that-must-not-come-back"
    answer = api.client.post(
        "/v1/contributors", json={"name": "x", "invite": 7, "bogus": secret}, headers=api.operator
    )
    assert answer.status_code == 422
    assert secret not in answer.text
    assert all(set(error) == {"loc", "msg", "type"} for error in answer.json()["detail"])

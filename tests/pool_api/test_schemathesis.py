"""schemathesis against the app's OpenAPI schema, over real HTTP (issue 6, acceptance;
issue 14, acceptance).

Every operation (but the endless ``GET /v1/events`` stream, tested in
``test_events.py``) gets generated valid and invalid requests with each of three
credentials: the operator token, a contributor's API key and none at all (the
credential the route takes gets the most examples).  Every JSON body is also sent
again with one of its values replaced by a non-finite or out-of-range number
(``NaN``, ``±Infinity``, ``1e999``, ``±2^63``; schemathesis itself generates only
finite JSON).  No answer may be a 5xx, and every documented answer must match its
schema.
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from route_auth import api_routes
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlmodel import Session

from pool_api.store.models import Node

OPERATOR_TOKEN = "operator-test-token-0123456789abcdef"

EXAMPLES_PER_OPERATION = 20
"""Examples with the credential the route takes (the operator's for public routes)."""
EXAMPLES_OTHER_CREDENTIALS = 4
"""Examples with each of the two other credentials (mostly 401/403: a few suffice)."""
BAD_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e999", str(2**63), str(-(2**63) - 1))
_SENTINEL = "__proverpool_bad_number__"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_server_errors_and_no_schema_violations(serve):
    base_url, app = serve()
    import httpx

    with httpx.Client(base_url=base_url) as client:
        operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        carol = client.post("/v1/contributors", json={"name": "carol"}, headers=operator).json()
        with Session(app.state.pool.engine) as session:  # POST /v1/nodes needs a live node
            session.add(Node(ray_node_id="c" * 56, contributor_id=carol["id"]))
            session.commit()
        client.post(
            "/v1/jobs",
            json={"kind": "ntt", "field": "babybear", "values": [1, 2]},
            headers=operator,
        )
        contributor_key = carol["api_key"]
    auth = {(m, p): a for m, p, a in api_routes(app)}
    schema = schemathesis.openapi.from_dict(app.openapi()).exclude(path="/v1/events")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    credentials = {
        "operator": {"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        "contributor": {"Authorization": f"Bearer {contributor_key}"},
        "anonymous": {},
    }
    failures = []
    for operation in operations:
        kind = auth[(operation.method.upper(), operation.path)]
        own = "contributor" if kind == "contributor" else "operator"
        for name, headers in credentials.items():
            examples = EXAMPLES_PER_OPERATION if name == own else EXAMPLES_OTHER_CREDENTIALS
            try:
                _fuzz(operation, base_url, headers, examples)
            except Exception as exc:  # report every failing operation at once
                failures.append(f"{operation.method.upper()} {operation.path} ({name}): {exc}")
    assert not failures, "\n\n".join(failures)
    assert next(_VARIANTS) > 100  # the non-finite bodies were sent


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths to the scalar values of a JSON document (numbers first)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _with_bad_number(body: Any, index: int) -> str:
    """``body`` as JSON text with one value (a number when there is one) replaced by
    ``BAD_NUMBERS[index % …]``, a literal ``json.dumps`` would not write."""
    literal = BAD_NUMBERS[index % len(BAD_NUMBERS)]
    paths = _leaves(body)
    numbers = [p for p in paths if _is_number(_get(body, p))]
    candidates = numbers or paths
    if not candidates or candidates == [()]:
        return literal
    path = candidates[index % len(candidates)]
    changed = copy.deepcopy(body)
    _get(changed, path[:-1])[path[-1]] = _SENTINEL
    return json.dumps(changed).replace(json.dumps(_SENTINEL), literal)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


_VARIANTS = itertools.count()


def _send_bad_number(case, base_url: str, headers: dict[str, str]) -> None:
    """The case again, its JSON body carrying a non-finite or out-of-range number."""
    if case.media_type != "application/json" or not isinstance(case.body, dict | list):
        return
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=headers)
    sent_headers = {
        k: v for k, v in kwargs.get("headers", {}).items() if k.lower() != "content-length"
    }
    sent_headers["Content-Type"] = "application/json"
    body = _with_bad_number(case.body, next(_VARIANTS))
    try:
        answer = httpx.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=sent_headers,
            content=body,
            timeout=60,
        )
    except (httpx.LocalProtocolError, UnicodeEncodeError):
        return  # a generated header no HTTP client sends (e.g. "Bearer " with no token)
    assert answer.status_code < 500, f"{answer.status_code} for {body[:300]}: {answer.text[:300]}"


def _fuzz(operation, base_url: str, headers: dict[str, str], examples: int) -> None:
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        if "Authorization" not in (case.headers or {}):
            case.headers = {**(case.headers or {}), **headers}
        response = case.call(base_url=base_url)
        case.validate_response(response, checks=CHECKS)
        _send_bad_number(case, base_url, headers)

    check()

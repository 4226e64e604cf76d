"""schemathesis against the app's OpenAPI schema, over real HTTP (issue 6, acceptance).

Every operation (but the endless ``GET /v1/events`` stream, tested in
``test_events.py``) gets generated valid and invalid requests with valid
credentials: the operator token, or a contributor's key where the route takes
one.  No answer may be a 5xx, and every documented answer must match its schema.
"""

from __future__ import annotations

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

EXAMPLES_PER_OPERATION = 40
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
        client.post("/v1/jobs", json={"kind": "ntt", "field": "babybear", "values": [1, 2]})
        contributor_key = carol["api_key"]
    auth = {(m, p): a for m, p, a in api_routes(app)}
    schema = schemathesis.openapi.from_dict(app.openapi()).exclude(path="/v1/events")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures = []
    for operation in operations:
        kind = auth[(operation.method.upper(), operation.path)]
        token = contributor_key if kind == "contributor" else OPERATOR_TOKEN
        try:
            _fuzz(operation, base_url, {"Authorization": f"Bearer {token}"})
        except Exception as exc:  # report every failing operation at once
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)


def _fuzz(operation, base_url: str, headers: dict[str, str]) -> None:
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
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

    check()

"""The API's routes and the authentication each one takes (for the authz and schema tests)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from pool_api.api.deps import (
    require_contributor,
    require_operator,
    require_self_or_operator,
    require_submitter,
)
from pool_api.api.node_auth import require_node_owner


def _calls(dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def api_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """``(method, path, auth)`` of every API route, auth one of operator / contributor /
    self_or_operator / submitter (the operator or a submitter key) / public."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        calls = set(_calls(route.dependant))
        if require_operator in calls:
            auth = "operator"
        elif require_self_or_operator in calls:
            auth = "self_or_operator"
        elif require_contributor in calls or require_node_owner in calls:
            auth = "contributor"
        elif require_submitter in calls:
            auth = "submitter"
        else:
            auth = "public"
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                found.append((method, context.path, auth))
    return found

"""Errors of the application layer and their HTTP answers (JSON ``{"detail": …}``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from accounting.errors import (
    AccountingError,
    ConflictError,
    InsufficientFundsError,
    InvalidStateError,
)
from workers.errors import KernelInputError

log = logging.getLogger(__name__)


class ApiError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(ApiError):
    status_code = 404


class StateConflictError(ApiError):
    status_code = 409


class UnsupportedMediaTypeError(ApiError):
    status_code = 415


class ForbiddenError(ApiError):
    """The caller is known but may not do this (a banned contributor, another's node)."""

    status_code = 403


class UnavailableError(ApiError):
    """A part the request needs does not answer (e.g. the Ray cluster)."""

    status_code = 503


class PayloadTooLargeError(ApiError):
    """A request over a size limit (``PROVERPOOL_MAX_JOB_ELEMENTS``, the body limit)."""

    status_code = 413


def _plain_loc(loc: object) -> list[str | int]:
    parts = loc if isinstance(loc, list | tuple) else (loc,)
    return [p if isinstance(p, int | str) and not isinstance(p, bool) else str(p) for p in parts]


JOB_KINDS = ("msm", "ntt", "groth16")
JOB_KIND_MESSAGE = "kind must be one of " + ", ".join(JOB_KINDS)
#: Longest message a 4xx answer carries: a message quoting what it refuses (an unknown
#: curve's name, say) must not send a large request back to its sender (issue 17 item 10).
MAX_MESSAGE_CHARS = 300


def short_message(message: str) -> str:
    """``message`` cut to :data:`MAX_MESSAGE_CHARS` characters (marked with ``…``)."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 1] + "…"


def _message(error: dict[str, Any], loc: list[str | int]) -> str:
    if loc == ["query", "kind"] and error.get("type") == "literal_error":
        return JOB_KIND_MESSAGE  # the binary submission's ?kind=
    return short_message(str(error.get("msg", "")))


def validation_details(errors: Sequence[Any]) -> list[dict[str, object]]:
    """Validation errors as ``{"loc", "msg", "type"}``: never the rejected input (it may be
    ``NaN`` or ``Infinity``, which JSON cannot carry, or a secret, or megabytes), nor its
    context; messages are capped at :data:`MAX_MESSAGE_CHARS`."""
    details: list[dict[str, object]] = []
    for error in errors:
        if isinstance(error, dict):
            loc = _plain_loc(error.get("loc", ()))
            details.append(
                {"loc": loc, "msg": _message(error, loc), "type": str(error.get("type", ""))}
            )
    return details


def _validation(field: str, message: str, kind: str) -> list[dict[str, object]]:
    return [{"loc": ["body", field], "msg": short_message(message), "type": kind}]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_details(exc.errors())}, status_code=422)

    @app.exception_handler(KernelInputError)
    async def _kernel_input(_request: Request, exc: KernelInputError) -> JSONResponse:
        detail = _validation(exc.field, str(exc), type(exc).__name__)
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(ConflictError)
    async def _conflict(_request: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(InsufficientFundsError)
    async def _insufficient(_request: Request, exc: InsufficientFundsError) -> JSONResponse:
        return JSONResponse({"detail": f"insufficient funds: {exc}"}, status_code=409)

    @app.exception_handler(InvalidStateError)
    async def _invalid_state(_request: Request, exc: InvalidStateError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(AccountingError)
    async def _accounting(_request: Request, exc: AccountingError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(OperationalError)
    async def _database_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return JSONResponse({"detail": "the database is unavailable"}, status_code=503)

    @app.exception_handler(redis.RedisError)
    async def _redis_down(_request: Request, exc: redis.RedisError) -> JSONResponse:
        log.error("redis unavailable: %s", exc)
        return JSONResponse({"detail": "redis is unavailable"}, status_code=503)


class JoinError(Exception):
    """``proverpool head`` / ``join`` / ``leave`` cannot go on; the CLI prints it in one line
    and exits with ``exit_code`` (:mod:`pool_api.cli.exit_codes`; 2 unless told)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code

"""ASGI middlewares that protect the API: the body size limit and per-caller rate limits.

* :class:`BodyLimit` answers 413 when ``Content-Length`` is over
  ``PROVERPOOL_MAX_BODY_BYTES`` before any byte of the body is read, and counts
  the bytes of a streamed (chunked) body, refusing it as soon as it goes over.
* :class:`RateLimit` keeps a fixed-window counter per caller in Redis (one
  ``INCR`` + ``EXPIRE`` round trip): the SHA-256 of the bearer token for API-key
  callers, the client IP for callers without a token; the operator is exempt.
  Over the limit → 429 with ``Retry-After``.  Only ``/v1/`` paths are limited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time

import redis
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class _BodyTooLargeError(Exception):
    pass


class BodyLimit:
    """413 for a body over ``max_body_bytes``: declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _refusal(self) -> JSONResponse:
        return JSONResponse(
            {"detail": f"request body over the limit of {self.max_body_bytes} bytes"},
            status_code=413,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await self._refusal()(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if not started:
                await self._refusal()(scope, receive, send)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
    return None


class RateLimit:
    """Fixed-window request limits per API key and per anonymous IP, counted in Redis."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        pool = scope["app"].state.pool
        settings = pool.settings
        token = _bearer(scope)
        if token is not None:
            operator = settings.resolved_operator_token.encode()
            if hmac.compare_digest(token.encode(), operator):
                await self.app(scope, receive, send)
                return
            caller = "key:" + hashlib.sha256(token.encode()).hexdigest()[:32]
            limit = settings.rate_limit_key_requests
        else:
            client = scope.get("client")
            caller = "ip:" + (client[0] if client else "unknown")
            limit = settings.rate_limit_ip_requests
        window = settings.rate_limit_window_seconds
        now = time.time()
        slot = int(now // window)
        key = f"proverpool:ratelimit:{caller}:{slot}"
        try:
            pipe = pool.events.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, window + 1)
            count, _ = pipe.execute()
        except redis.RedisError as exc:
            log.error("redis unavailable for rate limiting: %s", exc)
            response = JSONResponse({"detail": "redis is unavailable"}, status_code=503)
            await response(scope, receive, send)
            return
        if int(count) > limit:
            retry_after = max(1, math.ceil((slot + 1) * window - now))
            response = JSONResponse(
                {"detail": f"rate limit of {limit} requests per {window} s exceeded"},
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

"""ASGI middlewares that protect the API: the body size limit and per-caller rate limits.

* :class:`BodyLimit` answers 413 when ``Content-Length`` is over
  ``PROVERPOOL_MAX_BODY_BYTES`` before any byte of the body is read, and counts
  the bytes of a streamed (chunked) body, refusing it as soon as it goes over.
* :class:`RateLimit` keeps a fixed-window counter per caller in Redis (``INCR`` +
  ``EXPIRE``): the SHA-256 of the bearer token for callers whose token is a current
  API key, the client address for everyone else (no token, or a token that is no key:
  random tokens buy no buckets of their own); the operator is exempt.  Failed
  authentications of unverified callers are counted per address against a small
  budget of their own.  Over a limit → 429 with ``Retry-After``.  Only ``/v1/`` paths
  are limited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time

import redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pool_api.state import PoolState
from pool_api.store.models import Contributor

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


KNOWN_KEY_TTL_SECONDS = 30
"""How long the limiter remembers whether a bearer token is a current API key."""


def _known_entry(digest: str) -> str:
    return f"proverpool:ratelimit:known:{digest}"


def _lookup_key(pool: PoolState, digest: str) -> str:
    """``"1"`` if ``digest`` is an unrevoked API key (contributor or submitter), cached in
    Redis for :data:`KNOWN_KEY_TTL_SECONDS` (a revoked key keeps its own bucket that long,
    nothing more: the route still refuses it); else ``"0"``."""
    with pool.read_engine.connect() as connection:
        found = connection.execute(
            select(Contributor.id).where(
                Contributor.api_key_hash == digest,
                Contributor.api_key_revoked_at.is_(None),  # type: ignore[union-attr]
            )
        ).first()
    if found is None:
        return "0"  # not cached: random tokens must not fill Redis
    pool.events.client.set(_known_entry(digest), "1", ex=KNOWN_KEY_TTL_SECONDS)
    return "1"


def _too_many(detail: str, retry_after: int) -> JSONResponse:
    return JSONResponse(
        {"detail": detail}, status_code=429, headers={"Retry-After": str(retry_after)}
    )


class RateLimit:
    """Fixed-window request limits per API key and per address, counted in Redis, and a
    budget of failed authentications per address.

    A bearer token gets a bucket of its own only once it is known to be a current API
    key (one SQL lookup, then cached): any other token (a guess, a random string) counts
    against its caller's address like a request without a token.  Every 401/403 answered
    to such an unverified caller spends one of its address's
    ``PROVERPOOL_RATE_LIMIT_AUTH_FAILURES``; when they are spent, the address's
    unverified requests get 429 until the window ends (verified keys and the operator
    are not affected).
    """

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
        client = scope.get("client")
        address = client[0] if client else "unknown"
        digest = hashlib.sha256(token.encode()).hexdigest() if token is not None else None
        window = settings.rate_limit_window_seconds
        now = time.time()
        slot = int(now // window)
        retry_after = max(1, math.ceil((slot + 1) * window - now))
        failures_key = f"proverpool:authfail:{address}:{slot}"
        redis_client = pool.events.client
        try:
            if digest is None:
                known, failures = None, redis_client.get(failures_key)
            else:
                known, failures = redis_client.mget([_known_entry(digest), failures_key])
                if known is None:  # one indexed lookup, then cached
                    known = await run_in_threadpool(_lookup_key, pool, digest)
            verified = digest is not None and known in (b"1", "1")
            if not verified and int(failures or 0) >= settings.rate_limit_auth_failures:
                response = _too_many(
                    f"too many failed authentications from this address "
                    f"({settings.rate_limit_auth_failures} per {window} s)",
                    retry_after,
                )
                await response(scope, receive, send)
                return
            if verified and digest is not None:
                caller = "key:" + digest[:32]
                limit = settings.rate_limit_key_requests
            else:
                caller = "ip:" + address
                limit = settings.rate_limit_ip_requests
            key = f"proverpool:ratelimit:{caller}:{slot}"
            pipe = redis_client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, window + 1)
            count, _ = pipe.execute()
        except redis.RedisError as exc:
            log.error("redis unavailable for rate limiting: %s", exc)
            response = JSONResponse({"detail": "redis is unavailable"}, status_code=503)
            await response(scope, receive, send)
            return
        except SQLAlchemyError as exc:
            log.error("database unavailable for rate limiting: %s", exc)
            response = JSONResponse({"detail": "the database is unavailable"}, status_code=503)
            await response(scope, receive, send)
            return
        if int(count) > limit:
            response = _too_many(
                f"rate limit of {limit} requests per {window} s exceeded", retry_after
            )
            await response(scope, receive, send)
            return
        if verified:
            await self.app(scope, receive, send)
            return
        answered = 0

        async def watching_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            if answered in (401, 403):
                self._count_failure(redis_client, failures_key, window)

    @staticmethod
    def _count_failure(redis_client: redis.Redis, failures_key: str, window: int) -> None:
        try:
            pipe = redis_client.pipeline(transaction=False)
            pipe.incr(failures_key)
            pipe.expire(failures_key, window + 1)
            pipe.execute()
        except redis.RedisError as exc:
            log.error("redis unavailable for counting a failed authentication: %s", exc)

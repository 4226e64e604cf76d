"""Slow clients are timed out; an aborted upload is one log line (issue 14 item 17).

Without limits, a client that opens a connection and sends its headers a byte at a
time, or a body that stalls, holds a connection and a task for as long as it likes
(500 stalled bodies and 200 incomplete headers were held 75 s and more), and each
upload the client abandoned logged a 60-line traceback.

* **Headers**: :func:`http_protocol` is uvicorn's HTTP protocol with a deadline: a
  connection whose request headers are not complete ``PROVERPOOL_HEADER_TIMEOUT_SECONDS``
  after it opened (or, on a kept-alive connection, after the next request's first
  byte) is answered 408 and closed.  Idle kept-alive connections close after uvicorn's
  ``timeout_keep_alive``.
* **Bodies**: :class:`BodyDeadline` (ASGI middleware) gives each read of the request body
  ``PROVERPOOL_BODY_TIMEOUT_SECONDS`` and the whole body of N bytes
  ``PROVERPOOL_BODY_TIMEOUT_SECONDS + N / PROVERPOOL_BODY_MIN_BYTES_PER_SECOND``; past
  either, the request is answered 408 with ``Connection: close`` (whatever the route
  was doing with the body) and the connection closes.
* **Aborted uploads**: a client that goes away before its body is complete is logged
  once, at INFO, and its ``ClientDisconnect`` goes no further.

:func:`uvicorn_config` builds the uvicorn configuration with all of this; every uvicorn
the package starts (``proverpool head``, ``proverpool demo``) uses it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from pool_api.settings import Settings

log = logging.getLogger(__name__)

_HEADERS_LATE_BODY = b'{"detail": "request headers not complete in time"}'
_HEADERS_LATE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s"
    % (len(_HEADERS_LATE_BODY), _HEADERS_LATE_BODY)
)
_BODY_LATE_BODY = b'{"detail": "request body not received in time"}'


class _HeaderDeadline:
    """Mixin for uvicorn's HTTP protocols: request headers must complete in time."""

    header_timeout_seconds: float = 20.0

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._header_timer: asyncio.TimerHandle | None = None
        self._headers_of: object = None
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle  # type: ignore[attr-defined]
        if self._header_timer is None and (cycle is None or cycle.response_complete):
            self._arm_header_timer()  # the first bytes of the next request
        super().data_received(data)  # type: ignore[misc]
        cycle = self.cycle  # type: ignore[attr-defined]
        if cycle is not None and cycle is not self._headers_of:  # headers done: a new cycle
            self._headers_of = cycle
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm_header_timer(self) -> None:
        loop: asyncio.AbstractEventLoop = self.loop  # type: ignore[attr-defined]
        self._header_timer = loop.call_later(self.header_timeout_seconds, self._headers_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        transport: asyncio.Transport = self.transport  # type: ignore[attr-defined]
        cycle = self.cycle  # type: ignore[attr-defined]
        if transport.is_closing() or (cycle is not None and not cycle.response_complete):
            return
        log.debug("closing a connection: request headers not complete in time")
        transport.write(_HEADERS_LATE)
        transport.close()


def http_protocol(header_timeout_seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's default HTTP protocol class with a request-header deadline."""
    return type(
        "HeaderDeadlineHTTPProtocol",
        (_HeaderDeadline, AutoHTTPProtocol),
        {"header_timeout_seconds": header_timeout_seconds},
    )


def uvicorn_config(app: ASGIApp, settings: Settings, **kwargs: Any) -> uvicorn.Config:
    """The uvicorn configuration of a pool API: slow headers time out (:func:`http_protocol`);
    no access log unless ``PROVERPOOL_ACCESS_LOG`` / ``--access-log``."""
    kwargs.setdefault("http", http_protocol(settings.header_timeout_seconds))
    kwargs.setdefault("access_log", settings.access_log)  # opt-in (issue 17 item 7)
    return uvicorn.Config(app, **kwargs)


class _BodyTimeoutError(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyDeadline:
    """408 for a request body that arrives too slowly; one log line for an aborted upload."""

    def __init__(
        self, app: ASGIApp, body_timeout_seconds: float, body_min_bytes_per_second: int
    ) -> None:
        self.app = app
        self.body_timeout_seconds = body_timeout_seconds
        self.body_min_bytes_per_second = body_min_bytes_per_second

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        length = _content_length(scope)
        deadline = loop.time() + self.body_timeout_seconds
        deadline += (length or 0) / self.body_min_bytes_per_second
        state = {"done": False, "received": 0, "late": False, "aborted": False, "started": False}

        def where() -> str:
            client = scope.get("client")
            who = f"{client[0]}:{client[1]}" if client else "a client"
            size = "?" if length is None else str(length)
            return f"{scope['method']} {scope['path']} from {who}: {state['received']} of {size}"

        async def guarded_receive() -> Message:
            if state["done"]:
                return await receive()
            if state["late"]:
                raise _BodyTimeoutError
            wait = min(self.body_timeout_seconds, deadline - loop.time())
            try:
                async with asyncio.timeout(max(0.0, wait)):
                    message = await receive()
            except TimeoutError:
                state["late"] = True
                raise _BodyTimeoutError from None
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                state["done"] = not message.get("more_body", False)
            elif message["type"] == "http.disconnect" and not state["aborted"]:
                state["aborted"] = True
                log.info("upload aborted by the client: %s bytes received", where())
            return message

        async def guarded_send(message: Message) -> None:
            if state["late"] and not state["started"]:
                return  # the answer is our 408
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except _BodyTimeoutError:
            pass
        except ClientDisconnect:
            if not state["aborted"]:
                log.info("upload aborted by the client: %s bytes received", where())
        if state["late"] and not state["started"]:
            log.info("request body too slow, answered 408: %s bytes received", where())
            await send(
                {
                    "type": "http.response.start",
                    "status": 408,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_BODY_LATE_BODY)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _BODY_LATE_BODY})

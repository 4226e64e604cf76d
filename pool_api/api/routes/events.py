"""``GET /v1/events``: the pool's live events as server-sent events, from Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

import redis
import redis.asyncio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from pool_api.api.deps import Pool
from pool_api.api.schemas import EVENT_TYPES
from pool_api.errors import ApiError
from pool_api.live.events import EVENTS_CHANNEL, connect_async_redis

router = APIRouter(tags=["events"])

_SSE = {
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
    "description": "An endless stream of server-sent events.",
}


@router.get("/v1/events", response_class=StreamingResponse, responses={200: _SSE})
async def events(
    request: Request,
    pool: Pool,
    types: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[a-z.,]+$",
            description="Comma-separated event types to receive; default: all.",
        ),
    ] = None,
) -> StreamingResponse:
    """Server-sent events (``text/event-stream``), one per pool event, as they happen.

    Each event is two lines and a blank line::

        event: <type>
        data: <json>

    where ``<json>`` is one object that repeats ``"type"``. The types and their data:

    * ``job.submitted`` — ``{job_id, kind, size}``: a job was queued.
    * ``job.progress`` — ``{job_id, chunks_done, chunks_total, status}``: a chunk finished or
      the job changed status (``queued``, ``running``, ``done``, ``failed``, ``cancelled``).
    * ``node.joined`` — ``{ray_node_id, contributor_id}``: an offline node registered or sent
      a heartbeat (its hardware: ``GET /v1/nodes``).
    * ``node.left`` — ``{ray_node_id}``: a node's presence expired.
    * ``reward.posted`` — ``{job_id, amount_units}`` (``amount_units`` a decimal string).

    A comment line (``: keep-alive``) is sent every ``PROVERPOOL_SSE_KEEPALIVE_SECONDS``
    so that proxies keep the connection open. Events are not replayed: a client that
    reconnects reads the current state from ``GET /v1/jobs`` and ``GET /v1/nodes``.
    """
    wanted = None
    if types is not None:
        wanted = {t for t in types.split(",") if t}
        unknown = sorted(wanted - set(EVENT_TYPES))
        if unknown:
            raise ApiError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
    client = connect_async_redis(pool.events.client)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(EVENTS_CHANNEL)
    except (redis.RedisError, OSError) as exc:
        await pubsub.aclose()
        await client.aclose()
        raise redis.ConnectionError(str(exc)) from exc
    keepalive = pool.settings.sse_keepalive_seconds
    return StreamingResponse(
        _stream(request, client, pubsub, keepalive, wanted),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request,
    client: redis.asyncio.Redis,
    pubsub: redis.asyncio.client.PubSub,
    keepalive_seconds: float,
    wanted: set[str] | None,
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    try:
        yield "retry: 3000\n: connected\n\n"
        next_keepalive = loop.time() + keepalive_seconds
        while not await request.is_disconnected():
            timeout = max(0.0, min(1.0, next_keepalive - loop.time()))
            message = await pubsub.get_message(timeout=timeout)
            if message is not None and message.get("type") == "message":
                raw = message["data"]
                text = raw.decode() if isinstance(raw, bytes) else str(raw)
                try:
                    event_type = str(json.loads(text).get("type", "message"))
                except (ValueError, AttributeError):
                    continue
                if wanted is None or event_type in wanted:
                    yield f"event: {event_type}\ndata: {text}\n\n"
            if loop.time() >= next_keepalive:
                yield ": keep-alive\n\n"
                next_keepalive = loop.time() + keepalive_seconds
    except (redis.RedisError, OSError):
        yield 'event: error\ndata: {"type": "error", "detail": "redis is unavailable"}\n\n'
    finally:
        await pubsub.aclose()
        await client.aclose()

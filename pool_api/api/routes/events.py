"""``GET /v1/events``: the pool's live events as server-sent events, from Redis pub/sub.

Every client of a process reads from that process's one subscription
(:class:`pool_api.live.fanout.EventFanout`, ``app.state.event_fanout``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from pool_api.api.deps import Pool
from pool_api.api.schemas import EVENT_TYPES
from pool_api.errors import ApiError
from pool_api.live.fanout import EventFanout, Subscription

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
    A client that falls behind by more events than its queue holds, and every client when
    the API loses its Redis subscription, gets one ``error`` event
    (``{"type": "error", "detail": …}``) and the stream ends.
    """
    wanted = None
    if types is not None:
        wanted = {t for t in types.split(",") if t}
        unknown = sorted(wanted - set(EVENT_TYPES))
        if unknown:
            raise ApiError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
    fanout: EventFanout = request.app.state.event_fanout
    subscription = await fanout.subscribe()  # redis.ConnectionError → 503
    keepalive = pool.settings.sse_keepalive_seconds
    return StreamingResponse(
        _stream(request, fanout, subscription, keepalive, wanted),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request,
    fanout: EventFanout,
    subscription: Subscription,
    keepalive_seconds: float,
    wanted: set[str] | None,
) -> AsyncIterator[str]:
    """The client's events from its queue in the process's one subscription (fanout)."""
    loop = asyncio.get_running_loop()
    try:
        yield "retry: 3000\n: connected\n\n"
        next_keepalive = loop.time() + keepalive_seconds
        while not await request.is_disconnected():
            timeout = max(0.0, min(1.0, next_keepalive - loop.time()))
            try:
                item = await asyncio.wait_for(subscription.queue.get(), timeout)
            except TimeoutError:
                item = None
            if isinstance(item, str):  # the end: Redis lost, or this client fell behind
                detail = json.dumps({"type": "error", "detail": item})
                yield f"event: error\ndata: {detail}\n\n"
                return
            if item is not None:
                event_type, text = item
                if wanted is None or event_type in wanted:
                    yield f"event: {event_type}\ndata: {text}\n\n"
            if loop.time() >= next_keepalive:
                yield ": keep-alive\n\n"
                next_keepalive = loop.time() + keepalive_seconds
    finally:
        fanout.unsubscribe(subscription)

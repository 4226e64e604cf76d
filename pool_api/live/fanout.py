"""One Redis subscription per process, fanned out to every ``/v1/events`` client.

Each server-sent-events client used to hold a Redis connection of its own (200 clients
exhausted a Redis with ``maxclients 200``; issue 14 item 20).  Now one
:class:`EventFanout` per application subscribes to the events channel once and copies
each event into a bounded queue per client:

* a client that falls :data:`QUEUE_SIZE` events behind is dropped (its stream ends
  with an ``error`` event; the browser reconnects and rereads the state) instead of
  growing memory;
* when the subscription breaks, every client's stream ends the same way (events are not
  replayed: docs of ``GET /v1/events``), and the fanout subscribes again in the
  background, backing off up to :data:`RECONNECT_MAX_SECONDS`, or at the next client;
* a client that disconnects unsubscribes, which frees its queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

import redis
import redis.asyncio

from pool_api.live.events import EVENTS_CHANNEL

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
RECONNECT_MIN_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 5.0

#: What ends a client's stream: the subscription was lost, or the client fell behind.
LOST = "redis is unavailable"
TOO_SLOW = "the client fell behind; events were dropped"


class Subscription:
    """One client's queue: ``(event type, JSON text)`` items, or a final reason (str)."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[tuple[str, str] | str] = asyncio.Queue(size)

    def end(self, reason: str) -> None:
        """Drop what is queued and leave only ``reason``: the stream ends with it."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(reason)


class EventFanout:
    """The process's one subscriber to the events channel, shared by all SSE clients."""

    def __init__(
        self, connect: Callable[[], redis.asyncio.Redis], queue_size: int = QUEUE_SIZE
    ) -> None:
        self._connect = connect
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._client: redis.asyncio.Redis | None = None
        self._pubsub: redis.asyncio.client.PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._open_lock: asyncio.Lock | None = None
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def subscribe(self) -> Subscription:
        """A new client's queue; ``redis.ConnectionError`` when Redis does not answer."""
        if self._closed:
            raise redis.ConnectionError("the event stream is shutting down")
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._pubsub is None:
                try:
                    await self._open()
                except (redis.RedisError, OSError, TimeoutError) as exc:
                    raise redis.ConnectionError(str(exc)) from exc
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._listen())
        subscription = Subscription(self._queue_size)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    async def aclose(self) -> None:
        """Stop listening (application shutdown); the remaining streams end."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._close_connection()
        for subscription in list(self._subscribers):
            subscription.end(LOST)
        self._subscribers.clear()

    async def _open(self) -> None:
        client = self._connect()
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(EVENTS_CHANNEL)
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_SECONDS):
                while True:  # the confirmation: from here on no event is missed
                    message = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_SECONDS)
                    if message is not None and message.get("type") == "subscribe":
                        break
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
                await client.aclose()
            raise
        self._client, self._pubsub = client, pubsub

    async def _close_connection(self) -> None:
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        with contextlib.suppress(Exception):
            if pubsub is not None:
                await pubsub.aclose()
        with contextlib.suppress(Exception):
            if client is not None:
                await client.aclose()

    async def _listen(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while not self._closed:
            if self._pubsub is None:
                try:
                    await self._reopen()
                    delay = RECONNECT_MIN_SECONDS
                except (redis.RedisError, OSError, TimeoutError):
                    await asyncio.sleep(delay)
                    delay = min(RECONNECT_MAX_SECONDS, delay * 2)
                continue
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (redis.RedisError, OSError) as exc:
                log.warning("lost the Redis subscription of /v1/events (%s); resubscribing", exc)
                await self._close_connection()
                for subscription in list(self._subscribers):
                    subscription.end(LOST)
                self._subscribers.clear()
                continue
            if message is not None and message.get("type") == "message":
                self._deliver(message["data"])

    async def _reopen(self) -> None:
        assert self._open_lock is not None
        async with self._open_lock:
            if self._pubsub is None:
                await self._open()

    def _deliver(self, raw: bytes | str) -> None:
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            event_type = str(json.loads(text).get("type", "message"))
        except (ValueError, AttributeError):
            return
        for subscription in list(self._subscribers):
            try:
                subscription.queue.put_nowait((event_type, text))
            except asyncio.QueueFull:
                self._subscribers.discard(subscription)
                subscription.end(TOO_SLOW)

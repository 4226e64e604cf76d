"""Node presence in Redis (docs/architecture.md §3: Redis holds only what may be lost).

A heartbeat sets ``proverpool:node:<id>:alive`` (the time of the beat) with
the TTL ``PROVERPOOL_NODE_PRESENCE_TTL_SECONDS`` and adds the node to the set
``proverpool:nodes:online``.  The first beat of an offline node is its
``node.joined`` (the ``SADD`` answers 1 exactly once, whichever API worker
handles it); a sweep finds members of the set whose key has expired and
removes them, and the worker whose ``SREM`` answers 1 publishes ``node.left``.
Each beat also records its time in the hash ``proverpool:nodes:last_seen``, which
never expires: an offline node keeps its last-seen time (:func:`last_heartbeats`)
until it is deregistered (:func:`forget`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import redis

from pool_api.live.events import EventBus

log = logging.getLogger(__name__)

ONLINE_SET = "proverpool:nodes:online"
LAST_SEEN_HASH = "proverpool:nodes:last_seen"


def _alive_key(node_id: str) -> str:
    return f"proverpool:node:{node_id}:alive"


def beat(client: redis.Redis, node_id: str, ttl_seconds: int) -> bool:
    """Record a heartbeat now; ``True`` when the node was offline (it just joined)."""
    now = repr(time.time())
    pipe = client.pipeline(transaction=False)
    pipe.set(_alive_key(node_id), now, ex=ttl_seconds)
    pipe.sadd(ONLINE_SET, node_id)
    pipe.hset(LAST_SEEN_HASH, node_id, now)
    _, added, _ = pipe.execute()
    return bool(added)


def leave(client: redis.Redis, node_id: str) -> bool:
    """Mark a node offline now; ``True`` when it was online."""
    pipe = client.pipeline(transaction=False)
    pipe.delete(_alive_key(node_id))
    pipe.srem(ONLINE_SET, node_id)
    _, removed = pipe.execute()
    return bool(removed)


def last_seen(client: redis.Redis, node_ids: Iterable[str]) -> dict[str, float]:
    """Time of the last heartbeat of each node still online (unix seconds)."""
    ids = list(node_ids)
    if not ids:
        return {}
    values = client.mget([_alive_key(i) for i in ids])
    return {i: float(v) for i, v in zip(ids, values, strict=True) if v is not None}


def last_heartbeats(client: redis.Redis, node_ids: Iterable[str]) -> dict[str, float]:
    """Time of the last heartbeat of each node, online or not (unix seconds)."""
    ids = list(node_ids)
    if not ids:
        return {}
    values = client.hmget(LAST_SEEN_HASH, ids)
    return {i: float(v) for i, v in zip(ids, values, strict=True) if v is not None}


def forget(client: redis.Redis, node_id: str) -> None:
    """Drop a deregistered node's last-seen time."""
    client.hdel(LAST_SEEN_HASH, node_id)


def sweep(client: redis.Redis) -> list[str]:
    """Remove the nodes whose presence expired from the online set; return those removed."""
    members = [m.decode() if isinstance(m, bytes) else m for m in client.smembers(ONLINE_SET)]
    if not members:
        return []
    alive = last_seen(client, members)
    left = []
    for node_id in members:
        if node_id not in alive and client.srem(ONLINE_SET, node_id):
            left.append(node_id)
    return left


class PresenceSweeper:
    """A daemon thread that publishes ``node.left`` for nodes whose presence expired."""

    def __init__(self, events: EventBus, interval_seconds: float) -> None:
        self.events = events
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="presence-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def sweep_once(self) -> list[str]:
        left = sweep(self.events.client)
        for node_id in left:
            self.events.publish("node.left", ray_node_id=node_id)
        return left

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.sweep_once()
            except redis.RedisError as exc:
                log.warning("presence sweep failed: %s", exc)

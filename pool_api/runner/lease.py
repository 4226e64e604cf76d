"""One job runner per pool: a lease in Redis, held and renewed by the runner that works.

Every API process starts a :class:`~pool_api.runner.loop.JobRunner` (``uvicorn
--workers N``, several ``proverpool head`` replicas behind a load balancer), but
the runners of one pool must not run jobs side by side: a starting runner
requeues the jobs it finds ``running``, which would take them from a runner
still working on them.  So a runner works only while it holds the pool's
lease — a Redis key set with ``NX`` and a time to live (redis-py's
:class:`redis.lock.Lock`: an owner token, atomic compare-and-renew) — renewed
by a heartbeat thread every third of its life.  The others stand by and try
again at each poll; when the holder stops, the lease is released at once; when
it dies, the lease expires after :attr:`Settings.runner_lease_seconds` and a
standby runner takes over, requeues the interrupted jobs and resumes them from
SQL.  A holder that cannot renew (Redis unreachable, the lease expired under
a stalled process) stops at the next chunk boundary.

The lease is named after the pool's database (the runners that share one
must take turns; pools on other databases may share a Redis).  Like
everything in Redis (docs/architecture.md §3) it may be lost: the worst case is two runners
for one lease period, and job claims are atomic in SQL regardless.
"""

from __future__ import annotations

import hashlib
import logging
import threading

import redis
from redis.exceptions import LockError

log = logging.getLogger(__name__)
LEASE_PREFIX = "proverpool:runner-lease:"


def lease_name(database_url: str) -> str:
    """The Redis key of the runner lease of the pool on ``database_url``."""
    return LEASE_PREFIX + hashlib.sha256(database_url.encode()).hexdigest()[:24]


class RunnerLease:
    """The pool's runner lease as seen by one runner: acquire, keep alive, release."""

    def __init__(self, client: redis.Redis, name: str, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._lock = client.lock(name, timeout=ttl_seconds, thread_local=False)
        self._held = threading.Event()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._redis_down = False

    @property
    def held(self) -> bool:
        """Whether this runner holds the lease (as of its last renewal)."""
        return self._held.is_set()

    def try_acquire(self) -> bool:
        """Take the lease if it is free; start renewing it.  ``False`` if another holds it."""
        if self.held:
            return True
        try:
            acquired = bool(self._lock.acquire(blocking=False))
        except redis.RedisError as exc:
            if not self._redis_down:  # once per outage, not at every poll
                log.warning("runner lease: Redis unavailable (%s); standing by", exc)
            self._redis_down = True
            return False
        self._redis_down = False
        if acquired:
            self._held.set()
            self._stop.clear()
            self._heartbeat = threading.Thread(
                target=self._renew_loop, name="proverpool-runner-lease", daemon=True
            )
            self._heartbeat.start()
        return acquired

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl_seconds / 3):
            try:
                self._lock.reacquire()
            except (LockError, redis.RedisError) as exc:
                log.error("runner lease lost (%s): stopping at the next chunk boundary", exc)
                self._held.clear()
                return

    def release(self) -> None:
        """Give the lease back (a standby runner takes over at its next poll)."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
            self._heartbeat = None
        if self._held.is_set():
            self._held.clear()
            try:
                self._lock.release()
            except (LockError, redis.RedisError) as exc:  # expired or unreachable: nothing to do
                log.info("runner lease release: %s", exc)

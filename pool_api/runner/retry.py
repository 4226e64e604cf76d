"""Database outages in the job runner: retried with backoff, never a failed job.

A database error that says nothing about the job — SQLite's "database is locked" after
its busy timeout, a PostgreSQL connection lost or refused, the connection pool timing
out (:func:`is_transient`) — must not fail the job it interrupted: the runner backs off
and tries again until the database answers (or the runner stops), as the Redis lease
path does (:mod:`pool_api.runner.lease`).  Every write the runner retries is idempotent
(a chunk record is keyed ``<job id>:<chunk index>``, the job's credits by record id, the
``running → done`` flip is conditional), so a write whose commit failed halfway is
simply made again: nothing is lost, nothing credited twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from workers.errors import JobInterrupted

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 10.0


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is the database being unavailable (locked, unreachable, restarting)
    rather than something wrong with the statement or the data."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Backoff:
    """Exponential delays (0.5 s doubling up to 10 s) that end early when ``stop`` is set."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.delay_seconds = FIRST_DELAY_SECONDS
        self.failures = 0

    def wait(self, what: str, exc: BaseException) -> bool:
        """Log the outage (one line when it starts), sleep; ``False`` if the runner stops."""
        if self.failures == 0:
            log.warning(
                "database unavailable during %s (%s): retrying until it answers",
                what,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
        self.failures += 1
        stopped = self.stop.wait(self.delay_seconds)
        self.delay_seconds = min(MAX_DELAY_SECONDS, self.delay_seconds * 2)
        return not stopped

    def recovered(self, what: str) -> None:
        """Log the end of an outage (if there was one) and start the delays over."""
        if self.failures:
            log.info("database back after %d retries (%s)", self.failures, what)
        self.failures = 0
        self.delay_seconds = FIRST_DELAY_SECONDS


def retrying(fn: Callable[[], T], what: str, stop: threading.Event) -> T:
    """``fn()``, retried with :class:`Backoff` while the database is unavailable.

    A non-transient error propagates; :class:`~workers.errors.JobInterrupted` if the
    runner stops while waiting (the job stays ``running``, resumable).
    """
    backoff = Backoff(stop)
    while True:
        try:
            result = fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if not backoff.wait(what, exc):
                raise JobInterrupted(
                    f"runner stopping while the database is down ({what})"
                ) from exc
            continue
        backoff.recovered(what)
        return result

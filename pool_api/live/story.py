"""The operator's log: the pool's story, told from its events (issue 17 item 7).

Every event the pool publishes (:class:`pool_api.live.events.EventBus`) passes through a
:class:`PoolStory`, which turns the ones an operator cares about into one log line each
on the ``pool_api.story`` logger: jobs queued, started, done (with how long they
waited and ran), failed or cancelled; nodes joined and left; withdrawals.  Per-chunk
progress and heartbeats are never logged at INFO; rewards are told by the reward route
(with their split) and strikes and bans by the runner's node book.

HTTP access lines are opt-in (``PROVERPOOL_ACCESS_LOG`` / ``proverpool head
--access-log``, :func:`pool_api.api.slow_clients.uvicorn_config`); even then
:class:`QuietHeartbeats` keeps node heartbeats out of them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import OrderedDict
from typing import Any

log = logging.getLogger("pool_api.story")

#: Jobs remembered for their durations (queued or running in this process); the oldest
#: is forgotten beyond this.
MAX_TRACKED_JOBS = 10_000
FINAL_STATUSES = ("done", "failed", "cancelled")
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def _seconds(duration_seconds: float) -> str:
    if duration_seconds < 60:
        return f"{duration_seconds:.2f} s"
    return f"{duration_seconds / 60:.1f} min"


class PoolStory:
    """Turns published events into the operator's log lines (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued_at: OrderedDict[str, float] = OrderedDict()
        self._started_at: OrderedDict[str, float] = OrderedDict()

    def tell(self, event_type: str, data: dict[str, Any]) -> None:
        """Log ``event_type`` if it belongs to the story; never raises."""
        try:
            if event_type == "job.submitted":
                self._remember(self._queued_at, str(data["job_id"]))
                log.info("job %s queued: %s, size %s", data["job_id"], data["kind"], data["size"])
            elif event_type == "job.progress":
                self._progress(data)
            elif event_type == "node.joined":
                log.info(
                    "node %s joined (contributor %s)",
                    data["ray_node_id"],
                    data.get("contributor_id", "?"),
                )
            elif event_type == "node.left":
                owner = data.get("contributor_id")
                suffix = f" (contributor {owner})" if owner is not None else " (no heartbeat)"
                log.info("node %s left%s", data["ray_node_id"], suffix)
            elif event_type.startswith("withdrawal."):
                what = event_type.removeprefix("withdrawal.")
                amount = str(data.get("amount_units"))
                log.info(
                    "withdrawal %s %s: %s units",
                    data.get("withdrawal_id"),
                    what,
                    f"{int(amount):,}" if amount.isdigit() else amount,
                )
        except Exception:  # the story never breaks what it tells about
            log.debug("could not tell %s", event_type, exc_info=True)

    def _remember(self, table: OrderedDict[str, float], job_id: str) -> None:
        with self._lock:
            table[job_id] = time.monotonic()
            while len(table) > MAX_TRACKED_JOBS:
                table.popitem(last=False)

    def _progress(self, data: dict[str, Any]) -> None:
        job_id, status = str(data["job_id"]), data.get("status")
        now = time.monotonic()
        if status == "running":
            with self._lock:
                if job_id in self._started_at:
                    return  # a chunk's progress: not part of the story
                queued_at = self._queued_at.pop(job_id, None)
            self._remember(self._started_at, job_id)
            waited = f" after {_seconds(now - queued_at)} queued" if queued_at is not None else ""
            log.info("job %s started%s", job_id, waited)
        elif status in FINAL_STATUSES:
            with self._lock:
                started_at = self._started_at.pop(job_id, None)
                self._queued_at.pop(job_id, None)
            ran = f" in {_seconds(now - started_at)}" if started_at is not None else ""
            chunks = f"{data.get('chunks_done')}/{data.get('chunks_total')} chunks"
            level = logging.WARNING if status == "failed" else logging.INFO
            log.log(level, "job %s %s%s (%s)", job_id, status, ran, chunks)


def tell_reward(
    job_id: str, amount_units: int, fee_units: int, held_units: int, shares: dict[int, int]
) -> None:
    """The story's line for a reward posted (by ``POST /v1/jobs/{id}/reward``)."""
    split = ", ".join(f"contributor {c} {u:,}" for c, u in sorted(shares.items())[:8])
    if len(shares) > 8:
        split += f", … ({len(shares)} contributors)"
    held = f", held {held_units:,}" if held_units else ""
    log.info(
        "reward %s units for job %s: operator fee %s%s%s",
        f"{amount_units:,}",
        job_id,
        f"{fee_units:,}",
        f"; {split}" if split else "",
        held,
    )


class QuietHeartbeats(logging.Filter):
    """Keeps node heartbeats out of uvicorn's access log (they come every few seconds)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        path = args[2] if isinstance(args, tuple) and len(args) > 2 else ""
        return not (isinstance(path, str) and path.split("?", 1)[0].endswith("/heartbeat"))


def configure_logging() -> None:
    """Make the story visible: ``pool_api`` logs at INFO (unless a level was chosen) to
    stderr when nothing else handles logging; heartbeats leave uvicorn's access log."""
    ours = logging.getLogger("pool_api")
    if ours.level == logging.NOTSET:
        ours.setLevel(logging.INFO)
    if not logging.getLogger().handlers and not ours.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        ours.addHandler(handler)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietHeartbeats) for f in access.filters):
        access.addFilter(QuietHeartbeats())

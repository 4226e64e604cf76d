"""The status of a running ``proverpool join``: a panel on a terminal, else a line a minute.

:class:`NodeWatch` reads the node and its contributor from the pool (``GET /v1/nodes``,
``GET /v1/stats/contributors/{id}``) and measures the node's work per minute;
:func:`status_table` is the panel, :func:`status_line` the line.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from pool_api.errors import JoinError

if TYPE_CHECKING:
    from pool_api.cli.join import PoolClient

STATUS_REFRESH_SECONDS = 3.0
"""The panel on a terminal is refreshed this often."""
STATUS_LINE_SECONDS = 60.0
"""Without a terminal, a status line this often."""
RATE_WINDOW_SECONDS = 300.0
"""Work per minute is measured over this much of the recent past."""


class NodeWatch:
    """What the panel and the status lines show about this node and its contributor,
    read from the pool; work per minute from the node's work over the last
    ``RATE_WINDOW_SECONDS``."""

    def __init__(self, client: PoolClient, contributor_id: int, node_id: str) -> None:
        self.client = client
        self.contributor_id = contributor_id
        self.node_id = node_id
        self.samples: deque[tuple[float, int]] = deque()

    def snapshot(self) -> dict:
        """``node_status``, ``node_work``, ``per_minute``, ``last_job``, ``work``,
        ``earned``, ``balance``; or ``{"error": …}`` while the pool does not answer."""
        cid = self.contributor_id
        try:
            nodes = self.client.call("GET", "/v1/nodes", params={"contributor_id": cid}).json()
            me = self.client.call("GET", f"/v1/stats/contributors/{cid}", params={"limit": 1})
            me = me.json()
        except (JoinError, ValueError) as exc:
            return {"error": str(exc)}
        mine = {n["ray_node_id"]: n for n in nodes}.get(self.node_id, {})
        node_work = int(mine.get("work_units", 0))
        now = time.monotonic()
        self.samples.append((now, node_work))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW_SECONDS:
            self.samples.popleft()
        first_at, first_work = self.samples[0]
        span = now - first_at
        return {
            "node_status": mine.get("status", "unknown"),
            "node_work": node_work,
            "per_minute": round((node_work - first_work) * 60 / span) if span >= 1 else 0,
            "last_job": mine.get("last_job_id"),
            "work": int(me.get("work_units", 0)),
            "earned": int(me.get("earned_units", 0)),
            "balance": int(me.get("balance_units", 0)),
        }


def status_table(url: str, node_id: str, snap: dict):  # noqa: ANN201 (a rich Table)
    """The panel of a running ``join`` (on a terminal)."""
    from rich.table import Table

    table = Table(title=f"proverpool — {url}", show_header=False)
    if "error" in snap:
        table.add_row("pool", f"unreachable: {snap['error']}")
        return table
    table.add_row("node", f"{node_id[:12]}… {snap['node_status']}")
    table.add_row("work (this node)", f"{snap['node_work']:,} units")
    table.add_row("work per minute", f"{snap['per_minute']:,} units")
    table.add_row("last job", snap["last_job"] or "none yet")
    table.add_row("work (you)", f"{snap['work']:,} units")
    table.add_row("earned", f"{snap['earned']:,} units")
    table.add_row("balance", f"{snap['balance']:,} units (earned less withdrawals)")
    return table


def status_line(node_id: str, snap: dict) -> str:
    """One line of a running ``join`` without a terminal (every ``STATUS_LINE_SECONDS``)."""
    at = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if "error" in snap:
        return f"{at} pool unreachable: {snap['error']}"
    return (
        f"{at} node {node_id[:12]}… {snap['node_status']}: {snap['node_work']:,} work units "
        f"({snap['per_minute']:,}/min), last job {snap['last_job'] or 'none yet'}; you: "
        f"{snap['work']:,} work units, earned {snap['earned']:,}, balance {snap['balance']:,}"
    )


def show_status(client: PoolClient, state: dict, node_id: str, stop: threading.Event) -> None:
    """Show the status until ``stop`` is set."""
    watch = NodeWatch(client, int(state["contributor_id"]), node_id)
    if not sys.stdout.isatty():
        while True:
            typer.echo(status_line(node_id, watch.snapshot()))
            if stop.wait(STATUS_LINE_SECONDS):
                return
    from rich.live import Live

    with Live(status_table(client.url, node_id, watch.snapshot()), auto_refresh=False) as live:
        while not stop.wait(STATUS_REFRESH_SECONDS):
            live.update(status_table(client.url, node_id, watch.snapshot()), refresh=True)

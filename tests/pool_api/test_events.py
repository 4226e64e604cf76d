"""``GET /v1/events`` over a real socket: uvicorn serves, httpx streams (issue 6 §4)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest


def _read_events(lines: Iterator[str], count: int, deadline: float) -> tuple[list, int]:
    """``count`` events (type, data) and the number of keep-alive comments seen meanwhile."""
    events, keepalives, current = [], 0, {}
    for line in lines:
        if line.startswith(": keep-alive"):
            keepalives += 1
        elif line.startswith("event: "):
            current["type"] = line.removeprefix("event: ")
        elif line.startswith("data: "):
            current["data"] = json.loads(line.removeprefix("data: "))
        elif line == "" and current:
            events.append((current["type"], current["data"]))
            current = {}
            if len(events) == count:
                break
        assert time.monotonic() < deadline, "events did not arrive"
    return events, keepalives


@pytest.fixture
def served(serve):
    return serve(sse_keepalive_seconds=0.3)


def test_events_stream_with_keepalives(served):
    base_url, app = served
    with (
        httpx.Client(base_url=base_url, timeout=10) as client,
        client.stream("GET", "/v1/events") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 3000"
        assert next(lines) == ": connected"
        bus = app.state.pool.events
        time.sleep(0.7)  # let a keep-alive pass first
        bus.publish("job.submitted", job_id="j1", kind="ntt", size=4)
        bus.publish("job.progress", job_id="j1", chunks_done=1, chunks_total=2, status="running")
        bus.publish("reward.posted", job_id="j1", amount_units="10")
        events, keepalives = _read_events(lines, 3, time.monotonic() + 10)
    assert keepalives >= 1
    assert [t for t, _ in events] == ["job.submitted", "job.progress", "reward.posted"]
    assert events[1][1] == {
        "type": "job.progress",
        "job_id": "j1",
        "chunks_done": 1,
        "chunks_total": 2,
        "status": "running",
    }


def test_events_filtered_by_type(served):
    base_url, app = served
    with httpx.Client(base_url=base_url, timeout=10) as client:
        bad = client.get("/v1/events", params={"types": "job.nope"})
        assert bad.status_code == 400 and "unknown event types" in bad.json()["detail"]
        with client.stream("GET", "/v1/events", params={"types": "node.left"}) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"
            app.state.pool.events.publish("job.submitted", job_id="j1", kind="ntt", size=4)
            app.state.pool.events.publish("node.left", ray_node_id="n" * 56)
            events, _ = _read_events(lines, 1, time.monotonic() + 10)
    assert events == [("node.left", {"type": "node.left", "ray_node_id": "n" * 56})]

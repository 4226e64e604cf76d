"""Issue 14 item 20: server-sent-event clients share one Redis subscription per process.

Fault: every ``/v1/events`` client held a Redis connection of its own, so 200 browsers
exhausted a Redis with ``maxclients 200`` (and everything else of the pool with it).
What must hold, over real HTTP (uvicorn) against real Redis: with 100 SSE clients open,
the app's Redis connections are no more than with one client; every client receives a
published event; when the clients disconnect their queues are freed.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import psutil
import pytest

CLIENTS = 100
SLACK = 4
"""Connections the app may open meanwhile for other reasons (its pool of sync clients)."""


def _app_connections(client_list: list[dict], embedded: bool) -> int:
    """Redis clients of this process: all of a private embedded server, or, on a shared
    external one, those whose address is one of this process's TCP sockets."""
    if embedded:
        return len(client_list)
    mine = {f"{c.laddr.ip}:{c.laddr.port}" for c in psutil.Process().net_connections(kind="tcp")}
    return sum(1 for c in client_list if c.get("addr") in mine)


def _open_sse(base_url: str, receive_buffer_bytes: int | None = None) -> socket.socket:
    parts = urlsplit(base_url)
    sock = socket.socket()
    if receive_buffer_bytes is not None:  # a client that reads nothing fills this fast
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer_bytes)
    sock.settimeout(30)
    sock.connect((parts.hostname, parts.port))
    request = (
        f"GET /v1/events HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n"
    )
    sock.sendall(request.encode())
    return sock


def _read_until(sock: socket.socket, marker: bytes, deadline: float, seen: bytes = b"") -> bytes:
    while marker not in seen:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, "the server closed an SSE stream"
        seen += chunk
        assert time.monotonic() < deadline, f"no {marker!r} within the deadline"
    return seen


def _wait_for(predicate, timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_many_sse_clients_share_one_redis_connection(serve, db_url):
    base_url, app = serve(sse_keepalive_seconds=60)
    redis_client = app.state.pool.events.client
    embedded = db_url.startswith("sqlite")
    # one client first: the app's connections with one subscriber
    first = _open_sse(base_url)
    seen = {first: _read_until(first, b": connected", time.monotonic() + 30)}
    baseline = _app_connections(redis_client.client_list(), embedded)
    sockets = [first]
    try:
        for _ in range(CLIENTS - 1):
            sockets.append(_open_sse(base_url))
        deadline = time.monotonic() + 60
        for sock in sockets[1:]:
            seen[sock] = _read_until(sock, b": connected", deadline)
        with_clients = _app_connections(redis_client.client_list(), embedded)
        assert with_clients <= baseline + SLACK, (
            f"{CLIENTS} SSE clients hold {with_clients} Redis connections (1 client: {baseline})"
        )
        app.state.pool.events.publish("job.submitted", job_id="fanout", kind="ntt", size=4)
        deadline = time.monotonic() + 30
        for sock in sockets:
            seen[sock] = _read_until(sock, b'"job_id": "fanout"', deadline, seen[sock])
    finally:
        for sock in sockets:
            sock.close()
    fanout = getattr(app.state, "event_fanout", None)
    if fanout is None:
        pytest.fail("no shared subscriber (app.state.event_fanout)")
    assert _wait_for(lambda: fanout.subscriber_count == 0, 15), (
        f"{fanout.subscriber_count} queues left after every client disconnected"
    )


def test_slow_client_is_dropped_not_buffered(serve, caplog):
    base_url, app = serve(sse_keepalive_seconds=60)
    fanout = app.state.event_fanout
    slow = _open_sse(base_url, receive_buffer_bytes=4096)  # reads nothing after ": connected"
    try:
        _read_until(slow, b": connected", time.monotonic() + 30)
        for i in range(8000):  # ~16 MB: more than the socket buffers and a queue hold
            app.state.pool.events.publish("job.submitted", job_id=f"j{i}", kind="x" * 2000, size=i)
        assert _wait_for(lambda: fanout.subscriber_count == 0, 30), "the slow client stayed"
        assert "lost the Redis subscription" not in caplog.text  # dropped, not a Redis loss
    finally:
        slow.close()

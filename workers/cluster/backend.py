"""What the scheduler loop runs tasks on and reads the time from: :class:`TaskBackend`.

:func:`workers.cluster.scheduler.run_placed` places, waits for, reads and cancels chunk
tasks, and reads and spends time, only through a backend.  The default,
:class:`RayBackend`, is Ray and the wall clock (``ray.wait``/``get``/``cancel``,
``NodeAffinitySchedulingStrategy``, ``time.monotonic``/``sleep``); the scale model
(``bench/simulate.py``) passes one with a virtual clock and an event queue, so the real
scheduler runs thousands of simulated nodes in virtual time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Protocol

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


class TaskBackend(Protocol):
    """Tasks and time for the scheduler loop (refs are opaque, hashable task handles)."""

    task_error: type[BaseException]
    """What :meth:`get` raises when the task failed (its node died, its worker crashed):
    the chunk is retried elsewhere."""

    def place(self, node_id: str) -> Any:
        """What ``submit`` is given to pin a chunk task to ``node_id`` (hard affinity)."""
        ...

    def wait(self, refs: Sequence[Any], timeout_seconds: float) -> list[Any]:
        """At least one finished ref of ``refs``, or none after ``timeout_seconds``."""
        ...

    def get(self, ref: Any) -> Any:
        """The task's reply (raises :attr:`task_error` if the task failed)."""
        ...

    def cancel(self, ref: Any) -> None:
        """Cancel a task whose reply is no longer wanted (never reported)."""
        ...

    def wait_futures(self, futures: Sequence[Future], timeout_seconds: float) -> None:
        """Return when one of ``futures`` (head-side work) is done, or after the timeout."""
        ...

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def sleep(self, seconds: float) -> None: ...


class RayBackend:
    """Ray tasks and the wall clock (the scheduler's default)."""

    task_error: type[BaseException] = ray.exceptions.RayError

    def place(self, node_id: str) -> NodeAffinitySchedulingStrategy:
        return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)

    def wait(self, refs: Sequence[Any], timeout_seconds: float) -> list[Any]:
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=timeout_seconds)
        return ready

    def get(self, ref: Any) -> Any:
        return ray.get(ref)

    def cancel(self, ref: Any) -> None:
        ray.cancel(ref, force=False)

    def wait_futures(self, futures: Sequence[Future], timeout_seconds: float) -> None:
        wait(list(futures), timeout=timeout_seconds, return_when=FIRST_COMPLETED)

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

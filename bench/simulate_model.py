"""The scale model's engine: simulated nodes, links and a virtual clock behind the real scheduler.

:class:`SimBackend` is a :class:`workers.cluster.backend.TaskBackend`: the real
:func:`workers.cluster.scheduler.run_placed` places chunks on it exactly as it does on Ray,
and the backend answers in virtual time.  A chunk task, once submitted (the head's loop pays
``head_submit_seconds``), moves through:

1. its scalars over the node's link (``scalar_bytes``);
2. a CPU slot of the node (and its GPU for a GPU chunk; Ray queues a task when the node's
   CPUs or GPUs are held, by cancelled copies too: a cancelled task computes on);
3. the MSM's bases over the link, if the node has not got them yet (once per node and bases,
   :func:`workers.cluster.tasks.cached_bases`; a chunk waits for a fetch already running);
4. its compute (:class:`ChunkCosts`: seconds for the chunk's points on a CPU slot, times the
   node's ``cpu_factor``, or on its GPU), times a seeded jitter;
5. the reply (one point) after ``rtt_seconds``; the loop pays ``head_collect_seconds`` to read it.

Transfers are fluid flows: each node's link is shared fairly among its flows, and the head's
uplink among all of them (max-min fair), so many nodes fetching at once find the head's
uplink the bottleneck.  The scheduler's own Python time between backend calls (this thread's
CPU time, so the machine's other load does not count) can be charged to the virtual clock
(``charge_loop=True``): the head's loop is one thread, and at hundreds of nodes its
placement work is part of the proof time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from workers.cluster.tasks import ChunkOutput

DONE_BYTES = 1e-3
"""A flow with less left than this has arrived (rounding of rate × time)."""


class SimTaskError(Exception):
    """A simulated task failure (none is simulated yet; the scheduler would retry it)."""


class ChunkCosts(Protocol):
    def cpu_seconds(self, curve: str, points: int) -> float: ...

    def gpu_seconds(self, curve: str, points: int) -> float | None: ...


@dataclass(frozen=True)
class SimNode:
    """One contributor's machine: CPU slots, GPUs, link speed and CPU speed (× the measured)."""

    node_id: str
    slots: int
    link_bytes_per_second: float
    cpu_factor: float = 1.0
    gpus: int = 0
    slowdown: float = 1.0
    """A straggler: every chunk takes this many times longer than its cost."""


@dataclass(frozen=True)
class HeadModel:
    uplink_bytes_per_second: float
    submit_seconds: float = 0.002
    collect_seconds: float = 0.002
    rtt_seconds: float = 0.0


@dataclass(frozen=True)
class TaskSpec:
    """What a submitted chunk costs: its MSM, points, bytes, and whether it wants the GPU."""

    curve: str
    points: int
    scalar_bytes: int
    bases_key: str
    bases_bytes: int
    on_gpu: bool


@dataclass
class _Task:
    ref: int
    chunk_index: int
    node: SimNode
    spec: TaskSpec
    stage: str = "scalars"
    done_at: float | None = None
    cancelled: bool = False
    holds_gpu: bool = False
    compute_seconds: float = 0.0
    fetched_bytes: int = 0


@dataclass
class _Flow:
    node_id: str
    remaining_bytes: float
    then: Callable[[], None]
    rate: float = 0.0


@dataclass
class _NodeState:
    free_cpus: int
    free_gpus: int
    queue: list[_Task] = field(default_factory=list)
    bases: set[str] = field(default_factory=set)
    fetching: dict[str, list[_Task]] = field(default_factory=dict)
    received_bytes: int = 0


class SimBackend:
    """Virtual clock, event queue and links for :func:`run_placed` (module docstring)."""

    task_error = SimTaskError

    def __init__(
        self,
        nodes: Sequence[SimNode],
        costs: ChunkCosts,
        head: HeadModel,
        *,
        seed: int = 0,
        jitter: float = 0.03,
        cached: Sequence[tuple[str, str]] = (),
        charge_loop: bool = False,
    ) -> None:
        self.nodes = {n.node_id: n for n in nodes}
        self.state = {n.node_id: _NodeState(n.slots, n.gpus) for n in nodes}
        for node_id, key in cached:
            self.state[node_id].bases.add(key)
        self.costs, self.head, self.jitter = costs, head, jitter
        self.rng = random.Random(seed)
        self.clock = 0.0
        self.events: list[tuple[float, int, Callable[[], None]]] = []
        self.flows: list[_Flow] = []
        self.tasks: dict[int, _Task] = {}
        self.ids = itertools.count()
        self.charge_loop = charge_loop
        self.loop_seconds = 0.0
        self._left_at: float | None = None
        self.submitted = 0
        self.head_bytes = 0

    # --- the loop's time ---------------------------------------------------------------
    def _enter(self) -> None:
        if self._left_at is not None:
            spent = time.thread_time() - self._left_at
            self.loop_seconds += spent
            if self.charge_loop:
                self._advance(self.clock + spent)

    def _leave(self) -> None:
        self._left_at = time.thread_time()

    # --- TaskBackend -------------------------------------------------------------------
    def place(self, node_id: str) -> str:
        return node_id

    def now(self) -> float:
        return self.clock

    def sleep(self, seconds: float) -> None:
        self._enter()
        self._advance(self.clock + seconds)
        self._leave()

    def wait(self, refs: Sequence[Any], timeout_seconds: float) -> list[Any]:
        self._enter()
        wanted = [self.tasks[r] for r in refs]

        def first() -> list[int]:
            done = [t for t in wanted if t.done_at is not None and t.done_at <= self.clock]
            return [min(done, key=lambda t: (t.done_at, t.ref)).ref] if done else []

        self._advance(self.clock + timeout_seconds, lambda: bool(first()))
        self._leave()
        return first()

    def get(self, ref: Any) -> Any:
        self._enter()
        self._advance(self.clock + self.head.collect_seconds)
        task = self.tasks.pop(ref)
        self._leave()
        return ChunkOutput(
            ("sum", task.chunk_index),
            task.node.node_id,
            task.compute_seconds,
            task.fetched_bytes,
            "gpu" if task.holds_gpu else "cpu",
        )

    def cancel(self, ref: Any) -> None:
        task = self.tasks.pop(ref, None)
        if task is not None:
            task.cancelled = True
            if task.stage in ("scalars", "queued"):  # not started: Ray drops it
                self._drop(task)

    def wait_futures(self, futures: Sequence[Future], timeout_seconds: float) -> None:
        self._enter()
        self._advance(self.clock + timeout_seconds, lambda: any(f.done() for f in futures))
        self._leave()

    # --- the simulation's own calls ----------------------------------------------------
    def at(self, when: float, action: Callable[[], None]) -> None:
        """Run ``action`` at virtual time ``when`` (a head-side computation finishing)."""
        heapq.heappush(self.events, (when, next(self.ids), action))

    def busy_head(self, seconds: float) -> None:
        """The loop's thread computes for ``seconds`` (a chunk settled on the head)."""
        self._advance(self.clock + seconds)

    def submit(self, chunk_index: int, node_id: str, spec: TaskSpec) -> int:
        """Start a chunk task on ``node_id``; its ref."""
        self._enter()
        self._advance(self.clock + self.head.submit_seconds)
        task = _Task(next(self.ids), chunk_index, self.nodes[node_id], spec)
        self.tasks[task.ref] = task
        self.submitted += 1
        self._transfer(node_id, spec.scalar_bytes, lambda: self._queue(task))
        self._leave()
        return task.ref

    # --- tasks -------------------------------------------------------------------------
    def _queue(self, task: _Task) -> None:
        if task.cancelled:
            return
        task.stage = "queued"
        self.state[task.node.node_id].queue.append(task)
        self._dispatch(task.node.node_id)

    def _dispatch(self, node_id: str) -> None:
        state = self.state[node_id]
        for task in list(state.queue):
            gpu = task.spec.on_gpu and task.node.gpus > 0
            if state.free_cpus < 1 or (gpu and state.free_gpus < 1):
                continue
            state.queue.remove(task)
            state.free_cpus -= 1
            if gpu:
                state.free_gpus -= 1
                task.holds_gpu = True
            task.stage = "running"
            self._bases(task)

    def _bases(self, task: _Task) -> None:
        state, key = self.state[task.node.node_id], task.spec.bases_key
        if key in state.bases:
            self._compute(task)
        elif key in state.fetching:
            state.fetching[key].append(task)
        else:
            state.fetching[key] = [task]
            task.fetched_bytes = task.spec.bases_bytes

            def fetched() -> None:
                state.bases.add(key)
                for waiting in state.fetching.pop(key):
                    self._compute(waiting)

            self._transfer(task.node.node_id, task.spec.bases_bytes, fetched)

    def _compute(self, task: _Task) -> None:
        spec, node = task.spec, task.node
        seconds = None
        if task.holds_gpu:
            seconds = self.costs.gpu_seconds(spec.curve, spec.points)
        if seconds is None:
            seconds = self.costs.cpu_seconds(spec.curve, spec.points) / node.cpu_factor
        seconds *= node.slowdown * math.exp(self.rng.gauss(0.0, self.jitter))
        task.compute_seconds = seconds
        self.at(self.clock + seconds, lambda: self._finish(task))

    def _finish(self, task: _Task) -> None:
        state = self.state[task.node.node_id]
        state.free_cpus += 1
        if task.holds_gpu:
            state.free_gpus += 1
        task.stage = "done"
        task.done_at = self.clock + self.head.rtt_seconds
        self._dispatch(task.node.node_id)

    def _drop(self, task: _Task) -> None:
        state = self.state[task.node.node_id]
        if task in state.queue:
            state.queue.remove(task)
        task.stage = "dropped"

    # --- links -------------------------------------------------------------------------
    def _transfer(self, node_id: str, nbytes: int, then: Callable[[], None]) -> None:
        self.state[node_id].received_bytes += nbytes
        self.head_bytes += nbytes
        if nbytes <= 0:
            self.at(self.clock, then)
            return
        self.flows.append(_Flow(node_id, float(nbytes), then))
        self._rates()

    def _rates(self) -> None:
        """Max-min fair rates: each node's link shared by its flows, the head's uplink by all."""
        count: dict[str, int] = {}
        for flow in self.flows:
            count[flow.node_id] = count.get(flow.node_id, 0) + 1
        per_flow = {n: self.nodes[n].link_bytes_per_second / k for n, k in count.items()}
        left, flows_left, level = self.head.uplink_bytes_per_second, len(self.flows), math.inf
        for node_id in sorted(count, key=per_flow.__getitem__):
            if per_flow[node_id] * flows_left <= left:
                left -= per_flow[node_id] * count[node_id]
                flows_left -= count[node_id]
            else:
                level = left / flows_left
                break
        for flow in self.flows:
            flow.rate = min(per_flow[flow.node_id], level)

    def _advance(self, until: float, stop: Callable[[], bool] | None = None) -> None:
        """Run events and flows up to ``until`` (earlier once ``stop()`` holds)."""
        while True:
            if stop is not None and stop():
                return
            next_flow = min(
                (self.clock + f.remaining_bytes / f.rate for f in self.flows if f.rate > 0),
                default=math.inf,
            )
            next_event = self.events[0][0] if self.events else math.inf
            step = min(next_flow, next_event, until)
            if math.isinf(step):
                raise RuntimeError("the simulation has nothing left to happen")
            dt = max(0.0, step - self.clock)
            for flow in self.flows:
                flow.remaining_bytes -= flow.rate * dt
            self.clock = max(self.clock, step)
            if step == until and step < min(next_flow, next_event):
                return
            finished = [f for f in self.flows if f.remaining_bytes <= DONE_BYTES]
            if finished:
                self.flows = [f for f in self.flows if f.remaining_bytes > DONE_BYTES]
                self._rates()
                for flow in finished:
                    flow.then()
            while self.events and self.events[0][0] <= self.clock:
                _, _, action = heapq.heappop(self.events)
                action()
            if step >= until and not (stop is not None and stop()):
                return

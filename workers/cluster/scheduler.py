"""Running untrusted chunks on chosen nodes: placement, faults, stragglers, verification.

The loop behind :mod:`workers.cluster.dispatch` (docs/architecture.md §3, §6).  Every chunk task is
pinned to one node (Ray ``NodeAffinitySchedulingStrategy``, hard), so the
caller decides who may work: banned or dead nodes simply never appear in
:attr:`Policy.nodes`.  A node takes at most ``slots`` chunks at a time and the
job at most ``max_in_flight``; a free slot pulls the next waiting chunk, so a
faster node takes more chunks and the nodes finish together.

* **Faults**: a task that fails with a Ray error (its node died — graceful
  removal or a killed raylet —, its worker crashed, its object was lost) is
  resubmitted on another node, at most ``max_attempts`` times per chunk; the
  node list is refreshed after every failure.
* **Stragglers**: a primary running longer than
  ``straggler_factor × expected`` (the node's measured speed times the
  chunk's work units, at least ``straggler_min_seconds``) gets one speculative
  copy on another contributor's node.  The first result that verifies wins;
  the other copy is cancelled and never reported.
* **One form**: every reply is first put in its canonical form (``canonical``: type,
  dtype, shape, contiguity), and that exact value is checked, kept and combined; a reply
  that cannot be put in that form without loss is a failed check.
* **Verification**: ``verify`` (NTT: :func:`workers.cluster.verify.check_ntt_slice`)
  runs on every result, in a small thread pool beside the loop (the check
  releases the GIL), so the nodes get their next chunks while earlier ones
  are being checked; a failure — or a reply the check cannot even read — is a
  cheat.  Chunks in ``audit`` (MSM:
  :func:`workers.cluster.verify.audit_sample`) are recomputed on a node of another
  owner; a mismatch is settled by ``settle`` (a third computation, on the
  head).  A cheating owner is reported once through ``on_cheat``, gets no more
  work in this job, and every chunk it delivered that was not independently
  checked is computed again elsewhere.
* **Late chunks**: ``later`` (a future of more chunks, e.g. the H MSM of a Groth16 proof,
  whose scalars the head is still computing) joins the queue the moment it resolves; the
  run ends only after it has and its chunks are accepted.  Its failure fails the run.
* Only results that passed are handed to ``on_accept`` (the caller records
  them; crediting is the caller's business), with ``"checked"``,
  ``"audited"`` or ``"unaudited"``.  ``should_continue`` is asked at every
  chunk boundary (job cancelled, runner stopping).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from workers.cluster.backend import RayBackend, TaskBackend
from workers.cluster.plan import Chunk
from workers.cluster.tasks import ChunkOutput
from workers.errors import DispatchError, JobInterrupted

log = logging.getLogger(__name__)
Submit = Callable[[Chunk, Any], Any]
"""Starts a chunk's task where :meth:`TaskBackend.place` says (Ray: a hard
``NodeAffinitySchedulingStrategy``); returns its ref."""
POLL_SECONDS = 0.1
VERIFY_POLL_SECONDS = 0.005
"""How often the loop looks for finished checks while some are running."""
VERIFY_THREADS = 2
NODE_REFRESH_SECONDS = 1.0
NO_NODE_TIMEOUT_SECONDS = 60.0


@dataclass
class Policy:
    """How one job's chunks are placed, checked and accounted (all callbacks optional)."""

    nodes: Callable[[], dict[str, int]]
    """Eligible node ids → slots (CPUs); called again after failures and periodically."""
    owner_of: Callable[[str], Hashable] = lambda node_id: node_id
    """Who answers for a node (its contributor); copies of a chunk go to distinct owners."""
    max_in_flight: int = 8
    max_attempts: int = 3
    """Failed tries (Ray errors) allowed per chunk before the job fails."""
    canonical: Callable[[Chunk, object], object] | None = None
    """A reply's value in the one form it is checked, kept and combined in (NTT:
    :func:`workers.cluster.verify.canonical_block`, MSM: ``canonical_point``); raising
    means the reply cannot be read losslessly in that form: a failed check."""
    verify: Callable[[Chunk, ChunkOutput], bool] | None = None
    audit: set[int] = field(default_factory=set)
    equal: Callable[[object, object], bool] = lambda a, b: a == b
    settle: Callable[[Chunk], object] | None = None
    """The trusted third computation of a disputed audit (head side)."""
    preferred: dict[int, str] = field(default_factory=dict)
    """Chunk index → the node it was sized for; others take it only if that node is gone."""
    expected_seconds: Callable[[Chunk, str], float | None] = lambda chunk, node: None
    straggler_factor: float = 4.0
    straggler_min_seconds: float = 2.0
    on_accept: Callable[[Chunk, ChunkOutput, str], None] | None = None
    on_cheat: Callable[[str, Chunk], None] | None = None
    should_continue: Callable[[], bool] = lambda: True


@dataclass
class _Copy:
    chunk: Chunk
    node_id: str
    role: str  # "primary" or "audit"
    submitted: float
    speculative: bool = False


@dataclass
class _Accepted:
    output: ChunkOutput
    how: str


LATE_POLL_SECONDS = 0.005
"""How often the loop looks for late chunks while they are not there yet."""


class _Run:
    def __init__(
        self,
        chunks: Sequence[Chunk],
        submit: Submit,
        policy: Policy,
        later: Future[Sequence[Chunk]] | None = None,
        backend: TaskBackend | None = None,
    ) -> None:
        self.backend: TaskBackend = backend or RayBackend()
        self.policy = policy
        self.submit_fn = submit
        self.by_index = {c.index: c for c in chunks}
        self.waiting: list[Chunk] = list(chunks)
        self.later = later
        self.audit_waiting: list[tuple[Chunk, ChunkOutput]] = []
        self.pending: dict[Any, _Copy] = {}
        self.verifying: dict[Future, tuple[_Copy, ChunkOutput]] = {}
        self.executor: ThreadPoolExecutor | None = None
        self.accepted: dict[int, _Accepted] = {}
        self.tentative: dict[int, ChunkOutput] = {}  # awaiting an audit
        self.failures: dict[int, int] = {}
        self.speculated: set[int] = set()
        self.cheaters: set[Hashable] = set()
        self.nodes: dict[str, int] = {}
        self.nodes_at = 0.0

    # --- nodes --------------------------------------------------------------------------
    def refresh_nodes(self, force: bool = False) -> None:
        now = self.backend.now()
        if force or now - self.nodes_at > NODE_REFRESH_SECONDS:
            nodes = self.policy.nodes()
            self.nodes = {
                n: s for n, s in nodes.items() if self.policy.owner_of(n) not in self.cheaters
            }
            self.nodes_at = now

    def busy(self, node_id: str) -> int:
        return sum(1 for c in self.pending.values() if c.node_id == node_id)

    def pick_node(
        self, avoid_owners: set[Hashable] = frozenset(), skip: set[str] = frozenset()
    ) -> str | None:
        """The eligible node with the most free slots (not of ``avoid_owners``, not in ``skip``)."""
        best, best_free = None, 0
        for node_id, slots in self.nodes.items():
            if node_id in skip or self.policy.owner_of(node_id) in avoid_owners:
                continue
            free = slots - self.busy(node_id)
            if free > best_free:
                best, best_free = node_id, free
        return best

    def submit(self, chunk: Chunk, node_id: str, role: str, speculative: bool = False) -> None:
        ref = self.submit_fn(chunk, self.backend.place(node_id))
        self.pending[ref] = _Copy(chunk, node_id, role, self.backend.now(), speculative)

    def live_copies(self, index: int) -> list[_Copy]:
        """The copies of chunk ``index`` running or being checked."""
        copies = list(self.pending.values()) + [c for c, _ in self.verifying.values()]
        return [c for c in copies if c.chunk.index == index]

    def owners_running(self, index: int) -> set[Hashable]:
        """Owners with a copy of chunk ``index`` running or being checked."""
        return {self.policy.owner_of(c.node_id) for c in self.live_copies(index)}

    # --- the loop -----------------------------------------------------------------------
    def take_later(self) -> None:
        """Queue the late chunks once their future has resolved (its error is the run's)."""
        if self.later is None or not self.later.done():
            return
        chunks, self.later = self.later.result(), None
        for chunk in chunks:
            if chunk.index in self.by_index:
                raise DispatchError(f"late chunk {chunk.index} repeats an index of the run")
            self.by_index[chunk.index] = chunk
            self.waiting.append(chunk)

    def fill(self) -> None:
        """Hand waiting audits, then waiting chunks, to free slots."""
        while self.audit_waiting and len(self.pending) < self.policy.max_in_flight:
            chunk, output = self.audit_waiting[0]
            if chunk.index in self.accepted:
                self.audit_waiting.pop(0)
                continue
            avoid = {self.policy.owner_of(output.node_id)} | self.cheaters
            node = self.pick_node(avoid)
            if node is None and not any(self.policy.owner_of(n) not in avoid for n in self.nodes):
                # Nobody else to ask: the head is the second opinion (and the judge).
                self.audit_waiting.pop(0)
                self.audited_on_head(chunk, output)
                continue
            if node is None:
                break
            self.audit_waiting.pop(0)
            self.submit(chunk, node, "audit")
        skipped: set[str] = set()
        while self.waiting and len(self.pending) < self.policy.max_in_flight:
            node = self.pick_node(set(self.cheaters), skipped)
            if node is None:
                break
            chunk = self.next_for(node)
            if chunk is None:
                skipped.add(node)
                continue
            self.waiting.remove(chunk)
            self.submit(chunk, node, "primary")

    def next_for(self, node_id: str) -> Chunk | None:
        """A waiting chunk sized for ``node_id``, else one whose own node is gone."""
        orphan = None
        for chunk in self.waiting:
            wanted = self.policy.preferred.get(chunk.index)
            if wanted == node_id:
                return chunk
            if orphan is None and (wanted is None or wanted not in self.nodes):
                orphan = chunk
        return orphan

    def speculate(self) -> None:
        now = self.backend.now()
        for copy in list(self.pending.values()):
            index = copy.chunk.index
            if copy.role != "primary" or index in self.speculated or index in self.accepted:
                continue
            expected = self.policy.expected_seconds(copy.chunk, copy.node_id)
            if expected is None:
                continue
            deadline = max(
                self.policy.straggler_min_seconds, self.policy.straggler_factor * expected
            )
            if now - copy.submitted <= deadline:
                continue
            node = self.pick_node(self.owners_running(index) | self.cheaters)
            if node is not None:
                self.speculated.add(index)
                log.warning(
                    "chunk %s straggling on node %s after %.2f s (expected %.3f s): "
                    "speculative copy on node %s",
                    index,
                    copy.node_id,
                    now - copy.submitted,
                    expected,
                    node,
                )
                self.submit(copy.chunk, node, "primary", speculative=True)

    def cancel_copies(self, index: int) -> None:
        for ref, copy in list(self.pending.items()):
            if copy.chunk.index == index:
                del self.pending[ref]
                self.backend.cancel(ref)

    def run(self) -> dict[int, object]:
        self.refresh_nodes(force=True)
        no_node_since: float | None = None
        while True:
            self.take_later()
            if not (self.waiting or self.pending or self.audit_waiting or self.verifying):
                missing = [i for i in self.by_index if i not in self.accepted]
                if not missing and self.later is None:
                    break
                for index in missing:  # a safety net: nothing may fall through the cracks
                    self.ensure_progress(index)
            if not self.policy.should_continue():
                raise JobInterrupted("stopped at a chunk boundary")
            if self.later is not None and not (
                self.waiting or self.pending or self.audit_waiting or self.verifying
            ):
                self.backend.wait_futures([self.later], POLL_SECONDS)  # nothing else to do
                continue
            self.refresh_nodes()
            self.fill()
            if not self.pending and self.verifying:
                self.backend.wait_futures(list(self.verifying), POLL_SECONDS)
                self.checks_done()
                continue
            if not self.pending:
                no_node_since = no_node_since or self.backend.now()
                if self.backend.now() - no_node_since > NO_NODE_TIMEOUT_SECONDS:
                    raise DispatchError("no eligible node to run the remaining chunks")
                self.backend.sleep(POLL_SECONDS)
                self.refresh_nodes(force=True)
                continue
            no_node_since = None
            timeout = VERIFY_POLL_SECONDS if self.verifying else POLL_SECONDS
            if self.later is not None:
                timeout = min(timeout, LATE_POLL_SECONDS)
            ready = self.backend.wait(list(self.pending), timeout)
            for ref in ready:
                copy = self.pending.pop(ref, None)
                if copy is not None:
                    self.collect(ref, copy)
            self.checks_done()
            self.speculate()
        return {i: a.output.value for i, a in self.accepted.items()}

    # --- results ------------------------------------------------------------------------
    def collect(self, ref: Any, copy: _Copy) -> None:
        chunk = copy.chunk
        try:
            reply = self.backend.get(ref)
        except self.backend.task_error as exc:
            self.failed(copy, exc)
            return
        if chunk.index in self.accepted or self.policy.owner_of(copy.node_id) in self.cheaters:
            self.ensure_progress(chunk.index)
            return
        output = self.canonical(copy, reply)
        if output is None:  # an unreadable reply fails its check, whatever the copy's role
            self.cheated(copy.node_id, chunk)
            self.ensure_progress(chunk.index)
            return
        if copy.role == "primary" and self.policy.verify is not None:
            if self.executor is None:
                self.executor = ThreadPoolExecutor(VERIFY_THREADS, "proverpool-verify")
            future = self.executor.submit(self.policy.verify, chunk, output)
            self.verifying[future] = (copy, output)
            return
        self.checked(copy, output, passed=True)

    def canonical(self, copy: _Copy, reply: object) -> ChunkOutput | None:
        """The untrusted ``reply`` as the one :class:`ChunkOutput` that is checked, kept and
        combined (``None``: it cannot be read, a failed check).

        The value goes through :attr:`Policy.canonical` once; the other fields must have
        their types. Credit and blame follow the node this copy was pinned to, never the
        node id the task reports about itself.
        """
        problem = None
        if type(reply) is not ChunkOutput:
            problem = f"a {type(reply).__name__} instead of a ChunkOutput"
        elif not isinstance(reply.duration_seconds, (int, float)) or not (
            0 <= reply.duration_seconds < float("inf")
        ):
            problem = "no finite duration"
        elif type(reply.fetched_bytes) is not int or reply.backend not in ("cpu", "gpu"):
            problem = "malformed fields"
        value = None
        if problem is None:
            value = reply.value
            if self.policy.canonical is not None:
                try:
                    value = self.policy.canonical(copy.chunk, value)
                except Exception as exc:  # whatever the reply is, it fails its check
                    problem = str(exc)
        if problem is not None:
            log.warning(
                "chunk %s (%s) on node %s: unreadable reply (%s)",
                copy.chunk.index,
                copy.role,
                copy.node_id,
                problem,
            )
            return None
        return ChunkOutput(
            value,
            copy.node_id,
            float(reply.duration_seconds),
            max(0, reply.fetched_bytes),
            reply.backend,
            _fetch_seconds(reply),
        )

    def checks_done(self) -> None:
        """Hand every finished check to :meth:`checked`."""
        for future in [f for f in self.verifying if f.done()]:
            copy, output = self.verifying.pop(future)
            try:
                passed = bool(future.result())
            except Exception:  # an unreadable reply from an untrusted node fails its check
                log.exception("chunk %s: the check raised", copy.chunk.index)
                passed = False
            self.checked(copy, output, passed)

    def checked(self, copy: _Copy, output: ChunkOutput, passed: bool) -> None:
        """A result whose check (if any) is done: accept it, audit it, or catch its owner."""
        chunk = copy.chunk
        owner = self.policy.owner_of(output.node_id)
        if chunk.index in self.accepted or owner in self.cheaters:
            self.ensure_progress(chunk.index)
            return
        if copy.role == "audit":
            self.audited(chunk, output)
            return
        if chunk.index in self.tentative:
            return  # a slower copy of a chunk already awaiting its audit
        if not passed:
            self.cheated(output.node_id, chunk)
            self.ensure_progress(chunk.index)
            return
        if chunk.index in self.policy.audit:
            self.tentative[chunk.index] = output
            self.cancel_copies(chunk.index)
            self.audit_waiting.append((chunk, output))
            return
        how = "checked" if self.policy.verify is not None else "unaudited"
        self.accept(chunk, output, how)

    def accept(self, chunk: Chunk, output: ChunkOutput, how: str) -> None:
        self.accepted[chunk.index] = _Accepted(output, how)
        self.tentative.pop(chunk.index, None)
        self.waiting = [c for c in self.waiting if c.index != chunk.index]
        self.cancel_copies(chunk.index)
        if self.policy.on_accept is not None:
            self.policy.on_accept(chunk, output, how)

    def audited(self, chunk: Chunk, audit: ChunkOutput) -> None:
        original = self.tentative.get(chunk.index)
        if original is None:  # the original's owner was caught meanwhile: one opinion left
            self.accept(chunk, audit, "unaudited")
            return
        if self.policy.equal(original.value, audit.value):
            self.accept(chunk, original, "audited")
            return
        if self.policy.settle is None:
            raise DispatchError(f"chunk {chunk.index}: audit mismatch and no way to settle it")
        truth = self.policy.settle(chunk)
        winner: ChunkOutput | None = None
        for output in (original, audit):
            if self.policy.equal(output.value, truth):
                winner = winner or output
            else:
                self.cheated(output.node_id, chunk)
        if chunk.index in self.accepted:
            return
        self.accept(chunk, winner or ChunkOutput(truth, "head", 0.0), "audited")

    def audited_on_head(self, chunk: Chunk, original: ChunkOutput) -> None:
        """The audit of a chunk no other owner can recompute: ``settle`` on the head."""
        if self.policy.settle is None:
            raise DispatchError(f"chunk {chunk.index}: no node to audit it and no way to settle")
        truth = self.policy.settle(chunk)
        if self.policy.equal(original.value, truth):
            self.accept(chunk, original, "audited")
            return
        self.tentative.pop(chunk.index, None)
        self.cheated(original.node_id, chunk)
        if chunk.index not in self.accepted:
            self.accept(chunk, ChunkOutput(truth, "head", 0.0), "audited")

    def cheated(self, node_id: str, chunk: Chunk) -> None:
        owner = self.policy.owner_of(node_id)
        if owner in self.cheaters:
            return
        self.cheaters.add(owner)
        self.refresh_nodes(force=True)
        if self.policy.on_cheat is not None:
            self.policy.on_cheat(node_id, chunk)
        # Everything the cheater delivered unchecked is computed again elsewhere.
        for index, acc in list(self.accepted.items()):
            if acc.how == "unaudited" and self.policy.owner_of(acc.output.node_id) == owner:
                del self.accepted[index]
                self.ensure_progress(index)
        for index, output in list(self.tentative.items()):
            if self.policy.owner_of(output.node_id) == owner:
                del self.tentative[index]
                self.audit_waiting = [(c, o) for c, o in self.audit_waiting if c.index != index]
                self.ensure_progress(index)

    def ensure_progress(self, index: int) -> None:
        """A chunk not yet accepted has a copy running or waiting for what it lacks.

        A chunk awaiting its audit needs an audit copy; any other a primary
        (copies on a caught owner's node do not count).
        """
        if index in self.accepted:
            return
        running = [
            c
            for c in self.live_copies(index)
            if self.policy.owner_of(c.node_id) not in self.cheaters
        ]
        if index in self.tentative:
            queued = any(c.index == index for c, _ in self.audit_waiting)
            if not queued and not any(c.role == "audit" for c in running):
                self.audit_waiting.append((self.by_index[index], self.tentative[index]))
        elif not running:
            self.requeue(self.by_index[index])

    def requeue(self, chunk: Chunk) -> None:
        if chunk.index not in self.accepted and all(c.index != chunk.index for c in self.waiting):
            self.waiting.insert(0, chunk)

    def failed(self, copy: _Copy, exc: BaseException) -> None:
        index = copy.chunk.index
        log.warning(
            "chunk %s (%s) failed on node %s: %s",
            index,
            copy.role,
            copy.node_id,
            type(exc).__name__,
        )
        self.refresh_nodes(force=True)
        if index in self.accepted or (copy.role == "primary" and self.owners_running(index)):
            return  # another copy is still on it
        self.failures[index] = self.failures.get(index, 0) + 1
        if self.failures[index] > self.policy.max_attempts:
            raise DispatchError(
                f"chunk {index} ({copy.chunk.phase}) failed {self.failures[index]} times: {exc}"
            ) from exc
        self.ensure_progress(index)


def _fetch_seconds(reply: ChunkOutput) -> float:
    """The reply's fetch time if it is a finite non-negative number, else 0 (it only
    steers planning: :func:`workers.cluster.linkplan.fold_link`)."""
    seconds = getattr(reply, "fetch_seconds", 0.0)
    if type(seconds) not in (int, float) or not 0 <= seconds < float("inf"):
        return 0.0
    return float(seconds)


def run_placed(
    chunks: Sequence[Chunk],
    submit: Submit,
    policy: Policy,
    later: Future[Sequence[Chunk]] | None = None,
    backend: TaskBackend | None = None,
) -> dict[int, object]:
    """Run ``chunks`` (and ``later``'s, once it resolves) under ``policy``; the accepted
    value of every chunk by index.  ``backend``: tasks and clock
    (:mod:`workers.cluster.backend`; default Ray and the wall clock)."""
    if policy.max_in_flight < 1:
        raise ValueError("max_in_flight must be at least 1")
    run = _Run(chunks, submit, policy, later, backend)
    try:
        return run.run()
    finally:
        for ref in run.pending:
            run.backend.cancel(ref)
        if run.executor is not None:
            run.executor.shutdown(wait=False, cancel_futures=True)

"""Running a planned job on Ray: place chunks on nodes, verify results, combine.

Follows Ray's design patterns: big shared inputs are ``ray.put`` once and
passed by reference to every chunk; in-flight work is bounded (per node by
its slots, per job by ``max_in_flight``) and awaited with ``ray.wait``.  The
placement, fault, straggler and verification rules are those of
:mod:`workers.cluster.scheduler`; a :class:`~workers.cluster.scheduler.Policy` says which
nodes may work and what to do with accepted chunks and cheaters.

* MSM: partial sums of point chunks, added on the head.  Chunks in
  ``policy.audit`` are recomputed on another owner's node; a mismatch is
  settled by computing the chunk on the head (:mod:`workers.cluster.verify`).
* NTT: the four-step slices of :mod:`workers.cluster.plan`, each a batch of plain NTTs
  on the workers; the twiddles between the phases and the transposes are the
  head's, and every slice is checked on the head in O(n) before it is
  accepted (:func:`workers.cluster.verify.check_ntt_slice`).

``completed`` (chunk index → value) lets a resumed job skip chunks it already
has.  :func:`bytes_shipped` is what one job puts into the object store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from workers.cluster import tasks, verify
from workers.cluster.linkplan import note_held
from workers.cluster.plan import Chunk, NttPlan
from workers.cluster.runtime import alive_cpu_nodes
from workers.cluster.scheduler import Policy, Submit, run_placed
from workers.cluster.tasks import ChunkOutput
from workers.codec.arrays import element_dtype, element_shape
from workers.errors import DispatchError
from workers.msm import pippenger
from workers.ntt.twiddles import twiddle_limbs
from workers.params import CURVES, FIELDS
from workers.reference import Point, sum_points

log = logging.getLogger(__name__)
ChunkCallback = Callable[[Chunk, ChunkOutput], None]


def _policy(policy: Policy | None, max_in_flight: int, on_chunk: ChunkCallback | None) -> Policy:
    if policy is not None:
        return policy
    on_accept = None
    if on_chunk is not None:

        def on_accept(chunk: Chunk, output: ChunkOutput, how: str) -> None:
            on_chunk(chunk, output)

    return Policy(nodes=alive_cpu_nodes, max_in_flight=max_in_flight, on_accept=on_accept)


def _run(
    chunks: Sequence[Chunk],
    submit: Callable[..., ray.ObjectRef],
    policy: Policy,
    completed: Mapping[int, object] | None,
) -> dict[int, object]:
    done = dict(completed or {})
    todo = [c for c in chunks if c.index not in done]
    if todo:
        done.update(run_placed(todo, submit, policy))
    return done


BASES_REFS: OrderedDict[str, ray.ObjectRef] = OrderedDict()
"""Object references of recent MSM bases on the head, by SHA-256 (most recent last)."""
BASES_REFS_ENTRIES = 6
"""As many as a worker caches (:data:`workers.cluster.tasks.BASES_CACHE_ENTRIES`): a proving
key's five bases stay put between proofs."""


_BASES_SESSION: list[str] = [""]


def _bases_ref(sha256: str, bases: np.ndarray) -> ray.ObjectRef:
    context = ray.get_runtime_context()
    session = f"{context.get_node_id()}:{context.get_job_id()}"  # this driver's Ray session
    if _BASES_SESSION[0] != session:  # references die with the Ray session that made them
        BASES_REFS.clear()
        _BASES_SESSION[0] = session
    ref = BASES_REFS.get(sha256)
    if ref is None:
        ref = BASES_REFS[sha256] = ray.put(bases)
        while len(BASES_REFS) > BASES_REFS_ENTRIES:
            BASES_REFS.popitem(last=False)
    BASES_REFS.move_to_end(sha256)
    return ref


def bases_sha256(bases: np.ndarray) -> str:
    """The name MSM bases travel under (their bytes' SHA-256)."""
    return hashlib.sha256(np.ascontiguousarray(bases).tobytes()).hexdigest()


def probe_links(
    node_ids: Sequence[str], probe_bytes: int = 2 << 20, timeout_seconds: float = 30.0
) -> dict[str, tuple[int, float]]:
    """Each node's ``(bytes, seconds)`` pulling ``probe_bytes`` from the head
    (:func:`workers.cluster.tasks.link_probe`, pinned to the node); nodes that do not
    answer within ``timeout_seconds`` are left out."""
    if not node_ids:
        return {}
    payload = np.random.default_rng().integers(0, 255, probe_bytes, dtype=np.uint8)
    boxes = [ray.put(np.zeros(8, dtype=np.uint8)), ray.put(payload)]
    refs = [
        tasks.link_probe.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=n, soft=False)
        ).remote(boxes)
        for n in node_ids
    ]
    ready, not_ready = ray.wait(refs, num_returns=len(refs), timeout=timeout_seconds)
    for ref in not_ready:
        ray.cancel(ref)
    measured: dict[str, tuple[int, float]] = {}
    for ref in ready:
        try:
            node_id, nbytes, seconds = ray.get(ref)
        except ray.exceptions.RayError as exc:
            log.warning("link probe failed: %s", exc)
            continue
        measured[node_id] = (nbytes, seconds)
    return measured


def bytes_shipped(*arrays: np.ndarray) -> int:
    """Bytes a job puts into the object store for its chunks (inputs shared by reference)."""
    return sum(int(a.nbytes) for a in arrays)


@dataclass(frozen=True, eq=False)
class MsmPart:
    """One MSM of a set run under one schedule: its name, curve, arrays and chunks (chunk
    indices unique across the set)."""

    name: str
    curve: str
    bases: np.ndarray
    scalars: np.ndarray
    chunks: Sequence[Chunk]


def run_msm(
    curve: str,
    bases: np.ndarray,
    scalars: np.ndarray,
    chunks: Sequence[Chunk],
    *,
    max_in_flight: int = 8,
    on_chunk: ChunkCallback | None = None,
    policy: Policy | None = None,
    completed: Mapping[int, object] | None = None,
    test_mode: bool = False,
    cache_bases: bool = True,
    gpu_chunks: Collection[int] = (),
) -> Point:
    """Distributed MSM: partial sums of point chunks, added on the head.

    The bases are named by their SHA-256; workers keep recent bases
    (:func:`workers.cluster.tasks.cached_bases`) and the head keeps their object
    references (:data:`BASES_REFS`), so a job that repeats a basis (the usual
    case: one proving key, many proofs) ships only its scalars.
    ``cache_bases=False`` ships them again (for measuring).  Chunks in
    ``gpu_chunks`` (sized for a node's GPU slot) ask for a GPU where their node
    has one (:func:`workers.cluster.tasks.gpu_options`); the others run on a CPU.
    """
    if curve not in CURVES:
        raise DispatchError(f"unknown curve {curve!r}")
    part = MsmPart("msm", curve, bases, scalars, chunks)
    sums = run_msm_set(
        [part],
        policy=_policy(policy, max_in_flight, on_chunk),
        completed=completed,
        test_mode=test_mode,
        cache_bases=cache_bases,
        gpu_chunks=gpu_chunks,
    )
    return sums["msm"]


def run_msm_set(
    parts: Sequence[MsmPart],
    *,
    policy: Policy,
    late: Callable[[], MsmPart] | None = None,
    completed: Mapping[int, object] | None = None,
    test_mode: bool = False,
    cache_bases: bool = True,
    gpu_chunks: Collection[int] = (),
) -> dict[str, Point]:
    """Several MSMs (a Groth16 proof's five) under one schedule; each one's sum by name.

    All chunks of all ``parts`` go into one queue, the most costly first (G2 chunks before
    G1 chunks of the same size), so no MSM waits for another's last chunk.  ``late``, when
    given, is called on a thread of its own while the chunks run; the part it returns (the
    H MSM, whose scalars the head computes meanwhile) joins the queue as soon as it is
    there (:func:`workers.cluster.scheduler.run_placed`'s ``later``).  Bases travel as in
    :func:`run_msm` (by hash, cached on the workers); each chunk ships only its own scalars.
    """
    done = dict(completed or {})
    owner: dict[int, MsmPart] = {}
    shipped: dict[str, tuple[str, list[ray.ObjectRef]]] = {}
    chunk_scalars: dict[int, ray.ObjectRef] = {}  # each chunk's own scalars, put once

    def register(part: MsmPart) -> list[Chunk]:
        """Index the part's chunks and ship its arrays; its chunks still to run."""
        if part.curve not in CURVES:
            raise DispatchError(f"unknown curve {part.curve!r}")
        for chunk in part.chunks:
            if chunk.index in owner:
                raise DispatchError(f"chunk index {chunk.index} is used twice in one MSM set")
            owner[chunk.index] = part
        todo = [c for c in part.chunks if c.index not in done]
        if todo:
            sha256 = bases_sha256(part.bases)
            if not cache_bases:
                sha256 = f"{sha256}:{uuid.uuid4().hex}"  # a name no worker has seen
            shipped[part.name] = (sha256, [_bases_ref(sha256, part.bases)])
        return todo

    def submit(c: Chunk, strategy: object) -> ray.ObjectRef:
        part = owner[c.index]
        sha256, box = shipped[part.name]
        scalars_ref = chunk_scalars.get(c.index)
        if scalars_ref is None:  # a retry or an audit copy ships the same object again
            scalars_ref = chunk_scalars[c.index] = ray.put(part.scalars[c.start : c.stop])
        on_gpu = tasks.gpu_options(strategy, ("msm", part.curve)) if c.index in gpu_chunks else {}
        return tasks.msm_chunk.options(scheduling_strategy=strategy, **on_gpu).remote(
            part.curve, sha256, box, scalars_ref, c.start, c.stop, test_mode, c.start
        )

    def settle(chunk: Chunk) -> object:
        part = owner[chunk.index]
        return pippenger.msm_limbs(
            part.curve,
            part.bases[chunk.start : chunk.stop].copy(),
            part.scalars[chunk.start : chunk.stop].copy(),
        )

    def canonical(chunk: Chunk, value: object) -> object:
        return verify.canonical_point(owner[chunk.index].curve, value)

    accepted = policy.on_accept

    def on_accept(chunk: Chunk, output: ChunkOutput, how: str) -> None:
        if cache_bases and output.node_id != "head":  # it holds the basis (fetched or cached)
            note_held(output.node_id, shipped[owner[chunk.index].name][0])
        if accepted is not None:
            accepted(chunk, output, how)

    policy = dataclasses.replace(
        policy,
        settle=settle,
        equal=verify.points_equal,
        canonical=canonical,
        on_accept=on_accept,
    )
    todo = [chunk for part in parts for chunk in register(part)]
    todo.sort(key=lambda c: -c.work_units)  # longest first: the tail is short chunks
    pool = ThreadPoolExecutor(1, "proverpool-late") if late is not None else None
    try:
        later = pool.submit(lambda: register(late())) if pool is not None and late else None
        if todo or later is not None:
            done.update(run_placed(todo, submit, policy, later))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    sums: dict[str, Point] = {}
    for part in {id(p): p for p in owner.values()}.values():
        sums[part.name] = sum_points(part.curve, (done[c.index] for c in part.chunks))  # type: ignore[misc]
    return sums


def run_ntt(
    field: str,
    values: np.ndarray,
    plan: NttPlan,
    *,
    inverse: bool = False,
    max_in_flight: int = 8,
    on_chunk: ChunkCallback | None = None,
    policy: Policy | None = None,
    completed: Mapping[int, object] | None = None,
    test_mode: bool = False,
    check: bool = True,
    gpu_chunks: Collection[int] = (),
) -> np.ndarray:
    """Distributed four-step NTT (see :mod:`workers.cluster.plan`) of a compact array of
    ``field`` elements (:mod:`workers.codec.arrays`: ``(n, 4)`` ``uint64`` on the
    254/255-bit fields, ``(n,)`` ``uint64`` on Goldilocks, ``(n,)`` ``uint32`` on
    BabyBear); returns the same format.  The slices put into the object store and
    returned by the workers are that format too.

    Every slice is verified on the head unless ``check`` is false; slices in
    ``gpu_chunks`` ask for a GPU as in :func:`run_msm`.  A stored value in
    ``completed`` that is not a slice of this format (one from before it) is
    computed again.
    """
    if field not in FIELDS:
        raise DispatchError(f"unknown field {field!r}")
    n, n1, n2 = plan.n, plan.n1, plan.n2
    dtype = element_dtype(field)
    if values.shape != element_shape(field, n) or values.dtype != dtype:
        raise DispatchError(
            f"plan is for {n} {field} elements, an array of shape {element_shape(field, n)} "
            f"and dtype {dtype}; got {values.shape} {values.dtype}"
        )
    policy = _policy(policy, max_in_flight, on_chunk)
    columns = np.ascontiguousarray(np.swapaxes(values.reshape(n1, n2, *values.shape[1:]), 0, 1))
    completed = {
        index: value
        for index, value in (completed or {}).items()
        if isinstance(value, np.ndarray) and value.dtype == dtype and value.ndim == columns.ndim
    }

    def check_columns(c: Chunk, out: ChunkOutput) -> bool:
        return verify.check_ntt_slice(field, columns[c.start : c.stop], out.value)

    def canonical_columns(c: Chunk, value: object) -> np.ndarray:
        return verify.canonical_block(field, value, columns[c.start : c.stop].shape)

    row_task = tasks.ntt_rows_chunk

    def submit_rows(matrix_ref: ray.ObjectRef | None, scale: int | None) -> Submit:
        """Submits a slice of ``matrix_ref``'s rows: one phase's chunks (both run NTT rows)."""

        def submit(c: Chunk, strategy: object) -> ray.ObjectRef:
            on_gpu = tasks.gpu_options(strategy, ("ntt", field)) if c.index in gpu_chunks else {}
            return row_task.options(scheduling_strategy=strategy, **on_gpu).remote(
                field, matrix_ref, c.start, c.stop, scale, test_mode
            )

        return submit

    done = dict(completed or {})
    columns_ref = None
    if any(c.index not in done for c in plan.column_chunks):
        columns_ref = ray.put(columns)
    blocks = _run(
        plan.column_chunks,
        submit_rows(columns_ref, None),
        dataclasses.replace(
            policy,
            verify=check_columns if check else None,
            audit=set(),
            canonical=canonical_columns,
        ),
        done,
    )
    # The four-step twiddles, on the head: entry [j2][k1] times ω_n^{j2·k1}.
    column_ntts = np.concatenate([blocks[c.index] for c in plan.column_chunks])  # (n2, n1)
    twiddled_t = twiddle_limbs(field, column_ntts, n, 0)
    matrix = np.ascontiguousarray(np.swapaxes(twiddled_t, 0, 1))  # (n1, n2)
    scale = pow(n, -1, FIELDS[field].modulus) if inverse else None

    def check_rows(c: Chunk, out: ChunkOutput) -> bool:
        return verify.check_ntt_slice(field, matrix[c.start : c.stop], out.value, scale=scale)

    def canonical_rows(c: Chunk, value: object) -> np.ndarray:
        return verify.canonical_block(field, value, matrix[c.start : c.stop].shape)

    matrix_ref = None
    if any(c.index not in done for c in plan.row_chunks):
        matrix_ref = ray.put(matrix)

    rows = _run(
        plan.row_chunks,
        submit_rows(matrix_ref, scale),
        dataclasses.replace(
            policy, verify=check_rows if check else None, audit=set(), canonical=canonical_rows
        ),
        done,
    )
    result = np.concatenate([rows[c.index] for c in plan.row_chunks])  # (n1, n2): C[k1][k2]
    out = np.ascontiguousarray(np.swapaxes(result, 0, 1)).reshape(values.shape)
    if inverse:
        out = out[(-np.arange(n)) % n]
    return out

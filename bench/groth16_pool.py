"""The pool's Groth16 proof in ``bench/groth16.py``: single jobs per phase, a stream, memory.

Run in a child process of its own (``bench/groth16_peers.py pool``): a local Ray cluster of
``nodes`` one-CPU worker nodes and a pool (SQLite, embedded Redis) from ``bench/pool.py``.

* **Single jobs**: the key uploaded once (``POST /v1/zkeys``), then ``repeat + 1`` jobs (the
  first warms up), each submitted over HTTP (the witness as the body), run by the real
  :meth:`JobRunner.run_job` in this thread and its proof fetched (``GET .../proof``).
* **Phases** (:class:`PhaseClock`): the runner records only chunk durations and job rows,
  so its steps are timed from outside by wrapping, in this process only, the functions it
  calls (the real ones still run; :func:`_hooks`): key + witness load (``ZKEYS.get``,
  ``read_wtns``), the witness tasks, H (``Groth16Prover.h_task``: the NTTs on the head,
  under the MSMs when the runner overlaps them), plan (``JobContext.offers``/``plan``), the
  MSMs (``dispatch.run_msm_set``, or ``run_msm`` of older runners; the nodes' compute from
  the chunk records, the rest is dispatch), assembly, the pairing check (``verify``),
  storing (the job's time after its executor returned: result blob, credit, job row).  A
  phase none of whose functions is there any more (the runner changed) stays ``None`` and
  is named in ``unhooked``.
* **Stream**: with the runner's own loop started, ``stream`` jobs are submitted at once over
  HTTP; proofs per minute from the first submission to the last proof, and each job's queue
  wait (submission to the runner picking it up).
* **Memory** (:class:`NodeMemory`): every 0.25 s, the processes of each worker node (its
  raylet and the raylet's descendants: Ray workers, agents): ``VmHWM`` of each Ray worker
  (the peak of the biggest one is reported) and the polled peak of the node's summed
  ``VmRSS`` (shared pages, like the object store's, count once per process).
"""

from __future__ import annotations

import functools
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil

from bench.groth16_peers import peak_rss_bytes, union_seconds
from bench.pool import OPERATOR, BenchPool

PHASES = ("load", "witness", "h", "plan", "msm", "assemble", "verify")
"""The executor's phases :class:`PhaseClock` times, in the order they start."""


def _hooks() -> list[tuple[str, object, tuple[str, ...]]]:
    """``(phase, owner, names)``: every one of ``names`` that ``owner`` has is timed as
    ``phase`` (old and new runners: ``run_msm`` per MSM, ``run_msm_set`` for all five)."""
    from pool_api.runner import groth16 as runner_groth16
    from pool_api.runner.context import JobContext
    from pool_api.store.zkeys import ZKEYS
    from workers.cluster import dispatch
    from workers.groth16 import Groth16Prover

    return [
        ("load", ZKEYS, ("get",)),
        ("load", runner_groth16, ("read_wtns",)),
        ("witness", Groth16Prover, ("witness_tasks",)),
        ("h", Groth16Prover, ("h_task", "msm_tasks")),
        ("plan", JobContext, ("offers", "plan")),
        ("msm", dispatch, ("run_msm", "run_msm_set")),
        ("assemble", Groth16Prover, ("assemble",)),
        ("verify", runner_groth16, ("verify",)),
    ]


class PhaseClock:
    """Seconds per phase of each job the runner runs in this process (module docstring)."""

    def __init__(self, runner) -> None:
        from pool_api.runner.loop import EXECUTORS

        self.jobs: dict[str, dict] = {}
        self.current: dict | None = None
        self.finished = threading.Condition()
        self.unhooked: list[str] = []
        self._undo: list[tuple[object, str, object, bool]] = []
        executor = EXECUTORS.get("groth16")
        targets = [*_hooks(), ("executor", executor, ("run",)), ("job", runner, ("run_job",))]
        for phase, owner, names in targets:
            found = [name for name in names if getattr(owner, name, None) is not None]
            if not found:
                label = getattr(owner, "__name__", type(owner).__name__)
                self.unhooked.append(f"{phase}: {label}.{'/'.join(names)}")
            for name in found:
                original = getattr(owner, name)
                own = name in vars(owner)
                self._undo.append((owner, name, vars(owner).get(name), own))
                wrapper = self._job if phase == "job" else self._timed
                setattr(owner, name, wrapper(phase, original))

    def _timed(self, phase: str, original):
        @functools.wraps(original)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record = self.current
                if record is not None:
                    record.setdefault("intervals", {}).setdefault(phase, []).append(
                        (t0, time.perf_counter())
                    )

        return timed

    def _job(self, phase: str, original):
        @functools.wraps(original)
        def timed(job_id: str) -> None:
            record = {"started": time.perf_counter()}
            self.jobs[job_id] = self.current = record
            try:
                original(job_id)
            finally:
                record["ended"] = time.perf_counter()
                record["job"] = record["ended"] - record["started"]
                self.current = None
                with self.finished:
                    self.finished.notify_all()

        return timed

    def close(self) -> None:
        for owner, name, value, own in reversed(self._undo):
            if own:
                setattr(owner, name, value)
            else:
                delattr(owner, name)


class NodeMemory(threading.Thread):
    """Peak memory of each worker node's processes, polled (module docstring)."""

    def __init__(self, raylet_pids: list[int], interval_s: float = 0.25) -> None:
        super().__init__(daemon=True, name="node-memory")
        self.raylets = raylet_pids
        self.interval_s = interval_s
        self.worker_hwm: list[dict[int, int]] = [{} for _ in raylet_pids]
        self.node_peak = [0] * len(raylet_pids)
        self._halt = threading.Event()

    def poll(self) -> None:
        for i, pid in enumerate(self.raylets):
            try:
                raylet = psutil.Process(pid)
                procs = [raylet, *raylet.children(recursive=True)]
            except psutil.Error:
                continue
            total = 0
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                    name = proc.name()
                except psutil.Error:
                    continue
                if name.startswith("ray::") and "Agent" not in name:
                    hwm = peak_rss_bytes(proc.pid)
                    if hwm is not None:
                        self.worker_hwm[i][proc.pid] = hwm
            self.node_peak[i] = max(self.node_peak[i], total)

    def run(self) -> None:
        while not self._halt.wait(self.interval_s):
            self.poll()

    def stop(self) -> list[dict[str, int]]:
        self._halt.set()
        self.join()
        self.poll()
        return [
            {
                "worker_peak_bytes": max(hwm.values(), default=0),
                "workers_seen": len(hwm),
                "node_rss_sum_peak_bytes": peak,
            }
            for hwm, peak in zip(self.worker_hwm, self.node_peak, strict=True)
        ]


def _submit(pool: BenchPool, key: str, witness: bytes) -> tuple[str, float]:
    t0 = time.perf_counter()
    created = pool.client.post(
        "/v1/jobs",
        params={"kind": "groth16", "zkey": key},
        content=witness,
        headers={"Content-Type": "application/octet-stream", **OPERATOR},
    )
    created.raise_for_status()
    return created.json()["id"], time.perf_counter() - t0


def _fetch(pool: BenchPool, job_id: str) -> dict:
    answer = pool.client.get(f"/v1/jobs/{job_id}/proof")
    assert answer.status_code == 200, answer.text
    return {"proof": answer.json()["proof"], "public": answer.json()["public"]}


def _phases(pool: BenchPool, job_id: str, record: dict, upload_s: float, queued_at: float):
    """The job's breakdown (seconds; ``None`` where a phase could not be timed).

    ``msm`` is the MSMs' wall time: with one schedule it holds H's NTTs (``h_hidden``: the
    part of them under it); ``msm_compute_node_max`` the busiest node's chunk seconds
    (chunk records); ``msm_dispatch`` the rest of ``msm``; ``other`` the executor's time
    outside every timed phase; ``store`` the job's after the executor (result, credit)."""
    per_node: dict[str, float] = defaultdict(float)
    chunks = pool.records(job_id)
    for chunk in chunks:
        per_node[chunk.ray_node_id] += chunk.duration_seconds
    intervals: dict[str, list] = record.get("intervals", {})
    out: dict[str, float | None] = {"upload": upload_s, "queue": record["started"] - queued_at}
    out.update(
        {p: sum(t1 - t0 for t0, t1 in intervals[p]) if p in intervals else None for p in PHASES}
    )
    compute = max(per_node.values(), default=0.0)
    out["msm_compute_node_max"] = compute
    out["msm_dispatch"] = None if out["msm"] is None else out["msm"] - compute
    h, msm = intervals.get("h", []), intervals.get("msm", [])
    out["h_hidden"] = (
        union_seconds(h) + union_seconds(msm) - union_seconds(h + msm) if h and msm else 0.0
    )
    executor = intervals.get("executor")
    executor_s = sum(t1 - t0 for t0, t1 in executor) if executor else None
    timed = [iv for p in PHASES for iv in intervals.get(p, [])]
    out["store"] = None if executor_s is None else record["job"] - executor_s
    out["other"] = None if executor_s is None else executor_s - union_seconds(timed)
    out["job"] = record["job"]
    out["chunks"] = len(chunks)
    return out


def time_pool(zkey_path: Path, wtns_path: Path, repeat: int, nodes: int, stream: int) -> dict:
    """The pool's proofs (module docstring); the proofs come back for checking."""
    with tempfile.TemporaryDirectory() as tmp:
        pool = BenchPool(nodes, Path(tmp), max_in_flight=4)
        memory = NodeMemory(pool.raylet_pids())
        memory.start()
        clock = PhaseClock(pool.state.runner)
        try:
            t0 = time.perf_counter()
            uploaded = pool.client.post(
                "/v1/zkeys",
                content=zkey_path.read_bytes(),
                headers={"Content-Type": "application/octet-stream", **OPERATOR},
            )
            uploaded.raise_for_status()
            upload_key_s = time.perf_counter() - t0
            key, witness = uploaded.json()["hash"], wtns_path.read_bytes()
            runs, proofs = [], []
            for _ in range(repeat + 1):
                t0 = time.perf_counter()
                job_id, upload_s = _submit(pool, key, witness)
                queued_at = time.perf_counter()
                pool.run_claimed(job_id)
                proofs.append(_fetch(pool, job_id))
                phases = _phases(pool, job_id, clock.jobs[job_id], upload_s, queued_at)
                runs.append({"end_to_end_s": time.perf_counter() - t0, "phases_s": phases})
            best = min(runs[1:], key=lambda run: run["end_to_end_s"])
            result = {
                "nodes": nodes,
                "upload_key_s": upload_key_s,
                "warmup_s": runs[0]["end_to_end_s"],
                "end_to_end_s": best["end_to_end_s"],
                "phases_s": best["phases_s"],
                "verify_s_each": [run["phases_s"]["verify"] for run in runs[1:]],
                "unhooked": clock.unhooked,
            }
            if stream:
                result["stream"] = _stream(pool, clock, key, witness, stream, proofs)
            result["proofs"] = proofs
        finally:
            clock.close()
            result_memory = memory.stop()
            pool.state.runner.stop()
            pool.close()
    result["node_memory"] = result_memory
    return result


def _stream(pool: BenchPool, clock: PhaseClock, key: str, witness: bytes, n: int, proofs: list):
    """``n`` jobs submitted at once; the runner's own loop works through them."""
    pool.state.runner.start()
    t0 = time.perf_counter()
    posted: dict[str, float] = {}
    for _ in range(n):
        job_id, _ = _submit(pool, key, witness)
        posted[job_id] = time.perf_counter()
    submitted_s = time.perf_counter() - t0
    deadline = time.monotonic() + 600 + 60 * n
    with clock.finished:
        while not all("ended" in clock.jobs.get(j, {}) for j in posted):
            assert time.monotonic() < deadline, "the stream did not finish"
            clock.finished.wait(1.0)
    seconds = max(clock.jobs[j]["ended"] for j in posted) - t0
    for job_id in posted:
        proofs.append(_fetch(pool, job_id))
    waits = [clock.jobs[j]["started"] - posted[j] for j in posted]
    return {
        "proofs": n,
        "submit_s": submitted_s,
        "seconds": seconds,
        "per_minute": 60 * n / seconds,
        "first_proof_s": min(clock.jobs[j]["ended"] for j in posted) - t0,
        "queue_wait_s_max": max(waits),
        "job_s_mean": sum(clock.jobs[j]["job"] for j in posted) / n,
    }

"""Pipelined jobs: the head prepares the next queued Groth16 job while one job's chunks run.

A Groth16 job's head-side work before its H chunks can start — parsing the witness,
checking it against the key, and H's scalars (``A·B − C`` on the coset: six NTTs,
:meth:`workers.groth16.prover.Groth16Prover.h_task`) — does not depend on the nodes.  When
the runner starts a job it hands the next queued one to :class:`JobPreparer`, which does
that work on a thread of its own; when that job's turn comes its executor takes the
result (:meth:`JobPreparer.take`) instead of computing it, so a stream of proofs keeps
the nodes busy.  Preparing changes nothing in the job's row: a job cancelled meanwhile is
simply never taken, and a preparation that fails is done again by the executor (which
then reports the error).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from pool_api.store.blobs import BlobStore
from pool_api.store.models import Job
from pool_api.store.zkeys import ZKEYS
from workers.groth16 import Groth16Prover, read_wtns

log = logging.getLogger(__name__)
AHEAD_JOBS = 2
"""Prepared jobs kept at most (the oldest is dropped)."""


@dataclass(frozen=True)
class Prepared:
    """A Groth16 job's witness (checked against its key) and its H MSM's scalars."""

    witness: np.ndarray
    h_scalars: np.ndarray


class JobPreparer:
    """Prepares Groth16 jobs ahead of their turn (module docstring)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._pool = ThreadPoolExecutor(1, "proverpool-prepare")
        self._ahead: OrderedDict[str, Future[Prepared]] = OrderedDict()
        self._lock = threading.Lock()

    def ahead(self, job: Job) -> None:
        """Start preparing ``job`` (a queued Groth16 job; other kinds are ignored)."""
        if job.kind != "groth16" or job.zkey_sha256 is None:
            return
        with self._lock:
            if job.id in self._ahead:
                return
            self._ahead[job.id] = self._pool.submit(
                self._prepare, job.zkey_sha256, job.input_sha256
            )
            while len(self._ahead) > AHEAD_JOBS:
                _, dropped = self._ahead.popitem(last=False)
                dropped.cancel()

    def take(self, job_id: str) -> Prepared | None:
        """Job ``job_id``'s preparation (waiting for it if it is under way), or ``None``."""
        with self._lock:
            future = self._ahead.pop(job_id, None)
        if future is None or future.cancel():
            return None
        try:
            return future.result()
        except Exception as exc:  # the executor does the work again and reports the error
            log.info("job %s: preparing it ahead failed (%s); it is prepared in turn", job_id, exc)
            return None

    def shutdown(self) -> None:
        with self._lock:
            for future in self._ahead.values():
                future.cancel()
            self._ahead.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _prepare(self, zkey_sha256: str, input_sha256: str) -> Prepared:
        zkey, _ = ZKEYS.get(self.blobs, zkey_sha256)
        witness = read_wtns(self.blobs.get(input_sha256))
        prover = Groth16Prover()
        prover.witness_tasks(zkey, witness)  # the witness check
        return Prepared(witness, prover.h_task(zkey, witness).scalars)

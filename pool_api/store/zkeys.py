"""Groth16 proving keys: uploaded once, stored by SHA-256, parsed once per process.

* **Keys**: a ``.zkey`` is parsed and validated on upload
  (:func:`workers.groth16.read_zkey`), stored once in the blob store under its
  SHA-256 and described by a :class:`~pool_api.store.models.Zkey` row.  Parsed keys
  stay in a small in-process LRU (:data:`ZKEYS`), so many witnesses against one
  key parse it once.
* **Jobs**: the ``.wtns`` is validated against the key on submission
  (:func:`parse_groth16_job`: :func:`workers.groth16.read_wtns`, ``check_witness``) and
  stored as the job's input blob; the job row refers to the key (``Job.zkey_sha256``).
  The proof is computed by :mod:`pool_api.runner.groth16`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from pool_api.errors import NotFoundError
from pool_api.store.blobs import BlobStore
from pool_api.store.models import Job, Zkey
from workers.errors import KernelInputError
from workers.groth16 import VerificationKey, ZKey, check_witness, read_wtns, read_zkey

ZKEY_CURVE = "bn254"
"""The only curve of snarkjs' Groth16 keys the prover takes (``bn128`` in snarkjs)."""


class ZkeyCache:
    """Parsed proving keys (and their verification keys) by SHA-256, least recently used out."""

    def __init__(self, entries: int = 4) -> None:
        self.entries = entries
        self._keys: OrderedDict[str, tuple[ZKey, VerificationKey]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, sha256: str, zkey: ZKey) -> None:
        with self._lock:
            self._keys[sha256] = (zkey, VerificationKey.from_zkey(zkey))
            self._keys.move_to_end(sha256)
            while len(self._keys) > self.entries:
                self._keys.popitem(last=False)

    def get(self, blobs: BlobStore, sha256: str) -> tuple[ZKey, VerificationKey]:
        """The parsed key stored as blob ``sha256`` (parsed on a miss)."""
        with self._lock:
            found = self._keys.get(sha256)
            if found is not None:
                self._keys.move_to_end(sha256)
                return found
        self.put(sha256, read_zkey(blobs.get(sha256)))
        with self._lock:
            return self._keys[sha256]


ZKEYS = ZkeyCache()
"""The head's parsed keys (a blob's content never changes, so one cache serves every app)."""


def store_zkey(engine: Engine, blobs: BlobStore, raw: bytes) -> tuple[Zkey, bool]:
    """Validate and store a ``.zkey`` once: ``(its row, newly stored)``.

    Raises :class:`workers.errors.Groth16InputError` (422) for a malformed or
    unsupported key; nothing is stored then.
    """
    sha256 = hashlib.sha256(raw).hexdigest()
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Zkey, sha256)
        if row is not None:
            return row, False
    zkey = read_zkey(raw)
    blobs.put(raw)
    ZKEYS.put(sha256, zkey)
    row = Zkey(
        id=sha256,
        curve=ZKEY_CURVE,
        n_vars=zkey.n_vars,
        n_public=zkey.n_public,
        domain_size=zkey.domain_size,
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # a concurrent upload of the same key stored it first
            session.rollback()
            return find_zkey(engine, sha256), False
    return row, True


def find_zkey(engine: Engine, sha256: str) -> Zkey:
    """The key's row, or :class:`~pool_api.errors.NotFoundError` (404)."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Zkey, sha256)
    if row is None:
        raise NotFoundError(f"no zkey {sha256!r}; upload it with POST /v1/zkeys")
    return row


def parse_groth16_job(
    engine: Engine, blobs: BlobStore, raw: bytes, zkey_sha256: str | None
) -> tuple[Job, bytes]:
    """Validate a ``.wtns`` body against a stored key; ``(job without id, input blob)``.

    404 for an unknown key, 422 (:class:`~workers.errors.Groth16InputError`)
    for a malformed witness or one of another circuit.
    """
    if zkey_sha256 is None:
        raise KernelInputError("a groth16 job needs ?zkey=<sha256 of the .zkey>", field="zkey")
    row = find_zkey(engine, zkey_sha256)
    zkey, _ = ZKEYS.get(blobs, row.id)
    check_witness(zkey, read_wtns(raw))
    job = Job(id="", kind="groth16", size=zkey.n_vars, input_sha256="", zkey_sha256=row.id)
    return job, raw


def proof_body(blob: bytes) -> dict[str, Any]:
    """The stored result of a ``groth16`` job: ``{"proof": …, "public": …}``."""
    return json.loads(blob)

"""``/v1/zkeys``: Groth16 proving keys, uploaded once; ``/v1/jobs/{id}/proof``: the proof.

Same access as job submission (``POST /v1/jobs`` is open): anyone who may queue
a job may upload the key it proves against.  The interface is the one
:mod:`pool_api.cli.submit` speaks (issue 8).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from starlette.concurrency import run_in_threadpool

from pool_api.api.deps import Pool, SubmitAuth
from pool_api.api.schemas import Groth16Proof, ZkeyPublic
from pool_api.errors import NotFoundError, StateConflictError, UnsupportedMediaTypeError
from pool_api.state import PoolState
from pool_api.store.models import JobStatus, Zkey
from pool_api.store.queries.zkeys import proof_job_row
from pool_api.store.zkeys import find_zkey, proof_body, store_zkey

router = APIRouter(tags=["groth16"])

Sha256 = Annotated[
    str, Path(pattern="^[0-9a-f]{64}$", description="Hex SHA-256 of the .zkey file.")
]
ZKEY_BODY_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
                "description": "A snarkjs Groth16 .zkey file (bn128).",
            }
        },
    }
}


def _public(row: Zkey) -> ZkeyPublic:
    return ZkeyPublic(
        hash=row.id,
        curve=row.curve,
        n_vars=row.n_vars,
        n_public=row.n_public,
        domain_size=row.domain_size,
    )


@router.post(
    "/v1/zkeys",
    status_code=status.HTTP_201_CREATED,
    response_model=ZkeyPublic,
    openapi_extra=ZKEY_BODY_OPENAPI,
    dependencies=[SubmitAuth],
    responses={
        200: {"description": "the pool already holds this key"},
        413: {"description": "body over PROVERPOOL_MAX_BODY_BYTES"},
        415: {"description": "not application/octet-stream"},
        422: {"description": "a malformed or unsupported .zkey"},
    },
)
async def upload_zkey(request: Request, pool: Pool, response: Response) -> ZkeyPublic:
    """Parse and validate a ``.zkey`` and store it once (content-addressed by SHA-256)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/octet-stream":
        raise UnsupportedMediaTypeError("upload the .zkey as application/octet-stream")
    raw = await request.body()
    row, created = await run_in_threadpool(store_zkey, pool.engine, pool.blobs, raw)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _public(row)


@router.get("/v1/zkeys/{sha256}", response_model=ZkeyPublic)
def get_zkey(sha256: Sha256, pool: Pool) -> ZkeyPublic:
    """The proving key with this hash, if the pool holds it (404 otherwise)."""
    return _public(find_zkey(pool.engine, sha256))


def _proof(pool: PoolState, job_id: str) -> Groth16Proof:
    with pool.read_engine.connect() as connection:
        job = proof_job_row(connection, job_id=job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r}")
    if job.kind != "groth16":
        raise StateConflictError(f"job {job_id} is a {job.kind} job; it has no proof")
    if job.status != JobStatus.done or not job.result_sha256:
        raise StateConflictError(f"job {job_id} is {job.status.value}; no proof yet")
    return Groth16Proof(**proof_body(pool.blobs.get(job.result_sha256)))


@router.get(
    "/v1/jobs/{job_id}/proof",
    response_model=Groth16Proof,
    tags=["jobs"],
    responses={409: {"description": "not a groth16 job, or not done yet"}},
)
def get_proof(job_id: Annotated[str, Path(max_length=64)], pool: Pool) -> Groth16Proof:
    """A done ``groth16`` job's ``proof.json`` and ``public.json`` (snarkjs' format)."""
    return _proof(pool, job_id)

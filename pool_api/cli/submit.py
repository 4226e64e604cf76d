"""``proverpool submit groth16``: prove a circom/snarkjs witness on a pool, write snarkjs files.

The server side of this interface lives in :mod:`pool_api.api.routes.zkeys` (keys and
proofs) and :mod:`pool_api.api.routes.jobs` (submission); this client and its test speak
exactly this:

``GET /v1/zkeys/{sha256}``
    200 ``{"hash", "curve", "n_vars", "n_public", "domain_size"}`` if the pool holds that
    proving key, else 404.  ``sha256``: hex SHA-256 of the ``.zkey`` file's bytes.
Uploading a key and submitting a job take ``Authorization: Bearer <token>``: a submitter
key the operator issued (``POST /v1/submitters``) or the operator token (``--token``, or
``PROVERPOOL_SUBMIT_TOKEN`` / ``PROVERPOOL_OPERATOR_TOKEN``), unless the pool is public
(``PROVERPOOL_PUBLIC_SUBMIT``); without one they answer 401, with a wrong one 403.

``POST /v1/zkeys`` (``Content-Type: application/octet-stream``, body = the ``.zkey``)
    Parsed with :func:`workers.groth16.read_zkey`; 201 (new) or 200 (already stored)
    with the object above; 422 ``{"detail": ...}`` for a malformed or unsupported key
    (:class:`workers.errors.Groth16InputError`), 415 for another content type, 413 over
    the body limit.  The key is stored once in the head's blob store under its hash
    (:mod:`pool_api.store.zkeys`), and parsed keys stay in a small LRU on the head.
``POST /v1/jobs?kind=groth16&zkey={sha256}`` (octet-stream body = the ``.wtns``)
    201 ``{"id"}``; 404 for an unknown key; 422 for a malformed witness or one that
    does not fit the key (:func:`workers.groth16.read_wtns`, ``check_witness``).  The
    usual ``Idempotency-Key`` header applies (this client sends the SHA-256 of key
    hash + witness, so a retried command finds its first job).
``GET /v1/jobs/{id}``
    The usual :class:`pool_api.api.schemas.JobPublic` (status, chunk progress, error).
    The runner (:mod:`pool_api.runner.groth16`) computes the H polynomial's NTTs on the
    head and splits only the five MSMs (A, B1, C, H on ``bn254_g1``, B2 on
    ``bn254_g2``) into chunks across the nodes, verified and credited like MSM chunks;
    the proof passes :func:`workers.groth16.verify` before the job is ``done`` (a
    failure recomputes every chunk under a full audit).
``GET /v1/jobs/{id}/proof``
    200 ``{"proof": <snarkjs proof.json>, "public": <snarkjs public.json>}`` once done,
    409 before (or for a job of another kind).

The client checks both files locally first (the same readers), so a bad file fails
before any upload, and verifies the returned proof with the pairing check before
writing it (``--no-verify`` skips that).  Exit codes (:mod:`pool_api.cli.exit_codes`):
0 proof written, 1 the job failed or was cancelled or the proof did not verify, 2 bad
input (or the pool rejected it as such), 3 the pool unreachable, 4 refused (token,
conflict), 5 still running at ``--timeout``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from pool_api.cli import exit_codes

submit_app = typer.Typer(
    help="Submit proving work to a pool and wait for it.", no_args_is_help=True
)

DEFAULT_POOL_URL = "http://127.0.0.1:8000"
FINAL_STATUSES = ("done", "failed", "cancelled")
OCTET = {"Content-Type": "application/octet-stream"}


class SubmitError(Exception):
    """The submission failed; ``exit_code`` says how (see the module docstring)."""

    def __init__(self, message: str, exit_code: int = exit_codes.USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return f"{response.status_code} {detail if detail is not None else response.text[:200]}"


def _check(response: httpx.Response, what: str, ok: tuple[int, ...] = (200, 201)) -> Any:
    if response.status_code not in ok:
        raise SubmitError(
            f"{what}: the pool answered {_detail(response)}",
            exit_codes.for_http_status(response.status_code),
        )
    return response.json()


def check_files(zkey_bytes: bytes, wtns_bytes: bytes) -> Any:
    """Parse both files with the pool's own readers; the key, or :class:`SubmitError`."""
    from workers.errors import Groth16InputError
    from workers.groth16 import check_witness, read_wtns, read_zkey

    try:
        zkey = read_zkey(zkey_bytes)
        check_witness(zkey, read_wtns(wtns_bytes))
    except Groth16InputError as exc:
        raise SubmitError(str(exc)) from exc
    return zkey


def upload_zkey(client: httpx.Client, zkey_bytes: bytes) -> str:
    """Make sure the pool holds this proving key (upload it once); its hash."""
    digest = hashlib.sha256(zkey_bytes).hexdigest()
    known = client.get(f"/v1/zkeys/{digest}")
    if known.status_code == 404:
        stored = _check(client.post("/v1/zkeys", content=zkey_bytes, headers=OCTET), "upload")
        if stored.get("hash") != digest:
            raise SubmitError(f"the pool stored the key as {stored.get('hash')!r}, not {digest}")
    else:
        _check(known, "zkey lookup", (200,))
    return digest


def submit_witness(client: httpx.Client, zkey_hash: str, wtns_bytes: bytes) -> str:
    """Queue a Groth16 job for this witness; the job id."""
    key = hashlib.sha256(zkey_hash.encode() + wtns_bytes).hexdigest()
    response = client.post(
        "/v1/jobs",
        params={"kind": "groth16", "zkey": zkey_hash},
        content=wtns_bytes,
        headers={**OCTET, "Idempotency-Key": key},
    )
    return str(_check(response, "job submission")["id"])


def wait_for_job(
    client: httpx.Client, job_id: str, poll_seconds: float, timeout_seconds: float, quiet: bool
) -> dict:
    """Poll the job with a progress bar until it ends; its last JSON state."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    deadline = time.monotonic() + timeout_seconds
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} chunks"),
        TimeElapsedColumn(),
        disable=quiet,
        transient=False,
    ) as bar:
        task = bar.add_task(f"job {job_id[:12]} queued", total=None)
        while True:
            job = _check(client.get(f"/v1/jobs/{job_id}"), "job status", (200,))
            progress = job.get("progress") or {}
            total = progress.get("chunks_total") or None
            bar.update(
                task,
                description=f"job {job_id[:12]} {job.get('status')}",
                completed=progress.get("chunks_done", 0),
                total=total,
            )
            if job.get("status") in FINAL_STATUSES:
                return job
            if time.monotonic() > deadline:
                raise SubmitError(
                    f"job {job_id} still {job.get('status')} after the timeout",
                    exit_codes.TIMED_OUT,
                )
            time.sleep(poll_seconds)


def fetch_proof(client: httpx.Client, job_id: str) -> tuple[dict, list]:
    """``(proof.json, public.json)`` objects of a done job."""
    body = _check(client.get(f"/v1/jobs/{job_id}/proof"), "proof download", (200,))
    if not isinstance(body, dict) or "proof" not in body or "public" not in body:
        raise SubmitError("the pool's proof answer has no 'proof' and 'public'")
    return body["proof"], body["public"]


def run_groth16(
    client: httpx.Client,
    zkey_path: Path,
    wtns_path: Path,
    out: Path,
    public: Path,
    *,
    verify_proof: bool = True,
    poll_seconds: float = 0.5,
    timeout_seconds: float = 3600.0,
    quiet: bool = False,
) -> str:
    """The whole command on an open client (tests pass one); the job id, or SubmitError."""
    try:
        zkey_bytes, wtns_bytes = zkey_path.read_bytes(), wtns_path.read_bytes()
    except OSError as exc:
        raise SubmitError(f"cannot read input: {exc}") from exc
    zkey = check_files(zkey_bytes, wtns_bytes)
    try:
        zkey_hash = upload_zkey(client, zkey_bytes)
        job_id = submit_witness(client, zkey_hash, wtns_bytes)
        job = wait_for_job(client, job_id, poll_seconds, timeout_seconds, quiet)
        if job.get("status") != "done":
            raise SubmitError(
                f"job {job_id} {job.get('status')}: {job.get('error') or '?'}", exit_codes.FAILED
            )
        proof_json, public_json = fetch_proof(client, job_id)
    except httpx.HTTPError as exc:
        raise SubmitError(
            f"cannot talk to the pool at {client.base_url}: {exc}", exit_codes.UNREACHABLE
        ) from exc
    if verify_proof:
        from workers.groth16 import VerificationKey, proof_from_json, verify

        try:
            ok = verify(VerificationKey.from_zkey(zkey), proof_from_json(proof_json, public_json))
        except ValueError as exc:
            raise SubmitError(f"the pool's proof is malformed: {exc}", exit_codes.FAILED) from exc
        if not ok:
            raise SubmitError(
                f"the proof of job {job_id} fails the pairing check", exit_codes.FAILED
            )
    out.write_text(json.dumps(proof_json, indent=1))
    public.write_text(json.dumps(public_json, indent=1))
    return job_id


@submit_app.command("groth16")
def groth16(
    zkey: Annotated[Path, typer.Argument(help="snarkjs Groth16 proving key (.zkey).")],
    witness: Annotated[Path, typer.Argument(help="circom witness (.wtns).")],
    out: Annotated[Path, typer.Option(help="Where to write proof.json.")] = Path("proof.json"),
    public: Annotated[Path, typer.Option(help="Where to write public.json.")] = Path("public.json"),
    pool: Annotated[
        str, typer.Option(envvar="PROVERPOOL_URL", help="Base URL of the pool's HTTP API.")
    ] = DEFAULT_POOL_URL,
    verify: Annotated[
        bool, typer.Option(help="Check the returned proof with the pairing check.")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Give up waiting after this many seconds.")] = (
        3600.0
    ),
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar=["PROVERPOOL_SUBMIT_TOKEN", "PROVERPOOL_OPERATOR_TOKEN"],
            help="Submitter key (issued by the operator) or operator token; not needed on a "
            "pool with PROVERPOOL_PUBLIC_SUBMIT on.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Prove WITNESS against ZKEY on the pool; write snarkjs' proof.json and public.json."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(base_url=pool, timeout=60.0, headers=headers) as client:
            job_id = run_groth16(
                client,
                zkey,
                witness,
                out,
                public,
                verify_proof=verify,
                timeout_seconds=timeout,
                quiet=quiet,
            )
    except SubmitError as exc:
        typer.secho(f"proverpool submit: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(exc.exit_code) from exc
    typer.echo(f"job {job_id} done: {out} and {public} written")

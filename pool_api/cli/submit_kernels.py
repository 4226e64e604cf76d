"""``proverpool submit msm FILE`` and ``proverpool submit ntt FILE``, beside ``groth16``.

FILE is read by its name:

* ``*.json``: the fields of ``POST /v1/jobs``'s JSON body without ``kind`` — MSM
  ``{"curve": "bn254_g1", "points": [[x, y], …], "scalars": […]}``, NTT
  ``{"field": "bn254_fr", "values": […], "inverse": false}`` (numbers as decimal
  strings or ``0x`` hex); ``--curve`` / ``--field`` / ``--inverse`` fill in or override.
  The result is written as JSON (``{"job_id", "kind", "result"}``, decimal strings).
* anything else: the binary body of docs/architecture.md §4 (MSM: the points, then the
  scalars; NTT: the elements), with ``--curve`` / ``--field``; the result is written in
  the same binary layout.

The command submits (an ``Idempotency-Key`` from the file's SHA-256 and the options, so
running it again finds the first job), waits with a progress bar, and writes the result
to ``--out`` (default ``FILE.result.json`` / ``FILE.result.bin``).  ``--no-wait`` prints
the job id and returns.  Exit codes: :mod:`pool_api.cli.exit_codes` (1 when the job
fails, 5 when it is still running at ``--timeout``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from pool_api.cli import exit_codes
from pool_api.cli.submit import (
    DEFAULT_POOL_URL,
    OCTET,
    SubmitError,
    _check,
    wait_for_job,
)

Pool = Annotated[
    str, typer.Option(envvar="PROVERPOOL_URL", help="Base URL of the pool's HTTP API.")
]
Token = Annotated[
    str | None,
    typer.Option(
        envvar=["PROVERPOOL_SUBMIT_TOKEN", "PROVERPOOL_OPERATOR_TOKEN"],
        help="Submitter key (issued by the operator) or operator token.",
        show_default=False,
    ),
]
Out = Annotated[
    Path | None,
    typer.Option(
        help="Where to write the result (default FILE.result.json / .bin).", show_default=False
    ),
]
Timeout = Annotated[float, typer.Option(help="Give up waiting after this many seconds.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Print the job id and return.")]
InputFile = Annotated[
    Path, typer.Argument(help="The input: a .json body, or the binary layout of architecture §4.")
]


def _body(path: Path, kind: str, params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``(request keyword arguments, binary?)`` for ``path``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SubmitError(f"cannot read input: {exc}") from exc
    digest = hashlib.sha256(raw + json.dumps(params, sort_keys=True).encode()).hexdigest()
    headers = {"Idempotency-Key": f"cli-{kind}-{digest}"}
    if path.suffix.lower() != ".json":
        query = {k: v for k, v in params.items() if v is not None}
        query["kind"] = kind
        return {"content": raw, "params": query, "headers": {**OCTET, **headers}}, True
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise SubmitError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise SubmitError(f"{path} must hold a JSON object (the job's fields)")
    body.update({k: v for k, v in params.items() if v is not None})
    body["kind"] = kind
    return {"json": body, "headers": headers}, False


def _submit(
    kind: str,
    path: Path,
    params: dict[str, Any],
    *,
    pool: str,
    token: str | None,
    out: Path | None,
    timeout: float,
    quiet: bool,
    no_wait: bool,
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        request, binary = _body(path, kind, params)
        with httpx.Client(base_url=pool, timeout=60.0, headers=headers) as client:
            try:
                job_id = str(_check(client.post("/v1/jobs", **request), "job submission")["id"])
                if no_wait:
                    typer.echo(job_id)
                    return
                job = wait_for_job(client, job_id, 0.3, timeout, quiet)
                if job.get("status") != "done":
                    raise SubmitError(
                        f"job {job_id} {job.get('status')}: {job.get('error') or '?'}",
                        exit_codes.FAILED,
                    )
                target = out or path.with_name(
                    path.name + (".result.bin" if binary else ".result.json")
                )
                if binary:
                    answer = client.get(f"/v1/jobs/{job_id}", params={"format": "binary"})
                    if answer.status_code != 200:
                        _check(answer, "result download", (200,))
                    target.write_bytes(answer.content)
                else:
                    document = {"job_id": job_id, "kind": kind, "result": job.get("result")}
                    target.write_text(json.dumps(document, indent=1))
            except httpx.HTTPError as exc:
                raise SubmitError(
                    f"cannot talk to the pool at {pool}: {exc}", exit_codes.UNREACHABLE
                ) from exc
    except SubmitError as exc:
        exit_codes.fail("submit", str(exc), exc.exit_code)
    except OSError as exc:
        exit_codes.fail("submit", f"cannot write the result: {exc}")
    typer.echo(f"job {job_id} done: result written to {target}")


def msm(
    file: InputFile,
    curve: Annotated[
        str | None,
        typer.Option(
            help="bn254_g1, bls12_381_g1, bn254_g2 or bls12_381_g2 (binary: default bn254_g1).",
            show_default=False,
        ),
    ] = None,
    out: Out = None,
    pool: Pool = DEFAULT_POOL_URL,
    token: Token = None,
    timeout: Timeout = 3600.0,
    quiet: Quiet = False,
    no_wait: NoWait = False,
) -> None:
    """Compute the multi-scalar multiplication in FILE on the pool; write the point."""
    if curve is None and file.suffix.lower() != ".json":
        curve = "bn254_g1"
    _submit(
        "msm", file, {"curve": curve},
        pool=pool, token=token, out=out, timeout=timeout, quiet=quiet, no_wait=no_wait,
    )  # fmt: skip


def ntt(
    file: InputFile,
    field: Annotated[
        str | None,
        typer.Option(
            help="bn254_fr, bls12_381_fr, goldilocks or babybear (binary: default bn254_fr).",
            show_default=False,
        ),
    ] = None,
    inverse: Annotated[bool, typer.Option("--inverse", help="The inverse transform.")] = False,
    out: Out = None,
    pool: Pool = DEFAULT_POOL_URL,
    token: Token = None,
    timeout: Timeout = 3600.0,
    quiet: Quiet = False,
    no_wait: NoWait = False,
) -> None:
    """Compute the NTT of the values in FILE on the pool; write the transformed values."""
    if field is None and file.suffix.lower() != ".json":
        field = "bn254_fr"
    params: dict[str, Any] = {"field": field}
    if inverse:
        params["inverse"] = True
    _submit(
        "ntt", file, params,
        pool=pool, token=token, out=out, timeout=timeout, quiet=quiet, no_wait=no_wait,
    )  # fmt: skip

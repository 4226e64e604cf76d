"""The demo's Groth16 proof: a small circom circuit shipped with the package, proved through
the pool and checked with the pairing (``workers.groth16.verify``).

The files in ``pool_api/demo_data/`` are ``tests/fixtures/groth16``'s ``chain10``
(``tests/fixtures/groth16/build.sh``: circom2 + snarkjs): a chain of 2^10 − 1 quadratic
steps (domain 2^10), public inputs ``b = 9`` and ``c = 99996``; the proving key
(``chain10.zkey``, 0.5 MB), one witness (``chain10.wtns``, input ``chain10.input.json``)
and the verification key snarkjs exported (``chain10.vkey.json``), so the check does not
trust the key the pool proved with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx

DEMO_DATA = Path(__file__).resolve().parents[1] / "demo_data"
CIRCUIT = "chain10"
LABEL = "Groth16 chain circuit, domain 2^10"
OCTET = {"Content-Type": "application/octet-stream"}


class Groth16DemoError(RuntimeError):
    """The pool refused the demo's key or witness, or has no proof."""


@dataclass(frozen=True)
class CheckedProof:
    verified: bool
    public_signals: list[str]


def _answer(response: httpx.Response, what: str) -> dict:
    if response.status_code >= 400:
        raise Groth16DemoError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return response.json()


def submit(client: httpx.Client, operator: dict[str, str]) -> str:
    """Upload the proving key (once, content-addressed) and submit the witness; the job id."""
    key = (DEMO_DATA / f"{CIRCUIT}.zkey").read_bytes()
    uploaded = _answer(
        client.post("/v1/zkeys", content=key, headers={**OCTET, **operator}), "upload the key"
    )
    witness = (DEMO_DATA / f"{CIRCUIT}.wtns").read_bytes()
    created = _answer(
        client.post(
            "/v1/jobs",
            params={"kind": "groth16", "zkey": uploaded["hash"]},
            content=witness,
            headers={**OCTET, **operator},
        ),
        "submit the Groth16 witness",
    )
    return str(created["id"])


def check(client: httpx.Client, job_id: str) -> CheckedProof:
    """Fetch the job's ``proof.json``/``public.json`` and run the pairing check against the
    verification key shipped beside the circuit."""
    from workers.groth16 import VerificationKey, proof_from_json, verify

    answer = _answer(client.get(f"/v1/jobs/{job_id}/proof"), "fetch the proof")
    vkey = VerificationKey.from_json(json.loads((DEMO_DATA / f"{CIRCUIT}.vkey.json").read_text()))
    try:
        proof = proof_from_json(answer["proof"], answer["public"])
    except ValueError as exc:
        raise Groth16DemoError(f"the pool's proof is malformed: {exc}") from exc
    return CheckedProof(verify(vkey, proof), [str(v) for v in answer["public"]])

"""Issue 14 item 4: anonymous job submission is off by default.

The attack: anyone could ``POST /v1/jobs`` (JSON, binary or Groth16) and
``POST /v1/zkeys``, spending the contributors' machines and stuffing the PPLNS
window with their own work.  What must hold: submitting takes the operator token
or a submitter key the operator issued (``POST /v1/submitters``, scope ``submit``,
stored hashed); no token → 401, a contributor's API key or a wrong token → 403,
a revoked submitter key → 403, and nothing is stored for a refused request;
``PROVERPOOL_PUBLIC_SUBMIT`` opens submission to anyone (a public demo pool).
A submitter key does nothing but submit.
"""

from __future__ import annotations

import hashlib

from sqlmodel import Session, func, select

from pool_api.store.models import Contributor, Job

NTT = {"kind": "ntt", "field": "babybear", "values": [1, 2, 3, 4]}
OCTET = {"Content-Type": "application/octet-stream"}
BINARY = {"kind": "ntt", "field": "babybear"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _submissions(api, headers: dict[str, str]) -> list[int]:
    """Status codes of every way to submit: JSON, binary, Groth16 witness, proving key."""
    client = api.client
    return [
        client.post("/v1/jobs", json=NTT, headers=headers).status_code,
        client.post(
            "/v1/jobs", content=b"\x01\x00\x00\x00" * 4, params=BINARY, headers=OCTET | headers
        ).status_code,
        client.post(
            "/v1/jobs",
            content=b"wtns",
            params={"kind": "groth16", "zkey": "0" * 64},
            headers=OCTET | headers,
        ).status_code,
        client.post("/v1/zkeys", content=b"zkey", headers=OCTET | headers).status_code,
    ]


def _jobs(api) -> int:
    with Session(api.state.engine) as session:
        return int(session.exec(select(func.count()).select_from(Job)).one())


def _issue(api, name: str) -> dict:
    issued = api.client.post("/v1/submitters", json={"name": name}, headers=api.operator)
    assert issued.status_code == 201, issued.text
    return issued.json()


def test_anonymous_and_contributor_submissions_are_refused(api):
    carol = api.add_contributor("carol")
    assert _submissions(api, {}) == [401, 401, 401, 401]
    assert _submissions(api, api.key(carol)) == [403, 403, 403, 403]
    assert _submissions(api, _bearer("not-a-key")) == [403, 403, 403, 403]
    assert _jobs(api) == 0  # nothing stored for a refused request


def test_operator_and_submitter_keys_submit_and_a_revoked_key_stops(api):
    assert api.client.post("/v1/jobs", json=NTT, headers=api.operator).status_code == 201
    issued = _issue(api, "lab")
    key = _bearer(issued["api_key"])
    assert issued["api_key"] not in api.client.get("/v1/submitters", headers=api.operator).text
    # JSON and binary jobs are accepted; the Groth16 witness and the key get past the
    # authentication (404 for the unknown key, 422 for a malformed .zkey).
    assert _submissions(api, key) == [201, 201, 404, 422]
    assert _jobs(api) == 3
    stored = api.client.get("/v1/submitters", headers=api.operator).json()
    assert [(s["name"], s["revoked"]) for s in stored] == [("lab", False)]

    revoked = api.client.post(f"/v1/submitters/{issued['id']}/revoke", headers=api.operator)
    assert revoked.status_code == 204
    assert _submissions(api, key) == [403, 403, 403, 403]
    assert _jobs(api) == 3
    listed = api.client.get("/v1/submitters", headers=api.operator).json()
    assert [(s["name"], s["revoked"]) for s in listed] == [("lab", True)]


def test_the_key_is_stored_hashed_and_does_nothing_but_submit(api):
    issued = _issue(api, "lab")
    key = _bearer(issued["api_key"])
    with Session(api.state.engine) as session:
        digests = session.exec(select(Contributor.api_key_hash)).all()
    assert hashlib.sha256(issued["api_key"].encode()).hexdigest() in digests
    assert issued["api_key"] not in digests
    # Not a contributor: no node, no withdrawal, not on the leaderboard or the dashboard.
    node = api.client.post("/v1/nodes", json={"ray_node_id": "d" * 56}, headers=key)
    assert node.status_code == 403
    withdrawal = {"amount_units": 1000, "idempotency_key": "w"}
    assert api.client.post("/v1/withdrawals", json=withdrawal, headers=key).status_code == 403
    assert api.client.get("/v1/contributors").json() == []
    # Issuing, listing and revoking are the operator's.
    assert api.client.post("/v1/submitters", json={"name": "x"}, headers=key).status_code == 403
    assert api.client.get("/v1/submitters").status_code == 401
    assert api.client.post(f"/v1/submitters/{issued['id']}/revoke", headers=key).status_code == 403


def test_revoking_what_is_not_a_submitter_key_is_404(api):
    carol = api.add_contributor("carol")
    answer = api.client.post(f"/v1/submitters/{carol['id']}/revoke", headers=api.operator)
    assert answer.status_code == 404
    assert api.client.post("/v1/jobs", json=NTT, headers=api.key(carol)).status_code == 403


def test_public_submit_opens_submission_to_anyone(make_api):
    public = make_api(public_submit=True)
    assert public.client.post("/v1/jobs", json=NTT).status_code == 201
    assert (
        public.client.post(
            "/v1/jobs", content=b"\x01\x00\x00\x00" * 4, params=BINARY, headers=OCTET
        ).status_code
        == 201
    )

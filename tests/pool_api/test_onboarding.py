"""Invites, redemption, API key rotation and revocation (issue 6 §1)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from pool_api.store.models import Contributor, Invite


def _invite(api) -> str:
    created = api.client.post("/v1/invites", headers=api.operator)
    assert created.status_code == 201, created.text
    body = created.json()
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)
    return body["invite"]


PAYOUT = "0x" + "abc0" * 10


def _redeem(api, invite: str, name: str = "carol"):
    return api.client.post(
        "/v1/contributors", json={"invite": invite, "name": name, "payout_address": PAYOUT}
    )


def _whoami(api, key: str):
    return api.client.get("/v1/contributors/1/balance", headers={"Authorization": f"Bearer {key}"})


def test_an_invite_is_redeemed_once_and_stored_hashed(api):
    invite = _invite(api)
    redeemed = _redeem(api, invite)
    assert redeemed.status_code == 201, redeemed.text
    body = redeemed.json()
    assert body["id"] == 1 and body["api_key"].startswith("pp_")
    assert _whoami(api, body["api_key"]).status_code == 200

    again = _redeem(api, invite, name="dave")
    assert again.status_code == 403
    assert "already used" in again.json()["detail"]
    with Session(api.state.engine) as session:
        stored = session.exec(select(Invite)).one()
        contributor = session.exec(select(Contributor)).one()
    assert invite not in stored.token_hash and stored.contributor_id == 1
    assert body["api_key"] not in contributor.api_key_hash
    assert contributor.payout_address == PAYOUT


def test_bad_invites_are_refused_and_change_nothing(make_api):
    api = make_api(invite_ttl_seconds=1)
    assert _redeem(api, "inv_nope").status_code == 403
    no_auth = api.client.post("/v1/contributors", json={"name": "x"})
    assert no_auth.status_code == 401 and "invite" in no_auth.json()["detail"]
    wrong = api.client.post(
        "/v1/contributors", json={"name": "x"}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 403
    invite = _invite(api)
    with Session(api.state.engine) as session:  # expire it without sleeping
        row = session.exec(select(Invite)).one()
        row.expires_at = datetime(2020, 1, 1, tzinfo=UTC)
        session.add(row)
        session.commit()
    expired = _redeem(api, invite)
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]
    assert api.client.get("/v1/contributors").json() == []
    assert api.client.post("/v1/invites").status_code == 401


def test_a_taken_name_leaves_the_invite_unused(api):
    api.add_contributor("carol")
    invite = _invite(api)
    assert _redeem(api, invite).status_code == 409
    assert _redeem(api, invite, name="dave").status_code == 201


def test_rotation_replaces_the_key(api):
    carol = api.add_contributor("carol")
    rotated = api.client.post("/v1/contributors/1/keys/rotate", headers=api.key(carol))
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["api_key"]
    assert new_key != carol["api_key"]
    assert _whoami(api, carol["api_key"]).status_code == 403
    assert _whoami(api, new_key).status_code == 200
    by_operator = api.client.post("/v1/contributors/1/keys/rotate", headers=api.operator)
    assert by_operator.status_code == 200
    assert _whoami(api, new_key).status_code == 403


def test_revocation_stops_the_key_until_the_operator_rotates(api):
    carol = api.add_contributor("carol")
    dave = api.add_contributor("dave")
    other = api.client.post("/v1/contributors/1/keys/revoke", headers=api.key(dave))
    assert other.status_code == 403
    revoked = api.client.post("/v1/contributors/1/keys/revoke", headers=api.key(carol))
    assert revoked.status_code == 204
    assert _whoami(api, carol["api_key"]).status_code == 403
    assert (
        api.client.post("/v1/contributors/1/keys/rotate", headers=api.key(carol)).status_code == 403
    )
    fresh = api.client.post("/v1/contributors/1/keys/rotate", headers=api.operator).json()
    assert _whoami(api, fresh["api_key"]).status_code == 200
    missing = api.client.post("/v1/contributors/99/keys/rotate", headers=api.operator)
    assert missing.status_code == 404

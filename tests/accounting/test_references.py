"""Transfers only name existing accounts and rewards, and those never go away.

SQLite enforces it with foreign keys; PostgreSQL with statement-level triggers
(``accounting.models.PG_TRANSFER_REFERENCES_DDL``: one set-based check per
INSERT/UPDATE statement instead of one FK check per row and key). Both the
``create_all`` path and the Alembic migration are checked, directly in SQL.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from accounting import AccountKind, credit_work, post_reward
from accounting.models import PG_TRANSFER_REFERENCES_DDL
from pool_api.store import migrate

VERSIONS = Path(__file__).resolve().parents[2] / "pool_api" / "store" / "migrations" / "versions"
MIGRATION = VERSIONS / "0001_initial_schema.py"
#: Replaces the reference check function and the id guards of ``0001``.
MIGRATION_0007 = VERSIONS / "0007_ledger_lighter_writes.py"


def _sqlite_foreign_keys(dbapi_connection: object, connection_record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@pytest.fixture(params=["create_all", "migrated"])
def ledger_engine(request: pytest.FixtureRequest, db_url: str) -> Iterator[Engine]:
    """An engine on a database built by ``create_all`` or by the Alembic migration."""
    if request.param == "create_all":
        yield request.getfixturevalue("engine")
        return
    eng = create_engine(db_url)
    if eng.dialect.name == "sqlite":
        event.listen(eng, "connect", _sqlite_foreign_keys)
    migrate.upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()


def _one_reward(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        credit_work(session, credit_id="w1", contributor_id=1, job_ref="job", work_units=3)
        credit_work(session, credit_id="w2", contributor_id=2, job_ref="job", work_units=1)
        post_reward(session, reward_id="r1", job_ref="job", amount_units=1000, fee_bps=100)
        session.commit()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, contributor_id, id FROM account")).all()
    return {f"{kind}:{cid}": aid for kind, cid, aid in rows}


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("transfer", "account", "reward")
        )


_INSERT = (
    "INSERT INTO transfer (id, debit_account_id, credit_account_id, amount_units, code,"
    " job_ref, reward_id, created_at) VALUES (:id, :debit, :credit, 5, 'penalty', 'job',"
    " :reward, CURRENT_TIMESTAMP)"
)


@pytest.mark.parametrize("bad", ["debit", "credit", "reward"])
def test_a_transfer_naming_a_missing_account_or_reward_is_refused(ledger_engine, bad):
    accounts = _one_reward(ledger_engine)
    contributor = accounts[f"{AccountKind.CONTRIBUTOR.value}:1"]
    penalties_missing = max(accounts.values()) + 1000
    params = {"debit": contributor, "credit": penalties_missing, "reward": None}
    if bad == "debit":
        params = {"debit": penalties_missing, "credit": contributor, "reward": None}
    elif bad == "reward":
        other = accounts[f"{AccountKind.CONTRIBUTOR.value}:2"]
        params = {"debit": contributor, "credit": other, "reward": "no-such-reward"}
    before = _counts(ledger_engine)
    good = {"debit": contributor, "credit": accounts[f"{AccountKind.CONTRIBUTOR.value}:2"]}
    with pytest.raises(IntegrityError), ledger_engine.begin() as conn:
        # A multi-row statement: the good row goes too when one row is bad.
        conn.execute(
            text(_INSERT),
            [{"id": "good", **good, "reward": "r1"}, {"id": "bad", **params}],
        )
    with pytest.raises(IntegrityError), ledger_engine.begin() as conn:
        conn.execute(text(_INSERT), {"id": "bad", **params})
    assert _counts(ledger_engine) == before
    # The same statement with existing references goes through.
    with ledger_engine.begin() as conn:
        conn.execute(text(_INSERT), {"id": "good", **good, "reward": "r1"})
    assert _counts(ledger_engine)[0] == before[0] + 1


def test_a_transfer_cannot_be_repointed_at_a_missing_account(ledger_engine):
    accounts = _one_reward(ledger_engine)
    with pytest.raises(IntegrityError), ledger_engine.begin() as conn:
        conn.execute(
            text("UPDATE transfer SET credit_account_id = :missing"),
            {"missing": max(accounts.values()) + 1000},
        )
    with pytest.raises(IntegrityError), ledger_engine.begin() as conn:
        conn.execute(text("UPDATE transfer SET reward_id = 'no-such-reward'"))


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM account",
        "DELETE FROM account WHERE contributor_id = 1",
        "DELETE FROM reward",
        "DELETE FROM reward WHERE id = 'r1'",
        "UPDATE account SET id = id + 1000",
        "UPDATE reward SET id = 'r1-renamed'",
    ],
)
def test_referenced_accounts_and_rewards_cannot_go_away(ledger_engine, statement):
    _one_reward(ledger_engine)
    before = _counts(ledger_engine)
    with pytest.raises(IntegrityError), ledger_engine.begin() as conn:
        conn.execute(text(statement))
    assert _counts(ledger_engine) == before


@pytest.mark.postgres
def test_postgresql_never_deletes_accounts_or_rewards_even_unreferenced(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's guard; SQLite's foreign keys only protect referenced rows")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO account (kind, balance_units) VALUES ('held', 0)"))
    for statement in ("DELETE FROM account", "TRUNCATE account CASCADE", "TRUNCATE reward CASCADE"):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(statement))
    assert _counts(engine)[1] == 1


def _migration(path: Path):
    spec = importlib.util.spec_from_file_location(f"_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migrations_create_the_models_triggers():
    """``0001`` and ``0007`` keep frozen copies of the DDL; together they match the models'."""
    initial, lighter = _migration(MIGRATION), _migration(MIGRATION_0007)
    replaced = {
        "CREATE OR REPLACE FUNCTION ledger_check_transfer_references(": lighter._PG_CHECK_FUNCTION,
        **{statement.split(" BEFORE")[0]: statement for statement in lighter._PG_ID_FIXED_TRIGGERS},
    }
    migrated = []
    for statement in initial._PG_TRANSFER_REFERENCES_DDL:
        matches = [new for start, new in replaced.items() if statement.strip().startswith(start)]
        migrated.append(matches[0] if matches else statement)
    assert migrated != list(initial._PG_TRANSFER_REFERENCES_DDL)
    assert [s.strip() for s in migrated] == [s.strip() for s in PG_TRANSFER_REFERENCES_DDL]

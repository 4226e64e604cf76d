"""ledger: lighter writes for large rewards

A 100,000-contributor reward inserts 100,000 transfers and rewrites as many
balances in one transaction; this revision takes work off each of those rows:

* ``transfer``: one index on ``(debit_account_id, reward_id)`` replaces the two
  single-column ones. It still finds an account's debits (statements), and a
  reward's transfers, which all debit ``pool_income``; a reward's transfers
  share one key, which PostgreSQL's B-tree stores deduplicated. One index less
  to maintain per transfer.
* PostgreSQL, ``ledger_check_transfer_references()``: debit accounts and
  rewards are looked up once per distinct value instead of once per row.
* PostgreSQL, ``account_id_fixed``/``reward_id_fixed``: statement-level triggers
  (any ``UPDATE`` that sets ``id`` is refused) instead of row-level ones, which
  made every balance ``UPDATE`` fetch and re-lock each row for the trigger.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 12:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Frozen copies, as of this revision, of the objects of
#: ``accounting.models.PG_TRANSFER_REFERENCES_DDL`` that it replaces (a test checks that
#: 0001's DDL with these replacements is the models' DDL).
_PG_CHECK_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_check_transfer_references() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT t.id, t.debit_account_id, t.credit_account_id, t.reward_id INTO bad
    FROM (
        (SELECT n.* FROM new_transfer n
         WHERE n.debit_account_id IN (
             SELECT d.id FROM (SELECT DISTINCT debit_account_id AS id FROM new_transfer) AS d
             WHERE NOT EXISTS (SELECT 1 FROM account a WHERE a.id = d.id))
         LIMIT 1)
        UNION ALL
        (SELECT n.* FROM new_transfer n
         WHERE NOT EXISTS (SELECT 1 FROM account a WHERE a.id = n.credit_account_id)
         LIMIT 1)
        UNION ALL
        (SELECT n.* FROM new_transfer n
         WHERE n.reward_id IN (
             SELECT d.id FROM (SELECT DISTINCT reward_id AS id FROM new_transfer
                            WHERE reward_id IS NOT NULL) AS d
             WHERE NOT EXISTS (SELECT 1 FROM reward r WHERE r.id = d.id))
         LIMIT 1)
    ) AS t
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION
            'transfer % names a missing account or reward (debit %, credit %, reward %)',
            bad.id, bad.debit_account_id, bad.credit_account_id, bad.reward_id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'transfer';
    END IF;
    RETURN NULL;
END
$$
"""
_PG_ID_FIXED_TRIGGERS: tuple[str, ...] = tuple(
    f"CREATE TRIGGER {table}_id_fixed BEFORE UPDATE OF id ON {table}"
    " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_removal()"
    for table in ("account", "reward")
)

#: The same objects as revision 0001 created them (for the downgrade).
_PG_OLD_CHECK_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_check_transfer_references() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT t.id, t.debit_account_id, t.credit_account_id, t.reward_id INTO bad
    FROM (
        (SELECT n.* FROM new_transfer n
         WHERE NOT EXISTS (SELECT 1 FROM account a WHERE a.id = n.debit_account_id)
         LIMIT 1)
        UNION ALL
        (SELECT n.* FROM new_transfer n
         WHERE NOT EXISTS (SELECT 1 FROM account a WHERE a.id = n.credit_account_id)
         LIMIT 1)
        UNION ALL
        (SELECT n.* FROM new_transfer n
         WHERE n.reward_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM reward r WHERE r.id = n.reward_id)
         LIMIT 1)
    ) AS t
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION
            'transfer % names a missing account or reward (debit %, credit %, reward %)',
            bad.id, bad.debit_account_id, bad.credit_account_id, bad.reward_id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'transfer';
    END IF;
    RETURN NULL;
END
$$
"""
_PG_OLD_ID_FIXED_TRIGGERS: tuple[str, ...] = tuple(
    f"CREATE TRIGGER {table}_id_fixed BEFORE UPDATE OF id ON {table} FOR EACH ROW"
    " WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ledger_refuse_removal()"
    for table in ("account", "reward")
)


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_index(
        "ix_transfer_debit_account_id_reward_id", "transfer", ["debit_account_id", "reward_id"]
    )
    op.drop_index("ix_transfer_debit_account_id", table_name="transfer")
    op.drop_index("ix_transfer_reward_id", table_name="transfer")
    if _postgresql():
        op.execute(_PG_CHECK_FUNCTION)
        for table, statement in zip(("account", "reward"), _PG_ID_FIXED_TRIGGERS, strict=True):
            op.execute(f"DROP TRIGGER {table}_id_fixed ON {table}")
            op.execute(statement)


def downgrade() -> None:
    if _postgresql():
        for table, statement in zip(("account", "reward"), _PG_OLD_ID_FIXED_TRIGGERS, strict=True):
            op.execute(f"DROP TRIGGER {table}_id_fixed ON {table}")
            op.execute(statement)
        op.execute(_PG_OLD_CHECK_FUNCTION)
    op.create_index("ix_transfer_reward_id", "transfer", ["reward_id"])
    op.create_index("ix_transfer_debit_account_id", "transfer", ["debit_account_id"])
    op.drop_index("ix_transfer_debit_account_id_reward_id", table_name="transfer")

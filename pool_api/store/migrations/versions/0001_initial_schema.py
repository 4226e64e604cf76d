"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 07:45:18.419614
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import accounting.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _units_positive(name: str) -> list[sa.CheckConstraint]:
    """Amount checks only where amounts are numeric (PostgreSQL; see ``accounting.models``)."""
    return [sa.CheckConstraint("amount_units > 0", name=name)] if _postgresql() else []


def _transfer_foreign_keys() -> list[sa.ForeignKeyConstraint]:
    """The transfer's foreign keys, on SQLite only (``accounting.models._sqlite_fk``).

    PostgreSQL gets the statement-level triggers of ``_PG_TRANSFER_REFERENCES_DDL`` instead.
    """
    if _postgresql():
        return []
    return [
        sa.ForeignKeyConstraint(["credit_account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["debit_account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["reward_id"], ["reward.id"]),
    ]


#: A frozen copy of ``accounting.models.PG_TRANSFER_REFERENCES_DDL`` as of this revision
#: (a migration must not change when the models do; a test checks that both paths build
#: triggers that behave the same). Set-based reference checks for ``transfer`` and guards
#: that keep referenced ``account``/``reward`` rows in place.
_PG_TRANSFER_REFERENCES_DDL: tuple[str, ...] = (
    """
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
""",
    """
CREATE OR REPLACE FUNCTION ledger_refuse_removal() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted and never change id (transfers refer to them)',
        TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation', TABLE = TG_TABLE_NAME;
END
$$
""",
    "CREATE TRIGGER transfer_references_insert AFTER INSERT ON transfer"
    " REFERENCING NEW TABLE AS new_transfer"
    " FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_transfer_references()",
    "CREATE TRIGGER transfer_references_update AFTER UPDATE ON transfer"
    " REFERENCING NEW TABLE AS new_transfer"
    " FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_transfer_references()",
    "CREATE TRIGGER account_no_delete BEFORE DELETE ON account"
    " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_removal()",
    "CREATE TRIGGER account_no_truncate BEFORE TRUNCATE ON account"
    " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_removal()",
    "CREATE TRIGGER account_id_fixed BEFORE UPDATE OF id ON account FOR EACH ROW"
    " WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ledger_refuse_removal()",
    "CREATE TRIGGER reward_no_delete BEFORE DELETE ON reward"
    " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_removal()",
    "CREATE TRIGGER reward_no_truncate BEFORE TRUNCATE ON reward"
    " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_removal()",
    "CREATE TRIGGER reward_id_fixed BEFORE UPDATE OF id ON reward FOR EACH ROW"
    " WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ledger_refuse_removal()",
)


def upgrade() -> None:
    if _postgresql():
        op.execute(sa.schema.CreateSequence(sa.Sequence("work_credit_seq")))
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "pool_income",
                "operator_fee",
                "contributor",
                "held",
                "penalties",
                "payout_pending",
                "payouts",
                name="accountkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("contributor_id", sa.BigInteger(), nullable=True),
        sa.Column("balance_units", accounting.types.Units(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "contributor_id", name="uq_account_kind_contributor"),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(
            "uq_account_system_kind",
            ["kind"],
            unique=True,
            sqlite_where=sa.text("contributor_id IS NULL"),
            postgresql_where=sa.text("contributor_id IS NULL"),
        )

    op.create_table(
        "contributor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("payout_address", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("api_key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contributor", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contributor_api_key_hash"), ["api_key_hash"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_contributor_name"), ["name"], unique=True)

    op.create_table(
        "job",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("curve", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("inverse", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("input_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum("queued", "running", "done", "failed", name="jobstatus"),
            nullable=False,
        ),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=True),
        sa.Column("result_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_status"), ["status"], unique=False)

    op.create_table(
        "payout_batch",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "penalty",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("contributor_id", sa.BigInteger(), nullable=False),
        sa.Column("job_ref", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("amount_units", accounting.types.Units(length=80), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_units_positive("ck_penalty_amount_units_positive"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("penalty", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_penalty_contributor_id"), ["contributor_id"], unique=False
        )

    op.create_table(
        "reward",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("job_ref", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("amount_units", accounting.types.Units(length=80), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column(
            "scheme",
            sa.Enum("prop", "pplns", name="rewardscheme", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("window_units", sa.BigInteger(), nullable=True),
        sa.Column("last_credit_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_units_positive("ck_reward_amount_units_positive"),
        sa.CheckConstraint("fee_bps >= 0 AND fee_bps <= 10000", name="ck_reward_fee_bps_range"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reward", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reward_job_ref"), ["job_ref"], unique=False)

    op.create_table(
        "work_credit",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("contributor_id", sa.BigInteger(), nullable=False),
        sa.Column("job_ref", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("work_units", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("work_units > 0", name="ck_work_credit_work_units_positive"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    with op.batch_alter_table("work_credit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_work_credit_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(
            "ix_work_credit_job_contributor", ["job_ref", "contributor_id"], unique=False
        )

    op.create_table(
        "chunkrecord",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("job_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ray_node_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=True),
        sa.Column("work_units", sa.BigInteger(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributor.id"],
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["job.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "chunk_index"),
    )
    with op.batch_alter_table("chunkrecord", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chunkrecord_job_id"), ["job_id"], unique=False)

    op.create_table(
        "held_release",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("reward_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("to_contributor_id", sa.BigInteger(), nullable=True),
        sa.Column("amount_units", accounting.types.Units(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reward_id"],
            ["reward.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reward_id"),
    )
    op.create_table(
        "node",
        sa.Column("ray_node_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("registered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributor.id"],
        ),
        sa.PrimaryKeyConstraint("ray_node_id"),
    )
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_node_contributor_id"), ["contributor_id"], unique=False
        )

    op.create_table(
        "transfer",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("debit_account_id", sa.Integer(), nullable=False),
        sa.Column("credit_account_id", sa.Integer(), nullable=False),
        sa.Column("amount_units", accounting.types.Units(length=80), nullable=False),
        sa.Column(
            "code",
            sa.Enum(
                "reward_fee",
                "reward_share",
                "reward_held",
                "penalty",
                "held_release",
                "withdrawal",
                "payout_paid",
                "payout_failed",
                name="transfercode",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("job_ref", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("reward_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_units_positive("ck_transfer_amount_units_positive"),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name="ck_transfer_distinct_accounts"
        ),
        *_transfer_foreign_keys(),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_credit_account_id"), ["credit_account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfer_debit_account_id"), ["debit_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transfer_reward_id"), ["reward_id"], unique=False)
    if _postgresql():
        for statement in _PG_TRANSFER_REFERENCES_DDL:
            op.execute(statement)

    op.create_table(
        "withdrawal",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("contributor_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_units", accounting.types.Units(length=80), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "batched",
                "paid",
                "failed",
                name="withdrawalstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("batch_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_units_positive("ck_withdrawal_amount_units_positive"),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["payout_batch.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("withdrawal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_withdrawal_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_withdrawal_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_withdrawal_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("withdrawal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_withdrawal_status"))
        batch_op.drop_index(batch_op.f("ix_withdrawal_contributor_id"))
        batch_op.drop_index(batch_op.f("ix_withdrawal_batch_id"))

    op.drop_table("withdrawal")
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_reward_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_debit_account_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_credit_account_id"))

    op.drop_table("transfer")
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_contributor_id"))

    op.drop_table("node")
    op.drop_table("held_release")
    with op.batch_alter_table("chunkrecord", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chunkrecord_job_id"))

    op.drop_table("chunkrecord")
    with op.batch_alter_table("work_credit", schema=None) as batch_op:
        batch_op.drop_index("ix_work_credit_job_contributor")
        batch_op.drop_index(batch_op.f("ix_work_credit_contributor_id"))

    op.drop_table("work_credit")
    with op.batch_alter_table("reward", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reward_job_ref"))

    op.drop_table("reward")
    with op.batch_alter_table("penalty", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_penalty_contributor_id"))

    op.drop_table("penalty")
    op.drop_table("payout_batch")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_status"))

    op.drop_table("job")
    with op.batch_alter_table("contributor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contributor_name"))
        batch_op.drop_index(batch_op.f("ix_contributor_api_key_hash"))

    op.drop_table("contributor")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_account_system_kind",
            sqlite_where=sa.text("contributor_id IS NULL"),
            postgresql_where=sa.text("contributor_id IS NULL"),
        )

    op.drop_table("account")
    if _postgresql():
        # The tables' triggers went with them; their functions did not.
        op.execute("DROP FUNCTION ledger_check_transfer_references()")
        op.execute("DROP FUNCTION ledger_refuse_removal()")
        op.execute(sa.schema.DropSequence(sa.Sequence("work_credit_seq")))
        sa.Enum(name="jobstatus").drop(op.get_bind(), checkfirst=True)

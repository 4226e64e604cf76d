"""invites, key revocation, node hardware, cancelled jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = ("queued", "running", "done", "failed")


def upgrade() -> None:
    op.create_table(
        "invite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("contributor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["contributor_id"], ["contributor.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invite", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invite_token_hash"), ["token_hash"], unique=True)

    with op.batch_alter_table("contributor", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("api_key_revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cpu_cores", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("gpu_model", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(sa.Column("gpu_memory_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("speeds_json", sa.Text(), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL ≥ 12 accepts ADD VALUE inside the migration's transaction.
        op.execute("ALTER TYPE jobstatus ADD VALUE IF NOT EXISTS 'cancelled'")
    # SQLite stores the enum as VARCHAR without a CHECK constraint: nothing to change.


def downgrade() -> None:
    op.execute("UPDATE job SET status = 'failed' WHERE status = 'cancelled'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE jobstatus RENAME TO jobstatus_0003")
        values = ", ".join(f"'{v}'" for v in _OLD_STATUSES)
        op.execute(f"CREATE TYPE jobstatus AS ENUM ({values})")
        op.execute("DROP INDEX IF EXISTS ix_job_status")
        op.execute(
            "ALTER TABLE job ALTER COLUMN status TYPE jobstatus USING status::text::jobstatus"
        )
        op.execute("CREATE INDEX ix_job_status ON job (status)")
        op.execute("DROP TYPE jobstatus_0003")

    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.drop_column("speeds_json")
        batch_op.drop_column("gpu_memory_bytes")
        batch_op.drop_column("gpu_model")
        batch_op.drop_column("cpu_cores")

    with op.batch_alter_table("contributor", schema=None) as batch_op:
        batch_op.drop_column("api_key_revoked_at")

    with op.batch_alter_table("invite", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invite_token_hash"))
    op.drop_table("invite")

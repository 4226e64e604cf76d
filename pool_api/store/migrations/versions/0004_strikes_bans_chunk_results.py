"""strikes, bans, stored chunk results

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contributor", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("banned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("chunkrecord", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "verification",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="checked",
            )
        )
        batch_op.add_column(
            sa.Column("result_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )

    op.create_table(
        "strike",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("ray_node_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contributor_id"], ["contributor.id"]),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contributor_id", "job_id"),
    )
    with op.batch_alter_table("strike", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_strike_contributor_id"), ["contributor_id"])
        batch_op.create_index(batch_op.f("ix_strike_job_id"), ["job_id"])


def downgrade() -> None:
    with op.batch_alter_table("strike", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_strike_job_id"))
        batch_op.drop_index(batch_op.f("ix_strike_contributor_id"))
    op.drop_table("strike")
    with op.batch_alter_table("chunkrecord", schema=None) as batch_op:
        batch_op.drop_column("result_sha256")
        batch_op.drop_column("verification")
    with op.batch_alter_table("contributor", schema=None) as batch_op:
        batch_op.drop_column("banned_at")

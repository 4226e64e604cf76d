"""Groth16 proving keys (zkey table) and the job's key reference

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zkey",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("curve", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("n_vars", sa.Integer(), nullable=False),
        sa.Column("n_public", sa.Integer(), nullable=False),
        sa.Column("domain_size", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("zkey_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("zkey_sha256")
    op.drop_table("zkey")

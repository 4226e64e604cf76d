"""job idempotency key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_job_idempotency_key"), ["idempotency_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_idempotency_key"))
        batch_op.drop_column("idempotency_key")

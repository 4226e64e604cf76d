"""one reward per job

``job_reward``: the one reward of a job (primary key ``job_id``, unique ``reward_id``).
Filled from the existing rewards: each job gets its oldest reward.  A job that already
has several rewards (the race this revision closes) keeps all of them in the ledger
(transfers are never changed); the migration names those jobs in a warning so the
operator can review them (``proverpool ledger audit``, and compensating transfers where
they decide so).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:31:00
"""

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    job_reward = op.create_table(
        "job_reward",
        sa.Column("job_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reward_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.PrimaryKeyConstraint("job_id"),
    )
    with op.batch_alter_table("job_reward", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_reward_reward_id"), ["reward_id"], unique=True)
    _backfill(job_reward)


def _backfill(job_reward: sa.Table) -> None:
    """Each rewarded job's oldest reward becomes its one reward; jobs with more are named."""
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT r.job_ref, r.id, r.created_at FROM reward r JOIN job j ON j.id = r.job_ref"
                " ORDER BY r.job_ref, r.created_at, r.id"
            )
        )
        .all()
    )
    first: dict[str, str] = {}
    extra: dict[str, list[str]] = {}
    for job_ref, reward_id, _created_at in rows:
        if job_ref in first:
            extra.setdefault(job_ref, []).append(reward_id)
        elif len(reward_id) <= 128:
            first[job_ref] = reward_id
    now = datetime.now(UTC)
    if first:
        op.bulk_insert(
            job_reward,
            [
                {"job_id": job, "reward_id": reward_id, "created_at": now}
                for job, reward_id in first.items()
            ],
        )
    for job, others in sorted(extra.items()):
        log.warning(
            "job %s was rewarded %d times before rewards were limited to one per job: "
            "reward %r is kept as its reward; %s stay in the ledger as they are (review them "
            "with `proverpool ledger audit` and post compensating transfers if they were wrong)",
            job,
            len(others) + 1,
            first[job],
            ", ".join(repr(r) for r in others),
        )


def downgrade() -> None:
    with op.batch_alter_table("job_reward", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_reward_reward_id"))
    op.drop_table("job_reward")

"""The ledger's tables (SQLModel, ``table=True``).

The data model follows TigerBeetle's double-entry design
(https://docs.tigerbeetle.com/coding/data-modeling/): every :class:`Transfer`
debits exactly one :class:`Account` and credits exactly one, carries a
``code`` saying why, and has a client-chosen ``id`` that doubles as its
idempotency key; transfers are immutable and amounts are integers in the
smallest unit.

Balances are *credit-normal*: an account's ``balance_units`` is
Σ credits − Σ debits of its transfers. Rewards enter the ledger by debiting
the ``pool_income`` account, which therefore carries the negative of every
reward ever received, so the balances of all accounts always sum to zero.
``balance_units`` is materialised (updated in the same transaction as each
transfer, under a row lock) and :func:`accounting.ledger.audit` re-derives it.

Contributors live in the application's ``contributor`` table; this package
refers to them only by integer ``contributor_id`` (no foreign key), so that
``accounting`` imports nothing of the application.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    DDL,
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Index,
    Sequence,
    UniqueConstraint,
    event,
    text,
)
from sqlmodel import Field, SQLModel

from accounting.errors import ImmutableRecordError
from accounting.types import Units

#: Longest accepted client-chosen id or job reference; derived transfer ids
#: (``"<reward_id>:share:<contributor_id>"``) must still fit in :data:`ID_COLUMN_LENGTH`.
MAX_ID_LENGTH = 200
ID_COLUMN_LENGTH = 255


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class AccountKind(StrEnum):
    """What an account is for."""

    #: Where rewards come from (debited by every reward; its balance is ≤ 0).
    POOL_INCOME = "pool_income"
    #: The operator's fee.
    OPERATOR_FEE = "operator_fee"
    #: One per contributor: what the pool owes that contributor.
    CONTRIBUTOR = "contributor"
    #: Rewards nobody earned (a job without verified work), kept for the operator to decide.
    HELD = "held"
    #: Penalties taken from contributors (verification strikes); the pool keeps them.
    PENALTIES = "penalties"
    #: Withdrawals requested and not yet paid or failed (two-phase: pending → paid/failed).
    PAYOUT_PENDING = "payout_pending"
    #: Everything ever paid out of the pool (the outside world; only grows).
    PAYOUTS = "payouts"


#: Kinds that exist once per contributor; every other kind exists once in the ledger.
PER_CONTRIBUTOR_KINDS: frozenset[AccountKind] = frozenset({AccountKind.CONTRIBUTOR})


class TransferCode(StrEnum):
    """Why a transfer happened."""

    REWARD_FEE = "reward_fee"
    REWARD_SHARE = "reward_share"
    REWARD_HELD = "reward_held"
    #: contributor → penalties.
    PENALTY = "penalty"
    #: held → operator_fee or a contributor, by the operator's decision.
    HELD_RELEASE = "held_release"
    #: contributor → payout_pending.
    WITHDRAWAL = "withdrawal"
    #: payout_pending → payouts.
    PAYOUT_PAID = "payout_paid"
    #: payout_pending → contributor (the amount comes back).
    PAYOUT_FAILED = "payout_failed"


class RewardScheme(StrEnum):
    """How a reward is split among contributors."""

    #: Proportional to the job's own verified work units.
    PROP = "prop"
    #: Pay Per Last N Shares: the last N work units credited before the reward, any job.
    PPLNS = "pplns"


class WithdrawalStatus(StrEnum):
    """Where a withdrawal stands; the transfers are the truth, the audit checks they agree."""

    PENDING = "pending"
    BATCHED = "batched"
    PAID = "paid"
    FAILED = "failed"


def _str_enum(enum_cls: type[StrEnum]) -> Enum:
    # A VARCHAR holding the enum's *values*, not a native PostgreSQL ENUM type,
    # so adding a member later (e.g. ``payout``) needs no ALTER TYPE.
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _units_positive(table: str, column: str) -> CheckConstraint:
    # Only where the column is numeric: on other dialects Units is text and a SQL
    # comparison would be lexicographic. The ledger code checks it everywhere.
    return CheckConstraint(f"{column} > 0", name=f"ck_{table}_{column}_positive").ddl_if(
        dialect="postgresql"
    )


def _sqlite_fk(column: str, target: str) -> ForeignKeyConstraint:
    # A foreign key in the DDL on SQLite only. On PostgreSQL a 100,000-row ``COPY`` into
    # ``transfer`` would fire one row-level FK check per row and per key (most of the time
    # of a large reward); :data:`PG_TRANSFER_REFERENCES_DDL` checks the same thing once per
    # statement instead. The constraint stays in the metadata either way (unit-of-work order).
    return ForeignKeyConstraint([column], [target]).ddl_if(dialect="sqlite")


class Account(SQLModel, table=True):
    """A ledger account: one per system kind, one per contributor for per-contributor kinds."""

    __tablename__: ClassVar[Any] = "account"
    __table_args__ = (
        UniqueConstraint("kind", "contributor_id", name="uq_account_kind_contributor"),
        # NULLs are distinct in a unique constraint, so system accounts need their own index.
        Index(
            "uq_account_system_kind",
            "kind",
            unique=True,
            sqlite_where=text("contributor_id IS NULL"),
            postgresql_where=text("contributor_id IS NULL"),
        ),
        # Room on each page for the new version of every row a reward rewrites, so
        # PostgreSQL updates balances in place (heap-only tuples, no index writes).
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: AccountKind = Field(sa_type=_str_enum(AccountKind), nullable=False)
    contributor_id: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    #: Σ credits − Σ debits, kept in step with the transfers in the same transaction.
    balance_units: int = Field(default=0, sa_type=Units(), nullable=False)


class Reward(SQLModel, table=True):
    """A reward reported for a job; ``id`` is the client-chosen idempotency key."""

    __tablename__: ClassVar[Any] = "reward"
    __table_args__ = (
        _units_positive("reward", "amount_units"),
        CheckConstraint("fee_bps >= 0 AND fee_bps <= 10000", name="ck_reward_fee_bps_range"),
    )

    id: str = Field(primary_key=True, max_length=ID_COLUMN_LENGTH)
    job_ref: str = Field(index=True, max_length=ID_COLUMN_LENGTH)
    amount_units: int = Field(sa_type=Units(), nullable=False)
    fee_bps: int = Field(nullable=False)
    scheme: RewardScheme = Field(sa_type=_str_enum(RewardScheme), nullable=False)
    #: PPLNS only: the window N in work units.
    window_units: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    #: PPLNS only: the ``WorkCredit.seq`` of the newest credit the window counted.
    last_credit_seq: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False
    )


class Transfer(SQLModel, table=True):
    """One immutable movement of ``amount_units`` from the debit to the credit account.

    ``id`` is client-chosen and is the idempotency key. ``reward_id`` links the
    transfers that allocate one reward, so the audit can check that each reward
    is allocated exactly (it is ``NULL`` for transfers that belong to no reward).
    """

    __tablename__: ClassVar[Any] = "transfer"
    __table_args__ = (
        _units_positive("transfer", "amount_units"),
        CheckConstraint(
            "debit_account_id <> credit_account_id", name="ck_transfer_distinct_accounts"
        ),
        _sqlite_fk("debit_account_id", "account.id"),
        _sqlite_fk("credit_account_id", "account.id"),
        _sqlite_fk("reward_id", "reward.id"),
        # One index for two lookups: an account's debits (statements), and a reward's
        # transfers, which all debit ``pool_income`` (re-reading a posting). A reward's
        # 100,000 transfers share one key, which PostgreSQL stores deduplicated.
        Index("ix_transfer_debit_account_id_reward_id", "debit_account_id", "reward_id"),
    )

    id: str = Field(primary_key=True, max_length=ID_COLUMN_LENGTH)
    debit_account_id: int = Field(nullable=False)
    credit_account_id: int = Field(index=True, nullable=False)
    amount_units: int = Field(sa_type=Units(), nullable=False)
    code: TransferCode = Field(sa_type=_str_enum(TransferCode), nullable=False)
    #: Not indexed: nothing looks transfers up by job (rewards are found by ``reward_id``),
    #: and a 100,000-contributor reward would maintain a 100,000-entry index for it.
    job_ref: str = Field(max_length=ID_COLUMN_LENGTH)
    #: Not indexed alone: a reward's transfers are found by (``pool_income``, reward_id).
    reward_id: str | None = Field(default=None, nullable=True, max_length=ID_COLUMN_LENGTH)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False
    )


#: PostgreSQL's replacement for the three ``transfer`` foreign keys, set-based: one
#: anti-join per INSERT/UPDATE *statement* over its new rows (a transition table) raises
#: ``foreign_key_violation`` if any row names a missing account or reward, so the whole
#: statement (e.g. a 100,000-row ``COPY``) is undone. Referenced rows cannot go away:
#: ``account`` and ``reward`` rows are never deleted or truncated and no ``UPDATE`` may set
#: their ``id`` (``restrict_violation``; statement-level, so a 100,000-row balance update
#: pays nothing per row), which is what lets the check skip the FK's row locks.
#: Debit accounts and rewards repeat (a reward's 100,000 transfers all debit ``pool_income``
#: for one reward), so each distinct one is looked up once; credit accounts row by row.
#: The Alembic migrations ``0001`` and ``0007`` create the same objects; ``create_all`` gets
#: them from the ``after_create`` listener below.
PG_TRANSFER_REFERENCES_DDL: tuple[str, ...] = (
    """
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
    *(
        statement
        for table in ("account", "reward")
        for statement in (
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_removal()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_removal()",
            f"CREATE TRIGGER {table}_id_fixed BEFORE UPDATE OF id ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_removal()",
        )
    ),
)

# ``transfer`` is created after ``account`` and ``reward`` (the SQLite-only foreign keys
# still order the tables), so every table the triggers name exists by then.
for _statement in PG_TRANSFER_REFERENCES_DDL:
    event.listen(
        Transfer.__table__,
        "after_create",
        DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"),
    )


class WorkCredit(SQLModel, table=True):
    """Verified work by one contributor on one job; ``id`` (e.g. ``"<job>:<chunk>"``) is the key."""

    __tablename__: ClassVar[Any] = "work_credit"
    __table_args__ = (
        CheckConstraint("work_units > 0", name="ck_work_credit_work_units_positive"),
        Index("ix_work_credit_job_contributor", "job_ref", "contributor_id"),
    )

    id: str = Field(primary_key=True, max_length=ID_COLUMN_LENGTH)
    contributor_id: int = Field(sa_type=BigInteger, index=True, nullable=False)
    job_ref: str = Field(max_length=ID_COLUMN_LENGTH, nullable=False)
    work_units: int = Field(sa_type=BigInteger, nullable=False)
    #: Monotonic order of credits (PPLNS windows): ``nextval`` of
    #: :data:`WORK_CREDIT_SEQ` on PostgreSQL, ``max(seq) + 1`` inside the INSERT elsewhere.
    seq: int = Field(sa_type=BigInteger, unique=True, nullable=False)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False
    )


#: PostgreSQL sequence behind ``WorkCredit.seq`` (ignored by dialects without sequences).
WORK_CREDIT_SEQ = Sequence("work_credit_seq", metadata=SQLModel.metadata)


class Penalty(SQLModel, table=True):
    """A penalty taken from a contributor; its one transfer is ``"<id>:penalty"``."""

    __tablename__: ClassVar[Any] = "penalty"
    __table_args__ = (_units_positive("penalty", "amount_units"),)

    id: str = Field(primary_key=True, max_length=ID_COLUMN_LENGTH)
    contributor_id: int = Field(sa_type=BigInteger, index=True, nullable=False)
    job_ref: str = Field(max_length=ID_COLUMN_LENGTH, nullable=False)
    amount_units: int = Field(sa_type=Units(), nullable=False)
    reason: str = Field(max_length=1000, nullable=False)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False
    )


class HeldRelease(SQLModel, table=True):
    """The operator's decision on one held reward; its transfer is ``"<id>:release"``.

    ``to_contributor_id`` is ``NULL`` when the operator took it (``operator_fee``).
    """

    __tablename__: ClassVar[Any] = "held_release"

    id: str = Field(primary_key=True, max_length=ID_COLUMN_LENGTH)
    reward_id: str = Field(
        foreign_key="reward.id", unique=True, nullable=False, max_length=ID_COLUMN_LENGTH
    )
    to_contributor_id: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    amount_units: int = Field(sa_type=Units(), nullable=False)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False
    )


class PayoutBatch(SQLModel, table=True):
    """A batch of withdrawals the operator pays out together."""

    __tablename__: ClassVar[Any] = "payout_batch"

    id: str = Field(primary_key=True, max_length=ID_COLUMN_LENGTH)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False
    )


class Withdrawal(SQLModel, table=True):
    """A contributor's withdrawal: ``"<id>:withdrawal"``, then ``"<id>:paid"`` or ``"<id>:failed"``.

    Only ``status`` and ``batch_id`` ever change, by guarded ``UPDATE … WHERE status = …``
    statements; the amounts live in the immutable transfers.
    """

    __tablename__: ClassVar[Any] = "withdrawal"
    __table_args__ = (_units_positive("withdrawal", "amount_units"),)

    id: str = Field(primary_key=True, max_length=ID_COLUMN_LENGTH)
    contributor_id: int = Field(sa_type=BigInteger, index=True, nullable=False)
    amount_units: int = Field(sa_type=Units(), nullable=False)
    status: WithdrawalStatus = Field(
        sa_type=_str_enum(WithdrawalStatus), index=True, nullable=False
    )
    batch_id: str | None = Field(
        default=None,
        foreign_key="payout_batch.id",
        index=True,
        nullable=True,
        max_length=ID_COLUMN_LENGTH,
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False
    )


def _refuse_change(mapper: object, connection: object, target: object) -> None:
    raise ImmutableRecordError(
        f"{type(target).__name__} {getattr(target, 'id', None)!r} is immutable; "
        "post a correcting transfer instead"
    )


for _immutable in (Transfer, WorkCredit, Reward, Penalty, HeldRelease, PayoutBatch):
    event.listen(_immutable, "before_update", _refuse_change)
    event.listen(_immutable, "before_delete", _refuse_change)

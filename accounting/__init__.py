"""Work units, the double-entry ledger, rewards and audits of the pool.

Amounts are integers in the reward token's smallest unit and work units are
integers; no float is used anywhere in a money path. The ledger follows
TigerBeetle's double-entry data model (https://docs.tigerbeetle.com/coding/data-modeling/,
and https://docs.tigerbeetle.com/coding/two-phase-transfers/ for the pending →
posted pattern withdrawals use): one debit and one credit per transfer,
client-chosen ids as idempotency keys, immutable records. Rewards are split by
the largest remainder (Hamilton) method, so the parts sum to the reward exactly.

Transactions belong to the caller. Every writer (:func:`credit_work`,
:func:`credit_work_many`, :func:`post_reward`, :func:`post_penalty`,
:func:`release_held`, :func:`request_withdrawal`, :func:`create_payout_batch`,
:func:`mark_payout`) takes the caller's :class:`sqlmodel.Session`, does its writes
in a savepoint of the caller's transaction and returns without committing: the
caller commits, so ledger writes commit together with the caller's own (a job's
credits with its flip to ``done``), or rolls back. A writer that raises has rolled
its savepoint back (nothing of the call is written; the caller's earlier writes
stay). The readers (:func:`audit`, :func:`statement`, :func:`balances`, …) never end
the caller's transaction either. Row locks a writer takes are held until the caller's
transaction ends, so callers should commit promptly. On SQLite a writer begins the
transaction with ``BEGIN IMMEDIATE`` when none is open (one writer at a time).

This package imports nothing of the project's other packages: only
``sqlmodel``/``sqlalchemy`` and the standard library.
"""

from accounting.adjustments import post_penalty, release_held
from accounting.auditing import audit
from accounting.credits import Credit, credit_work_many
from accounting.errors import (
    AccountingError,
    ConflictError,
    ImmutableRecordError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidFeeError,
    InvalidIdError,
    InvalidInputError,
    InvalidStateError,
    InvalidWeightsError,
)
from accounting.ledger import (
    PostStatus,
    RewardPosting,
    account_balance,
    balances,
    credit_work,
    post_reward,
    pplns_weights,
    work_units_by_contributor,
)
from accounting.models import (
    Account,
    AccountKind,
    HeldRelease,
    PayoutBatch,
    Penalty,
    Reward,
    RewardScheme,
    Transfer,
    TransferCode,
    Withdrawal,
    WithdrawalStatus,
    WorkCredit,
)
from accounting.payouts import (
    PayoutBatchInfo,
    create_payout_batch,
    export_payout_batch,
    mark_payout,
    payout_rows_csv,
    payout_rows_json,
    request_withdrawal,
)
from accounting.split import fee_units, split_largest_remainder
from accounting.statements import StatementLine, statement, statement_csv, statement_json
from accounting.types import MAX_UNITS, Units, as_units

__all__ = [
    "MAX_UNITS",
    "Account",
    "AccountKind",
    "AccountingError",
    "ConflictError",
    "Credit",
    "HeldRelease",
    "ImmutableRecordError",
    "InsufficientFundsError",
    "InvalidAmountError",
    "InvalidFeeError",
    "InvalidIdError",
    "InvalidInputError",
    "InvalidStateError",
    "InvalidWeightsError",
    "PayoutBatch",
    "PayoutBatchInfo",
    "Penalty",
    "PostStatus",
    "Reward",
    "RewardPosting",
    "RewardScheme",
    "StatementLine",
    "Transfer",
    "TransferCode",
    "Units",
    "Withdrawal",
    "WithdrawalStatus",
    "WorkCredit",
    "account_balance",
    "as_units",
    "audit",
    "balances",
    "create_payout_batch",
    "credit_work",
    "credit_work_many",
    "export_payout_batch",
    "fee_units",
    "mark_payout",
    "payout_rows_csv",
    "payout_rows_json",
    "post_penalty",
    "post_reward",
    "pplns_weights",
    "release_held",
    "request_withdrawal",
    "split_largest_remainder",
    "statement",
    "statement_csv",
    "statement_json",
    "work_units_by_contributor",
]

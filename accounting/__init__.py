"""Work units, the double-entry ledger, rewards and audits of the pool.

Amounts are integers in the reward token's smallest unit and work units are
integers; no float is used anywhere in a money path. The ledger follows
TigerBeetle's double-entry data model (https://docs.tigerbeetle.com/coding/data-modeling/,
and https://docs.tigerbeetle.com/coding/two-phase-transfers/ for the pending →
posted pattern payouts will use): one debit and one credit per transfer,
client-chosen ids as idempotency keys, immutable records. Rewards are split by
the largest remainder (Hamilton) method, so the parts sum to the reward exactly.

This package imports nothing of the project's other packages: only
``sqlmodel``/``sqlalchemy`` and the standard library.
"""

from accounting.errors import (
    AccountingError,
    ConflictError,
    ImmutableRecordError,
    InvalidAmountError,
    InvalidFeeError,
    InvalidIdError,
    InvalidInputError,
    InvalidWeightsError,
)
from accounting.ledger import (
    PostStatus,
    RewardPosting,
    account_balance,
    audit,
    balances,
    credit_work,
    post_reward,
    work_units_by_contributor,
)
from accounting.models import (
    Account,
    AccountKind,
    Reward,
    RewardScheme,
    Transfer,
    TransferCode,
    WorkCredit,
)
from accounting.split import fee_units, split_largest_remainder
from accounting.types import MAX_UNITS, Units, as_units

__all__ = [
    "MAX_UNITS",
    "Account",
    "AccountKind",
    "AccountingError",
    "ConflictError",
    "ImmutableRecordError",
    "InvalidAmountError",
    "InvalidFeeError",
    "InvalidIdError",
    "InvalidInputError",
    "InvalidWeightsError",
    "PostStatus",
    "Reward",
    "RewardPosting",
    "RewardScheme",
    "Transfer",
    "TransferCode",
    "Units",
    "WorkCredit",
    "account_balance",
    "as_units",
    "audit",
    "balances",
    "credit_work",
    "fee_units",
    "post_reward",
    "split_largest_remainder",
    "work_units_by_contributor",
]

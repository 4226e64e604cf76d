"""The double-entry ledger: work credits, reward postings, balances and audits.

Modelled on TigerBeetle's data model (https://docs.tigerbeetle.com/coding/data-modeling/):
accounts hold integer balances in the token's smallest unit; every transfer
debits one account and credits one, says why in its ``code``, and carries a
client-chosen id that is its idempotency key — posting the same id again with
the same contents is a no-op (``"exists"``), with different contents a
:class:`~accounting.errors.ConflictError`. Transfers are never changed; a
mistake is undone by a correcting transfer. (TigerBeetle's two-phase transfers,
https://docs.tigerbeetle.com/coding/two-phase-transfers/, reserve funds as
*pending* and later post or void them; payouts will follow that pattern, see
the later issues. Rewards post in a single phase.)

Writing functions take a :class:`sqlmodel.Session` and keyword-only
arguments, do all their writes in the session's current transaction and
``commit()`` at the end. On any error they roll the session back and raise:
nothing of a failed call is ever half-written. (They commit whatever else the
caller had pending in the session, too; give them a session of their own.)

Concurrency: balances are read and updated under ``SELECT … FOR UPDATE`` row
locks taken in one global order (a no-op on SQLite, which serialises writers
with its database lock instead). Two sessions posting the same id at once
race on the primary key: the loser's insert fails with an ``IntegrityError``,
its transaction is rolled back and the stored record is re-read, so the loser
answers ``"exists"`` or raises ``ConflictError`` exactly as if it had come
second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from accounting.errors import ConflictError, InvalidAmountError, InvalidIdError
from accounting.models import (
    MAX_ID_LENGTH,
    PER_CONTRIBUTOR_KINDS,
    Account,
    AccountKind,
    Reward,
    RewardScheme,
    Transfer,
    TransferCode,
    WorkCredit,
)
from accounting.split import fee_bps_checked, fee_units, split_largest_remainder
from accounting.types import as_units

PostStatus = Literal["created", "exists"]

#: Largest value of a signed 64-bit column (work units, contributor ids).
_INT64_MAX = 2**63 - 1

#: Account kinds whose balance must never go below zero (``pool_income`` is
#: debited by every reward and is the one account that is negative by design).
NON_NEGATIVE_KINDS: frozenset[AccountKind] = frozenset(
    {AccountKind.CONTRIBUTOR, AccountKind.OPERATOR_FEE, AccountKind.HELD}
)


@dataclass(frozen=True, slots=True)
class RewardPosting:
    """What a reward was split into.

    ``fee_units + sum(shares.values()) + held_units == amount_units`` always.
    ``shares`` lists only contributors that received a nonzero share (exactly
    the ``reward_share`` transfers posted). For ``status == "exists"`` the
    figures are read back from the stored transfers, not recomputed.
    """

    reward_id: str
    job_ref: str
    status: PostStatus
    amount_units: int
    fee_bps: int
    fee_units: int
    shares: dict[int, int] = field(default_factory=dict)
    held_units: int = 0
    scheme: RewardScheme = RewardScheme.PROP


# --------------------------------------------------------------------------- validation


def _check_ref(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidIdError(f"{name} must be a string, got {type(value).__name__}", field=name)
    if not value or len(value) > MAX_ID_LENGTH:
        raise InvalidIdError(f"{name} must have 1 to {MAX_ID_LENGTH} characters", field=name)
    return value


def _check_contributor_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidIdError(
            f"contributor_id must be an integer, got {type(value).__name__}",
            field="contributor_id",
        )
    if not 0 <= value <= _INT64_MAX:
        raise InvalidIdError(
            f"contributor_id must be in [0, 2^63), got {value}", field="contributor_id"
        )
    return int(value)


def _check_work_units(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmountError(
            f"work_units must be an integer, got {type(value).__name__}", field="work_units"
        )
    if not 0 < value <= _INT64_MAX:
        raise InvalidAmountError(
            f"work_units must be in [1, 2^63), got {value}", field="work_units"
        )
    return int(value)


def _check_positive_units(value: object, name: str = "amount_units") -> int:
    units = as_units(value, field=name)
    if units <= 0:
        raise InvalidAmountError(f"{name} must be > 0, got {units}", field=name)
    return units


def _account_key(kind: object, contributor_id: object) -> tuple[AccountKind, int | None]:
    try:
        account_kind = AccountKind(kind)
    except ValueError:
        raise InvalidIdError(f"unknown account kind {kind!r}", field="kind") from None
    if account_kind in PER_CONTRIBUTOR_KINDS:
        if contributor_id is None:
            raise InvalidIdError(
                f"a {account_kind.value} account needs a contributor_id", field="contributor_id"
            )
        return account_kind, _check_contributor_id(contributor_id)
    if contributor_id is not None:
        raise InvalidIdError(
            f"a {account_kind.value} account has no contributor_id", field="contributor_id"
        )
    return account_kind, None


def _require_same(
    entity: str, record_id: str, stored: Mapping[str, object], wanted: Mapping[str, object]
) -> None:
    differences = {
        name: (stored[name], wanted[name]) for name in wanted if stored[name] != wanted[name]
    }
    if differences:
        raise ConflictError(entity=entity, record_id=record_id, differences=differences)


# --------------------------------------------------------------------------- accounts

_AccountKey = tuple[AccountKind, int | None]


def _key_order(key: _AccountKey) -> tuple[str, bool, int]:
    kind, contributor_id = key
    # Same order as ORDER BY kind, contributor_id (NULLS LAST) on PostgreSQL.
    return (kind.value, contributor_id is None, contributor_id or 0)


def _accounts_where(keys: Iterable[_AccountKey]) -> ColumnElement[bool]:
    by_kind: dict[AccountKind, set[int | None]] = defaultdict(set)
    for kind, contributor_id in keys:
        by_kind[kind].add(contributor_id)
    clauses = []
    for kind, ids in by_kind.items():
        if None in ids:
            clauses.append(and_(Account.kind == kind, Account.contributor_id.is_(None)))
        numbered = sorted(i for i in ids if i is not None)
        if numbered:
            clauses.append(and_(Account.kind == kind, Account.contributor_id.in_(numbered)))
    return or_(*clauses)


def _lock_accounts(session: Session, keys: Iterable[_AccountKey]) -> dict[_AccountKey, Account]:
    """Create the missing accounts among ``keys`` and lock all of them ``FOR UPDATE``.

    Deadlock-free by ordering: missing accounts are inserted in key order, then all
    rows are locked in key order, and nothing is locked before the inserts.
    """
    ordered = sorted(set(keys), key=_key_order)
    if not ordered:
        return {}
    present = {
        (AccountKind(kind), contributor_id)
        for kind, contributor_id in session.execute(
            select(Account.kind, Account.contributor_id).where(_accounts_where(ordered))
        )
    }
    missing = [key for key in ordered if key not in present]
    if missing:
        _insert_accounts(session, missing)
    rows = session.scalars(
        select(Account)
        .where(_accounts_where(ordered))
        .order_by(Account.kind, Account.contributor_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    accounts = {(AccountKind(a.kind), a.contributor_id): a for a in rows}
    lost = [key for key in ordered if key not in accounts]
    if lost:  # pragma: no cover - would mean the insert above silently failed
        raise RuntimeError(f"accounts {lost} could not be created")
    return accounts


def _insert_accounts(session: Session, keys: list[_AccountKey]) -> None:
    rows = [{"kind": kind, "contributor_id": cid, "balance_units": 0} for kind, cid in keys]
    table = Account.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).values(rows).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).values(rows).on_conflict_do_nothing())
    else:  # pragma: no cover - other dialects: one savepoint per account
        for row in rows:
            try:
                with session.begin_nested():
                    session.add(Account(**row))
            except IntegrityError:
                pass


class _Leg(NamedTuple):
    transfer_id: str
    debit: _AccountKey
    credit: _AccountKey
    amount_units: int
    code: TransferCode


def _apply_transfers(
    session: Session, legs: list[_Leg], *, job_ref: str, reward_id: str | None
) -> None:
    """Insert the transfers and move the materialised balances, under row locks."""
    accounts = _lock_accounts(session, [k for leg in legs for k in (leg.debit, leg.credit)])
    for leg in legs:
        if leg.amount_units <= 0 or leg.debit == leg.credit:  # pragma: no cover - internal bug
            raise AssertionError(f"invalid transfer leg {leg}")
        debit, credit = accounts[leg.debit], accounts[leg.credit]
        session.add(
            Transfer(
                id=leg.transfer_id,
                debit_account_id=debit.id,
                credit_account_id=credit.id,
                amount_units=leg.amount_units,
                code=leg.code,
                job_ref=job_ref,
                reward_id=reward_id,
            )
        )
        debit.balance_units -= leg.amount_units
        credit.balance_units += leg.amount_units
    session.flush()


# --------------------------------------------------------------------------- work credits


def credit_work(
    session: Session, *, credit_id: str, contributor_id: int, job_ref: str, work_units: int
) -> PostStatus:
    """Record verified work; ``credit_id`` (e.g. ``"<job_id>:<chunk_index>"``) is the key.

    Returns ``"created"``, or ``"exists"`` when the same credit was recorded
    before (nothing changes). Raises :class:`ConflictError` when ``credit_id``
    exists with other contents.
    """
    credit_id = _check_ref(credit_id, "credit_id")
    wanted = {
        "contributor_id": _check_contributor_id(contributor_id),
        "job_ref": _check_ref(job_ref, "job_ref"),
        "work_units": _check_work_units(work_units),
    }
    try:
        stored = session.get(WorkCredit, credit_id)
        if stored is None:
            session.add(WorkCredit(id=credit_id, **wanted))
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                stored = session.get(WorkCredit, credit_id)
                if stored is None:
                    raise
        status: PostStatus = "created"
        if stored is not None:
            _require_same("work credit", credit_id, _credit_contents(stored), wanted)
            status = "exists"
        session.commit()
        return status
    except BaseException:
        session.rollback()
        raise


def _credit_contents(credit: WorkCredit) -> dict[str, object]:
    return {
        "contributor_id": credit.contributor_id,
        "job_ref": credit.job_ref,
        "work_units": credit.work_units,
    }


# --------------------------------------------------------------------------- rewards


def post_reward(
    session: Session, *, reward_id: str, job_ref: str, amount_units: int, fee_bps: int
) -> RewardPosting:
    """Post a reward for a job and split it (PROP: by the job's own work credits).

    Transfers, all debiting ``pool_income``: the fee ⌊R·f/10000⌋ to
    ``operator_fee`` (id ``"<reward_id>:fee"``, skipped when 0); each nonzero
    share of the rest, split by the job's work units with the largest remainder
    method, to the contributor's account (``"<reward_id>:share:<contributor_id>"``);
    when the job has no work credits, the rest to ``held`` (``"<reward_id>:held"``).

    Same ``reward_id`` with the same contents → ``status="exists"``, nothing
    changes, and the figures are read back from the ledger. Different contents →
    :class:`ConflictError`. ``amount_units`` must be a positive integer and
    ``fee_bps`` an integer in ``[0, 10000]``.
    """
    reward_id = _check_ref(reward_id, "reward_id")
    job_ref = _check_ref(job_ref, "job_ref")
    amount = _check_positive_units(amount_units)
    bps = fee_bps_checked(fee_bps)
    wanted: dict[str, object] = {
        "job_ref": job_ref,
        "amount_units": amount,
        "fee_bps": bps,
        "scheme": RewardScheme.PROP,
    }
    try:
        try:
            posting = _post_reward(session, reward_id, job_ref, amount, bps, wanted)
            session.commit()
            return posting
        except IntegrityError:
            # Most likely a concurrent post of the same reward_id won the race.
            session.rollback()
            stored = session.get(Reward, reward_id)
            if stored is None:
                raise
            _require_same("reward", reward_id, _reward_contents(stored), wanted)
            posting = _posting_from_ledger(session, stored)
            session.commit()
            return posting
    except BaseException:
        session.rollback()
        raise


def _reward_contents(reward: Reward) -> dict[str, object]:
    return {
        "job_ref": reward.job_ref,
        "amount_units": reward.amount_units,
        "fee_bps": reward.fee_bps,
        "scheme": RewardScheme(reward.scheme),
    }


def _post_reward(
    session: Session,
    reward_id: str,
    job_ref: str,
    amount: int,
    bps: int,
    wanted: Mapping[str, object],
) -> RewardPosting:
    stored = session.get(Reward, reward_id)
    if stored is not None:
        _require_same("reward", reward_id, _reward_contents(stored), wanted)
        return _posting_from_ledger(session, stored)

    weights = work_units_by_contributor(session, job_ref)
    fee = fee_units(amount, bps)
    rest = amount - fee
    shares = split_largest_remainder(rest, weights) if weights else {}
    held = 0 if weights else rest

    # Claim the idempotency key first: a concurrent post of the same id blocks
    # here until this transaction ends, then fails with IntegrityError.
    session.add(
        Reward(
            id=reward_id,
            job_ref=job_ref,
            amount_units=amount,
            fee_bps=bps,
            scheme=RewardScheme.PROP,
        )
    )
    session.flush()

    pool = (AccountKind.POOL_INCOME, None)
    legs: list[_Leg] = []
    if fee:
        legs.append(
            _Leg(
                f"{reward_id}:fee",
                pool,
                (AccountKind.OPERATOR_FEE, None),
                fee,
                TransferCode.REWARD_FEE,
            )
        )
    for contributor_id, units in shares.items():
        if units:
            legs.append(
                _Leg(
                    f"{reward_id}:share:{contributor_id}",
                    pool,
                    (AccountKind.CONTRIBUTOR, contributor_id),
                    units,
                    TransferCode.REWARD_SHARE,
                )
            )
    if held:
        legs.append(
            _Leg(
                f"{reward_id}:held", pool, (AccountKind.HELD, None), held, TransferCode.REWARD_HELD
            )
        )
    _apply_transfers(session, legs, job_ref=job_ref, reward_id=reward_id)
    return RewardPosting(
        reward_id=reward_id,
        job_ref=job_ref,
        status="created",
        amount_units=amount,
        fee_bps=bps,
        fee_units=fee,
        shares={cid: units for cid, units in shares.items() if units},
        held_units=held,
    )


def _posting_from_ledger(session: Session, reward: Reward) -> RewardPosting:
    fee = held = 0
    shares: dict[int, int] = {}
    rows = session.execute(
        select(Transfer.code, Transfer.amount_units, Account.contributor_id)
        .join(Account, Account.id == Transfer.credit_account_id)
        .where(Transfer.reward_id == reward.id)
    )
    for code, amount, contributor_id in rows:
        if code == TransferCode.REWARD_FEE:
            fee += amount
        elif code == TransferCode.REWARD_HELD:
            held += amount
        elif code == TransferCode.REWARD_SHARE:
            shares[contributor_id] = shares.get(contributor_id, 0) + amount
    return RewardPosting(
        reward_id=reward.id,
        job_ref=reward.job_ref,
        status="exists",
        amount_units=reward.amount_units,
        fee_bps=reward.fee_bps,
        fee_units=fee,
        shares=dict(sorted(shares.items())),
        held_units=held,
        scheme=RewardScheme(reward.scheme),
    )


# --------------------------------------------------------------------------- reads


def balances(session: Session) -> dict[int, int]:
    """Every contributor account's balance: ``{contributor_id: balance_units}``."""
    rows = session.execute(
        select(Account.contributor_id, Account.balance_units)
        .where(Account.kind == AccountKind.CONTRIBUTOR)
        .order_by(Account.contributor_id)
    )
    return {int(cid): int(units) for cid, units in rows}


def work_units_by_contributor(session: Session, job_ref: str | None = None) -> dict[int, int]:
    """Work units summed per contributor, for one job or (``job_ref=None``) all jobs."""
    stmt = select(WorkCredit.contributor_id, func.sum(WorkCredit.work_units)).group_by(
        WorkCredit.contributor_id
    )
    if job_ref is not None:
        stmt = stmt.where(WorkCredit.job_ref == _check_ref(job_ref, "job_ref"))
    # SUM(BIGINT) is NUMERIC on PostgreSQL: int() of that Decimal is exact.
    return {
        int(cid): int(total)
        for cid, total in session.execute(stmt.order_by(WorkCredit.contributor_id))
    }


def account_balance(
    session: Session, kind: AccountKind | str, contributor_id: int | None = None
) -> int:
    """The balance of one account (0 if it does not exist yet)."""
    account_kind, cid = _account_key(kind, contributor_id)
    units = session.scalar(
        select(Account.balance_units).where(_accounts_where([(account_kind, cid)]))
    )
    return 0 if units is None else int(units)


def audit(session: Session) -> list[str]:
    """Check the ledger's invariants; return one line per violation (``[]`` = healthy).

    * the balances of all accounts sum to zero;
    * each account's materialised balance equals Σ credits − Σ debits of its transfers;
    * no contributor, operator-fee or held account is negative;
    * every transfer is positive, between two distinct existing accounts;
    * every reward's transfers sum exactly to its amount (and none points at a missing reward).

    Sums are taken over Python ints (exact on every dialect).
    """
    problems: list[str] = []
    accounts = {
        account_id: (AccountKind(kind), cid, int(units))
        for account_id, kind, cid, units in session.execute(
            select(Account.id, Account.kind, Account.contributor_id, Account.balance_units)
        )
    }
    derived: dict[int, int] = defaultdict(int)
    allocated: dict[str, int] = defaultdict(int)
    for transfer_id, debit_id, credit_id, amount, reward_id in session.execute(
        select(
            Transfer.id,
            Transfer.debit_account_id,
            Transfer.credit_account_id,
            Transfer.amount_units,
            Transfer.reward_id,
        ).order_by(Transfer.id)
    ):
        if amount <= 0:
            problems.append(f"transfer {transfer_id!r}: amount_units {amount} is not positive")
        if debit_id == credit_id:
            problems.append(f"transfer {transfer_id!r}: debits and credits account {debit_id}")
        for account_id in (debit_id, credit_id):
            if account_id not in accounts:
                problems.append(f"transfer {transfer_id!r}: account {account_id} does not exist")
        derived[debit_id] -= amount
        derived[credit_id] += amount
        if reward_id is not None:
            allocated[reward_id] += amount

    total = sum(units for _, _, units in accounts.values())
    if total != 0:
        problems.append(f"account balances sum to {total}, not 0")
    for account_id in sorted(accounts):
        kind, cid, units = accounts[account_id]
        label = f"account {account_id} ({kind.value}" + (
            f", contributor {cid})" if cid is not None else ")"
        )
        if units != derived.get(account_id, 0):
            problems.append(
                f"{label}: balance_units {units} != {derived.get(account_id, 0)} from its transfers"
            )
        if kind in NON_NEGATIVE_KINDS and units < 0:
            problems.append(f"{label}: negative balance {units}")

    rewards = {
        reward_id: int(amount)
        for reward_id, amount in session.execute(
            select(Reward.id, Reward.amount_units).order_by(Reward.id)
        )
    }
    for reward_id, amount in rewards.items():
        if allocated.get(reward_id, 0) != amount:
            problems.append(
                f"reward {reward_id!r}: transfers sum to {allocated.get(reward_id, 0)}, "
                f"not its amount {amount}"
            )
    for reward_id in sorted(set(allocated) - set(rewards)):
        problems.append(f"transfers reference missing reward {reward_id!r}")
    return problems

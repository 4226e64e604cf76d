"""The double-entry ledger: reward postings, balances and the reads over work credits.

Modelled on TigerBeetle's data model (https://docs.tigerbeetle.com/coding/data-modeling/):
accounts hold integer balances in the token's smallest unit; every transfer
debits one account and credits one, says why in its ``code``, and carries a
client-chosen id that is its idempotency key — posting the same id again with
the same contents is a no-op (``"exists"``), with different contents a
:class:`~accounting.errors.ConflictError`. Transfers are never changed; a
mistake is undone by a correcting transfer. Rewards post in a single phase;
withdrawals use TigerBeetle's two-phase pattern
(https://docs.tigerbeetle.com/coding/two-phase-transfers/, pending → posted or
voided) with ordinary transfers, see :mod:`accounting.payouts`. Work credits are
written by :mod:`accounting.credits` (re-exported here).

Writing functions take a :class:`sqlmodel.Session` and keyword-only
arguments and do all their writes in a savepoint of the caller's transaction:
they never commit, the caller does (so a posting can commit together with the
caller's own writes). On any error the savepoint is rolled back and the error
raised: nothing of a failed call is written, and what the caller wrote before
is untouched.

Concurrency: balances are read and updated under ``SELECT … FOR UPDATE`` row
locks taken in one global order (a no-op on SQLite, which serialises writers
with its database lock instead; a writer takes it at its start). The locks are
held until the caller's transaction ends. Two sessions posting the same id at
once race on the primary key: the loser's insert waits for the winner's
transaction and fails with an ``IntegrityError``, its savepoint is rolled back
and the stored record is re-read, so the loser answers ``"exists"`` or raises
``ConflictError`` exactly as if it had come second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from accounting._accounts import _accounts_where
from accounting._core import (
    _INT64_MAX,
    PostStatus,
    _account_key,
    _atomic,
    _check_positive_units,
    _check_ref,
    _require_same,
)
from accounting._sql import _fetch_rows, _pg_int_columns
from accounting._transfers import _apply_transfers, _Fanout, _Leg
from accounting.auditing import audit
from accounting.credits import Credit, credit_work, credit_work_many
from accounting.errors import InvalidAmountError, InvalidInputError
from accounting.models import (
    Account,
    AccountKind,
    Reward,
    RewardScheme,
    Transfer,
    TransferCode,
    WorkCredit,
)
from accounting.split import fee_bps_checked, fee_units, split_largest_remainder

__all__ = [
    "Credit",
    "PostStatus",
    "RewardPosting",
    "account_balance",
    "audit",
    "balances",
    "credit_work",
    "credit_work_many",
    "post_reward",
    "pplns_weights",
    "work_units_by_contributor",
]


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
    #: PPLNS only: the window N in work units.
    window_units: int | None = None


# --------------------------------------------------------------------------- rewards


def post_reward(
    session: Session,
    *,
    reward_id: str,
    job_ref: str,
    amount_units: int,
    fee_bps: int,
    scheme: RewardScheme | str = RewardScheme.PROP,
    pplns_window_units: int | None = None,
) -> RewardPosting:
    """Post a reward for a job and split it by PROP or PPLNS.

    Transfers, all debiting ``pool_income``: the fee ⌊R·f/10000⌋ to
    ``operator_fee`` (id ``"<reward_id>:fee"``, skipped when 0); each nonzero
    share of the rest, split with the largest remainder method, to the
    contributor's account (``"<reward_id>:share:<contributor_id>"``); when there
    is no work to split by, the rest to ``held`` (``"<reward_id>:held"``).

    The weights: PROP (``scheme="prop"``, the default) — the job's own work
    credits; PPLNS (``scheme="pplns"``) — the last ``pplns_window_units`` work
    units credited before the reward (any job, newest ``seq`` first; the oldest
    credit in the window counts only in part, so exactly N units are counted, or
    all of them if fewer exist).

    Same ``reward_id`` with the same contents → ``status="exists"``, nothing
    changes, and the figures are read back from the ledger. Different contents →
    :class:`ConflictError`. ``amount_units`` must be a positive integer,
    ``fee_bps`` an integer in ``[0, 10000]``, ``pplns_window_units`` a positive
    integer for PPLNS and ``None`` for PROP.

    Transaction: writes in a savepoint of the caller's transaction (undone on any
    error) and does **not** commit; the caller commits. The accounts it moves stay
    row-locked until then.
    """
    reward_id = _check_ref(reward_id, "reward_id")
    job_ref = _check_ref(job_ref, "job_ref")
    amount = _check_positive_units(amount_units)
    bps = fee_bps_checked(fee_bps)
    kind, window = _check_scheme(scheme, pplns_window_units)
    wanted: dict[str, object] = {
        "job_ref": job_ref,
        "amount_units": amount,
        "fee_bps": bps,
        "scheme": kind,
        "window_units": window,
    }
    try:
        with _atomic(session):
            return _post_reward(session, reward_id, wanted)
    except IntegrityError:
        # Most likely a concurrent post of the same reward_id won the race (its
        # transaction committed while our insert waited): answer as the second post.
        stored = session.get(Reward, reward_id)
        if stored is None:
            raise
        _require_same("reward", reward_id, _reward_contents(stored), wanted)
        return _posting_from_ledger(session, stored)


def _check_scheme(scheme: object, window: object) -> tuple[RewardScheme, int | None]:
    try:
        kind = RewardScheme(scheme)
    except ValueError:
        raise InvalidInputError(f"unknown reward scheme {scheme!r}", field="scheme") from None
    if kind == RewardScheme.PROP:
        if window is not None:
            raise InvalidInputError(
                "pplns_window_units applies to the pplns scheme only", field="pplns_window_units"
            )
        return kind, None
    if isinstance(window, bool) or not isinstance(window, int) or not 0 < window <= _INT64_MAX:
        raise InvalidAmountError(
            f"pplns_window_units must be an integer in [1, 2^63), got {window!r}",
            field="pplns_window_units",
        )
    return kind, int(window)


def _reward_contents(reward: Reward) -> dict[str, object]:
    return {
        "job_ref": reward.job_ref,
        "amount_units": reward.amount_units,
        "fee_bps": reward.fee_bps,
        "scheme": RewardScheme(reward.scheme),
        "window_units": reward.window_units,
    }


def pplns_weights(
    session: Session, window_units: int, *, up_to_seq: int | None = None
) -> dict[int, int]:
    """The last ``window_units`` work units credited (up to ``seq`` ``up_to_seq``), per contributor.

    Credits are taken newest first (by ``seq``); the one that crosses the window's
    edge counts only the units still inside it, so the weights sum to
    ``window_units`` exactly (or to all credited units, if fewer exist).
    """
    remaining = window_units
    weights: dict[int, int] = {}
    stmt = select(WorkCredit.contributor_id, WorkCredit.work_units).order_by(WorkCredit.seq.desc())
    if up_to_seq is not None:
        stmt = stmt.where(WorkCredit.seq <= up_to_seq)
    result = session.execute(stmt.execution_options(yield_per=1000))
    try:
        for contributor_id, units in result:
            take = min(remaining, int(units))
            weights[int(contributor_id)] = weights.get(int(contributor_id), 0) + take
            remaining -= take
            if not remaining:
                break
    finally:
        result.close()
    return dict(sorted(weights.items()))


def _post_reward(session: Session, reward_id: str, wanted: Mapping[str, object]) -> RewardPosting:
    stored = session.get(Reward, reward_id)
    if stored is not None:
        _require_same("reward", reward_id, _reward_contents(stored), wanted)
        return _posting_from_ledger(session, stored)
    job_ref, amount, bps = str(wanted["job_ref"]), int(wanted["amount_units"]), wanted["fee_bps"]
    scheme, window = RewardScheme(wanted["scheme"]), wanted["window_units"]

    # Claim the idempotency key first: a concurrent post of the same id blocks
    # here until this transaction ends, then fails with IntegrityError (and on
    # SQLite this takes the write lock, so the credits read below are current).
    # PPLNS counts back from the newest credit at this moment; the bound is
    # stored with the reward, so the window can be re-derived by anyone.
    last_seq = (
        session.scalar(select(func.max(WorkCredit.seq))) if scheme == RewardScheme.PPLNS else None
    )
    session.add(Reward(id=reward_id, last_credit_seq=last_seq, **wanted))
    session.flush()
    if scheme == RewardScheme.PPLNS:
        weights = pplns_weights(session, int(window), up_to_seq=last_seq)
    else:
        weights = work_units_by_contributor(session, job_ref)
    fee = fee_units(amount, bps)
    rest = amount - fee
    shares = split_largest_remainder(rest, weights) if weights else {}
    held = 0 if weights else rest

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
    if held:
        legs.append(
            _Leg(
                f"{reward_id}:held", pool, (AccountKind.HELD, None), held, TransferCode.REWARD_HELD
            )
        )
    # The nonzero shares, one transfer each: "<reward_id>:share:<contributor_id>".
    paid = {cid: units for cid, units in shares.items() if units}
    fanout = _Fanout(
        f"{reward_id}:share:", pool, AccountKind.CONTRIBUTOR, paid, TransferCode.REWARD_SHARE
    )
    _apply_transfers(session, legs, job_ref=job_ref, reward_id=reward_id, fanouts=[fanout])
    return RewardPosting(
        reward_id=reward_id,
        job_ref=job_ref,
        status="created",
        amount_units=amount,
        fee_bps=bps,
        fee_units=fee,
        shares=paid,
        held_units=held,
        scheme=scheme,
        window_units=window,
    )


def _posting_from_ledger(session: Session, reward: Reward) -> RewardPosting:
    fee = held = 0
    shares: dict[int, int] = {}
    # Every transfer of a reward debits pool_income: the (debit, reward) index finds them.
    rows = _fetch_rows(
        session,
        "SELECT transfer.code, transfer.amount_units, account.contributor_id FROM transfer"
        " JOIN account ON account.id = transfer.credit_account_id"
        " WHERE transfer.debit_account_id = (SELECT id FROM account"
        " WHERE kind = ? AND contributor_id IS NULL) AND transfer.reward_id = ?",
        (AccountKind.POOL_INCOME.value, reward.id),
    )
    if rows is None:  # pragma: no cover - dialects other than PostgreSQL and SQLite
        pool = (
            select(Account.id)
            .where(_accounts_where([(AccountKind.POOL_INCOME, None)]))
            .scalar_subquery()
        )
        rows = list(
            session.execute(
                select(Transfer.code, Transfer.amount_units, Account.contributor_id)
                .join(Account, Account.id == Transfer.credit_account_id)
                .where(Transfer.debit_account_id == pool, Transfer.reward_id == reward.id)
            )
        )
    for code, stored_amount, contributor_id in rows:
        amount = int(stored_amount)
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
        window_units=reward.window_units,
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
    if job_ref is not None:
        job_ref = _check_ref(job_ref, "job_ref")
    where, params = ("WHERE job_ref = ?", (job_ref,)) if job_ref is not None else ("", ())
    if session.get_bind().dialect.name == "postgresql":
        # Two comma-joined lists instead of a row per contributor (see _pg_int_columns);
        # sorted here, as the aggregate promises no order.
        cids, totals = _pg_int_columns(
            session,
            "SELECT string_agg(contributor_id::text, ','), string_agg(total::text, ',')"
            " FROM (SELECT contributor_id, SUM(work_units) AS total FROM work_credit"
            f" {where.replace('?', '%s')} GROUP BY contributor_id) AS per_contributor",
            params,
            2,
        )
        return dict(sorted(zip(cids, totals, strict=True)))
    rows = _fetch_rows(
        session,
        f"SELECT contributor_id, SUM(work_units) FROM work_credit {where}"
        " GROUP BY contributor_id ORDER BY contributor_id",
        params,
    )
    if rows is None:  # pragma: no cover - dialects other than PostgreSQL and SQLite
        stmt = select(WorkCredit.contributor_id, func.sum(WorkCredit.work_units)).group_by(
            WorkCredit.contributor_id
        )
        if job_ref is not None:
            stmt = stmt.where(WorkCredit.job_ref == job_ref)
        rows = list(session.execute(stmt.order_by(WorkCredit.contributor_id)))
    # SUM(BIGINT) is NUMERIC on PostgreSQL: int() of that Decimal is exact.
    return {int(cid): int(total) for cid, total in rows}


def account_balance(
    session: Session, kind: AccountKind | str, contributor_id: int | None = None
) -> int:
    """The balance of one account (0 if it does not exist yet)."""
    account_kind, cid = _account_key(kind, contributor_id)
    units = session.scalar(
        select(Account.balance_units).where(_accounts_where([(account_kind, cid)]))
    )
    return 0 if units is None else int(units)

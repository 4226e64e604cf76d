"""The ledger's audit: re-derive everything from the immutable records and compare.

:func:`audit` returns one line per violation, ``[]`` for a healthy ledger. All
sums are taken over Python ints (exact on every dialect; :class:`~accounting.types.Units`
columns are never summed in SQL).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import select
from sqlmodel import Session

from accounting._core import NON_NEGATIVE_KINDS
from accounting.models import (
    Account,
    AccountKind,
    HeldRelease,
    Penalty,
    Reward,
    Transfer,
    TransferCode,
    Withdrawal,
    WithdrawalStatus,
    WorkCredit,
)

#: Transfer codes that each belong to exactly one penalty, release or withdrawal record.
_RECORD_CODES = frozenset(
    {
        TransferCode.PENALTY,
        TransferCode.HELD_RELEASE,
        TransferCode.WITHDRAWAL,
        TransferCode.PAYOUT_PAID,
        TransferCode.PAYOUT_FAILED,
    }
)


def audit(session: Session) -> list[str]:
    """Check the ledger's invariants; return one line per violation (``[]`` = healthy).

    * conservation: the balances of all accounts sum to zero;
    * each account's materialised balance equals Σ credits − Σ debits of its transfers;
    * no account of a kind in ``NON_NEGATIVE_KINDS`` is negative (every kind but
      ``pool_income``);
    * every transfer is positive, between two distinct existing accounts;
    * no duplicate ids: one account per (kind, contributor), one transfer per id,
      one work credit per ``seq``, one release per reward;
    * every reward's transfers sum exactly to its amount (and none points at a missing reward);
    * every penalty, held release and withdrawal has exactly its transfers with its
      amount (``:penalty``, ``:release``, ``:withdrawal`` then ``:paid``/``:failed``
      as its status says), and no such transfer lacks its record;
    * ``held`` equals the held parts of the rewards not released, ``payout_pending``
      the withdrawals neither paid nor failed, ``penalties`` the sum of the penalties.
    """
    problems: list[str] = []
    accounts = {
        account_id: (AccountKind(kind), cid, int(units))
        for account_id, kind, cid, units in session.execute(
            select(Account.id, Account.kind, Account.contributor_id, Account.balance_units)
        )
    }
    for (kind, cid), n in sorted(Counter((k, c) for k, c, _ in accounts.values()).items(), key=str):
        if n > 1:
            problems.append(f"{n} accounts for ({kind.value}, {cid})")

    derived: dict[int, int] = defaultdict(int)
    allocated: dict[str, int] = defaultdict(int)
    held_by_reward: dict[str, int] = defaultdict(int)
    by_record: dict[str, tuple[TransferCode, int]] = {}
    transfer_ids: Counter[str] = Counter()
    for transfer_id, debit_id, credit_id, amount, code, reward_id in session.execute(
        select(
            Transfer.id,
            Transfer.debit_account_id,
            Transfer.credit_account_id,
            Transfer.amount_units,
            Transfer.code,
            Transfer.reward_id,
        ).order_by(Transfer.id)
    ):
        transfer_ids[transfer_id] += 1
        code = TransferCode(code)
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
            if code == TransferCode.REWARD_HELD:
                held_by_reward[reward_id] += amount
        if code in _RECORD_CODES:
            by_record[transfer_id] = (code, int(amount))
    problems.extend(
        f"transfer id {tid!r} appears {n} times" for tid, n in transfer_ids.items() if n > 1
    )

    total = sum(units for _, _, units in accounts.values())
    if total != 0:
        problems.append(f"account balances sum to {total}, not 0")
    system: dict[AccountKind, int] = defaultdict(int)
    for account_id in sorted(accounts):
        kind, cid, units = accounts[account_id]
        if cid is None:
            system[kind] += units
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

    seqs = Counter(session.scalars(select(WorkCredit.seq)).all())
    problems.extend(f"work credit seq {q} appears {n} times" for q, n in seqs.items() if n > 1)

    problems.extend(_check_records(session, by_record, held_by_reward, system))
    return problems


def _check_records(
    session: Session,
    by_record: dict[str, tuple[TransferCode, int]],
    held_by_reward: dict[str, int],
    system: dict[AccountKind, int],
) -> list[str]:
    problems: list[str] = []
    expected: dict[str, tuple[TransferCode, int]] = {}
    penalties = 0
    for pid, amount in session.execute(select(Penalty.id, Penalty.amount_units)):
        expected[f"{pid}:penalty"] = (TransferCode.PENALTY, int(amount))
        penalties += int(amount)

    released: Counter[str] = Counter()
    for rid, reward_id, amount in session.execute(
        select(HeldRelease.id, HeldRelease.reward_id, HeldRelease.amount_units)
    ):
        expected[f"{rid}:release"] = (TransferCode.HELD_RELEASE, int(amount))
        released[reward_id] += 1
        if held_by_reward.get(reward_id, 0) != amount:
            problems.append(
                f"release {rid!r}: amount {amount} != {held_by_reward.get(reward_id, 0)} "
                f"held by reward {reward_id!r}"
            )
    problems.extend(f"reward {r!r} released {n} times" for r, n in released.items() if n > 1)

    in_flight = 0
    for wid, amount, status, batch_id in session.execute(
        select(Withdrawal.id, Withdrawal.amount_units, Withdrawal.status, Withdrawal.batch_id)
    ):
        status = WithdrawalStatus(status)
        expected[f"{wid}:withdrawal"] = (TransferCode.WITHDRAWAL, int(amount))
        if status == WithdrawalStatus.PAID:
            expected[f"{wid}:paid"] = (TransferCode.PAYOUT_PAID, int(amount))
        elif status == WithdrawalStatus.FAILED:
            expected[f"{wid}:failed"] = (TransferCode.PAYOUT_FAILED, int(amount))
        else:
            in_flight += int(amount)
        if (batch_id is None) != (status == WithdrawalStatus.PENDING):
            problems.append(f"withdrawal {wid!r}: status {status.value} with batch {batch_id!r}")

    for tid in sorted(set(expected) | set(by_record)):
        want, got = expected.get(tid), by_record.get(tid)
        if want != got:
            problems.append(
                f"transfer {tid!r}: expected {_show(want)} from its record, found {_show(got)}"
            )

    unreleased = sum(units for r, units in held_by_reward.items() if r not in released)
    for kind, want in (
        (AccountKind.HELD, unreleased),
        (AccountKind.PAYOUT_PENDING, in_flight),
        (AccountKind.PENALTIES, penalties),
    ):
        if system.get(kind, 0) != want:
            problems.append(f"{kind.value} balance {system.get(kind, 0)} != {want} from records")
    return problems


def _show(item: tuple[TransferCode, int] | None) -> str:
    return "nothing" if item is None else f"{item[0].value} of {item[1]}"

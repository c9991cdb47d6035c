"""Reading the ledger: trial balance (now or as of a time), verify, transfers for exports.

Statements and an account's balance as of a time: ledger.statements.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, literal, select, tuple_, union
from sqlalchemy.orm import Session

from ledger.models import Account, Transfer, TransferStatus


@dataclass(frozen=True)
class TrialBalanceLine:
    account: str
    type: str
    currency: str
    debits: int
    credits: int

    @property
    def balance(self) -> int:
        return self.debits - self.credits

    def as_dict(self) -> dict[str, object]:
        return {
            "account": self.account,
            "type": self.type,
            "currency": self.currency,
            "debits": self.debits,
            "credits": self.credits,
            "balance": self.balance,
        }


@dataclass(frozen=True)
class Discrepancy:
    account: str
    field: str
    stored: int
    recomputed: int

    def __str__(self) -> str:
        return f"{self.account}: {self.field} is {self.stored}, transfers say {self.recomputed}"


def _posted_by(as_of: datetime | None) -> ColumnElement[bool]:
    condition = Transfer.status == TransferStatus.POSTED
    if as_of is not None:
        condition = and_(condition, Transfer.posted_at <= as_of)
    return condition


def _sums_by_account(session: Session, as_of: datetime | None) -> dict[int, tuple[int, int]]:
    """(debits, credits) posted per account id, optionally up to ``as_of``."""
    totals: dict[int, list[int]] = {}
    for side, column in ((0, Transfer.debit_account_id), (1, Transfer.credit_account_id)):
        rows = session.execute(
            select(column, func.sum(Transfer.amount)).where(_posted_by(as_of)).group_by(column)
        )
        for account_id, total in rows:
            totals.setdefault(account_id, [0, 0])[side] = int(total)
    return {account_id: (d, c) for account_id, (d, c) in totals.items()}


def trial_balance(session: Session, as_of: datetime | None = None) -> list[TrialBalanceLine]:
    """Every account's posted debits and credits, from the counters now or the transfers then."""
    all_accounts = session.scalars(select(Account).order_by(Account.currency, Account.code)).all()
    if as_of is None:
        return [
            TrialBalanceLine(a.code, a.type, a.currency, a.debits_posted, a.credits_posted)
            for a in all_accounts
        ]
    sums = _sums_by_account(session, as_of)
    return [
        TrialBalanceLine(a.code, a.type, a.currency, *sums.get(a.id, (0, 0))) for a in all_accounts
    ]


def _in_period(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    conditions = []
    if start is not None:
        conditions.append(Transfer.effective_at >= start)
    if end is not None:
        conditions.append(Transfer.effective_at <= end)
    return conditions


def verify(
    session: Session, *, start: datetime | None = None, end: datetime | None = None
) -> list[Discrepancy]:
    """Recompute every account's four counters from its transfers; list what disagrees.

    An empty list means the book is right: counters match the transfers, and since every
    transfer is one debit and one equal credit, the trial balance sums to zero per currency.
    With a period (``start`` / ``end`` on ``effective_at``), only the accounts a transfer of
    the period touches are checked, each over its whole history.
    """
    touched = None
    if start is not None or end is not None:
        period = _in_period(start, end)
        touched = union(
            select(Transfer.debit_account_id).where(*period),
            select(Transfer.credit_account_id).where(*period),
        ).subquery()
    recomputed: dict[int, dict[str, int]] = {}
    for status, sides in (
        (TransferStatus.POSTED, ("debits_posted", "credits_posted")),
        (TransferStatus.PENDING, ("debits_pending", "credits_pending")),
    ):
        for field, column in zip(
            sides, (Transfer.debit_account_id, Transfer.credit_account_id), strict=True
        ):
            query = select(column, func.sum(Transfer.amount)).where(Transfer.status == status)
            if touched is not None:
                query = query.where(column.in_(select(touched)))
            for account_id, total in session.execute(query.group_by(column)):
                recomputed.setdefault(account_id, {})[field] = int(total)
    problems = []
    fields = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
    accounts = select(Account).order_by(Account.id)
    if touched is not None:
        accounts = accounts.where(Account.id.in_(select(touched)))
    for account in session.scalars(accounts):
        sums = recomputed.get(account.id, {})
        for field in fields:
            stored, expected = getattr(account, field), sums.get(field, 0)
            if stored != expected:
                problems.append(Discrepancy(account.code, field, stored, expected))
    return problems


def transfers_in_order(
    session: Session,
    *,
    batch_size: int = 1000,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Iterator[Transfer]:
    """Every transfer by id, or those effective in a period by (effective_at, id), read in
    keyset batches so memory stays constant whatever the book's size (for exports)."""
    period = _in_period(start, end)
    if not period:
        last_id = 0
        while True:
            batch = session.scalars(
                select(Transfer)
                .where(Transfer.id > last_id)
                .order_by(Transfer.id)
                .limit(batch_size)
            ).all()
            if not batch:
                return
            yield from batch
            last_id = batch[-1].id
    after: tuple[datetime, int] | None = None
    while True:
        query = select(Transfer).where(*period)
        if after is not None:
            bound = tuple_(literal(after[0], Transfer.effective_at.type), literal(after[1]))
            query = query.where(tuple_(Transfer.effective_at, Transfer.id) > bound)
        batch = session.scalars(
            query.order_by(Transfer.effective_at, Transfer.id).limit(batch_size)
        ).all()
        if not batch:
            return
        yield from batch
        after = (batch[-1].effective_at, batch[-1].id)

"""The reconciliation's SQL: totals grouped in the database, and the items that differ.

Totals run over the whole history but return a handful of rows (GROUP BY currency and code,
or kind). Items are matched only over the period asked for (payments settled, payout lines
sent, cash transfers posted in it), each kind of difference read with a LIMIT and counted
apart, so a page's cost does not grow with the book: an old difference still shows in its
flow's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import aliased

import ledger
from ledger import TransferStatus
from marketplace.extensions import db
from marketplace.payments.models import Payment, PaymentStatus
from marketplace.payouts.models import LineStatus, PayoutLine

CASH = "asset:cash:stripe:"
Transfer, Account = ledger.Transfer, ledger.Account


def cash_ids() -> Select:
    return select(Account.id).where(Account.code.startswith(CASH))


def on_cash(transfer: Any = Transfer) -> Any:
    ids = cash_ids()
    return or_(transfer.debit_account_id.in_(ids), transfer.credit_account_id.in_(ids))


def cash_accounts() -> list[tuple[str, int]]:
    """(currency, posted balance) of each cash account."""
    rows = db.session.execute(
        select(Account.currency, Account.debits_posted - Account.credits_posted).where(
            Account.code.startswith(CASH)
        )
    )
    return [(currency, int(balance)) for currency, balance in rows]


@dataclass(frozen=True)
class BookTotal:
    currency: str
    code: str
    status: str
    money_in: bool  # debits the cash account
    reversed: bool
    amount: int
    count: int


def book_totals() -> list[BookTotal]:
    """The cash account's transfers summed per currency, code, status, side and whether a
    reversal undid them: one grouped statement."""
    debit = aliased(Account)
    reversal = aliased(Transfer)
    money_in = case((debit.id.is_(None), False), else_=True)
    undone = case((reversal.id.is_(None), False), else_=True)
    key = (Transfer.currency, Transfer.code, Transfer.status, money_in, undone)
    rows = db.session.execute(
        select(*key, func.sum(Transfer.amount), func.count())
        .outerjoin(debit, and_(debit.id == Transfer.debit_account_id, debit.code.startswith(CASH)))
        .outerjoin(reversal, reversal.reverses_id == Transfer.id)
        .where(on_cash())
        .group_by(*key)
    )
    return [
        BookTotal(currency, code, status, bool(inward), bool(undone), int(amount), count)
        for currency, code, status, inward, undone, amount, count in rows
    ]


def settled_payment_totals() -> list[tuple[str, str, int]]:
    """(currency, kind, amount) of the settled payments."""
    rows = db.session.execute(
        select(Payment.currency, Payment.kind, func.sum(Payment.amount))
        .where(Payment.status == PaymentStatus.SETTLED)
        .group_by(Payment.currency, Payment.kind)
    )
    return [(currency, kind, int(amount)) for currency, kind, amount in rows]


def paid_line_totals() -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(PayoutLine.currency, func.sum(PayoutLine.amount))
        .where(PayoutLine.status == LineStatus.PAID)
        .group_by(PayoutLine.currency)
    )
    return [(currency, int(amount)) for currency, amount in rows]


def _matching(transfer: Any, codes: list[str]) -> Any:
    """A cash transfer that records a flow: posted, a flow's code, not reversed."""
    reversal = aliased(Transfer)
    undone = select(reversal.id).where(reversal.reverses_id == transfer.id).exists()
    return and_(transfer.status == TransferStatus.POSTED, transfer.code.in_(codes), ~undone)


@dataclass(frozen=True)
class Item:
    """A payment or payout line of the period and the cash transfer that should record it."""

    id: int
    kind: str
    provider: str
    currency: str
    amount: int
    external: str | None
    transfer_id: int | None
    transfer_status: str | None
    transfer_amount: int | None
    transfer_currency: str | None
    reversed: bool
    matches: bool  # the transfer records a flow (posted, not reversed, a flow's code)


Counts = dict[str, int]


def count_by_currency(query: Select) -> Counts:
    """How many rows ``query`` has per currency (its ``currency`` column)."""
    listed = query.order_by(None).subquery()
    rows = db.session.execute(select(listed.c.currency, func.count()).group_by(listed.c.currency))
    return {currency: count for currency, count in rows}


def _items(query: Select, limit: int) -> tuple[Counts, list[Item]]:
    counts = count_by_currency(query)
    rows = db.session.execute(query.limit(limit)).all() if counts else []
    return counts, [Item(*row) for row in rows]


def _transfer_columns(transfer: Any, codes: list[str]) -> tuple:
    reversal = aliased(Transfer)
    undone = select(reversal.id).where(reversal.reverses_id == transfer.id).exists()
    matches = and_(transfer.id.is_not(None), _matching(transfer, codes))
    return (
        transfer.id.label("transfer_id"),
        transfer.status.label("transfer_status"),
        transfer.amount.label("transfer_amount"),
        transfer.currency.label("transfer_currency"),
        case((undone, True), else_=False).label("reversed"),
        case((matches, True), else_=False).label("matches"),
    )


def payment_items(
    start: datetime, end: datetime, codes: list[str], *, differing: bool, limit: int
) -> tuple[Counts, list[Item]]:
    """Settled payments of the period whose cash transfer (key ``payment:<id>``) is missing or
    does not record a flow (``differing=False``), or records another amount (``True``)."""
    transfer = aliased(Transfer)
    key = literal("payment:") + cast(Payment.id, String)
    matches = and_(transfer.id.is_not(None), _matching(transfer, codes))
    condition = and_(matches, transfer.amount != Payment.amount) if differing else ~matches
    query = (
        select(
            Payment.id,
            Payment.kind,
            Payment.provider,
            Payment.currency.label("currency"),
            Payment.amount,
            literal(None, String),
            *_transfer_columns(transfer, codes),
        )  # fmt: skip
        .outerjoin(transfer, and_(transfer.key == key, on_cash(transfer)))
        .where(
            Payment.status == PaymentStatus.SETTLED,
            Payment.settled_at.between(start, end),
            condition,
        )
        .order_by(Payment.id)
    )
    return _items(query, limit)


def line_items(
    start: datetime, end: datetime, codes: list[str], *, differing: bool, limit: int
) -> tuple[Counts, list[Item]]:
    """Paid payout lines of the period whose transfer does not record a flow, or records
    another amount."""
    transfer = aliased(Transfer)
    matches = and_(transfer.id.is_not(None), _matching(transfer, codes))
    condition = and_(matches, transfer.amount != PayoutLine.amount) if differing else ~matches
    sent = func.coalesce(PayoutLine.sent_at, PayoutLine.resolved_at)
    query = (
        select(
            PayoutLine.id,
            literal("payout"),
            literal(""),
            PayoutLine.currency.label("currency"),
            PayoutLine.amount,
            PayoutLine.provider_transfer_id,
            *_transfer_columns(transfer, codes),
        )  # fmt: skip
        .outerjoin(transfer, and_(transfer.id == PayoutLine.transfer_id, on_cash(transfer)))
        .where(
            PayoutLine.status == LineStatus.PAID,
            or_(sent.between(start, end), sent.is_(None)),  # no time: always checked
            condition,
        )
        .order_by(PayoutLine.id)
    )
    return _items(query, limit)


def unmatched_transfers(
    start: datetime, end: datetime, codes: list[str], *, limit: int
) -> tuple[Counts, list[ledger.Transfer]]:
    """Cash transfers posted in the period that record a flow, but that no settled payment
    (by key) and no paid payout line (by transfer) matches."""
    key = literal("payment:") + cast(Payment.id, String)
    by_payment = select(Payment.id).where(
        Payment.status == PaymentStatus.SETTLED, key == Transfer.key
    )
    by_line = select(PayoutLine.id).where(
        PayoutLine.status == LineStatus.PAID, PayoutLine.transfer_id == Transfer.id
    )
    query = (
        select(Transfer)
        .where(
            Transfer.posted_at.between(start, end),
            on_cash(),
            _matching(Transfer, codes),
            ~by_payment.exists(),
            ~by_line.exists(),
        )
        .order_by(Transfer.id)
    )
    counts = count_by_currency(query)
    found = list(db.session.scalars(query.limit(limit))) if counts else []
    return counts, found

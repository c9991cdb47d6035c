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


def on_cash(cash: list[int], transfer: Any = Transfer) -> Any:
    """``transfer`` moves a cash account (``cash``: their ids, read once per request, so the
    planner sees constants rather than a LIKE over every account)."""
    return or_(transfer.debit_account_id.in_(cash), transfer.credit_account_id.in_(cash))


def cash_accounts() -> list[tuple[int, str, int]]:
    """(id, currency, posted balance) of each cash account."""
    rows = db.session.execute(
        select(Account.id, Account.currency, Account.debits_posted - Account.credits_posted)
        .where(Account.code.startswith(CASH))
        .order_by(Account.id)
    )
    return [(account, currency, int(balance)) for account, currency, balance in rows]


@dataclass(frozen=True)
class BookTotal:
    currency: str
    code: str
    status: str
    money_in: bool  # debits the cash account
    reversed: bool
    amount: int
    count: int


def book_totals(cash: list[int]) -> list[BookTotal]:
    """The cash account's transfers summed per currency, code, status, side and whether a
    reversal undid them: one grouped statement."""
    reversal = aliased(Transfer)
    money_in = case((Transfer.debit_account_id.in_(cash), True), else_=False)
    undone = case((reversal.id.is_(None), False), else_=True)
    key = (Transfer.currency, Transfer.code, Transfer.status, money_in, undone)
    rows = db.session.execute(
        select(*key, func.sum(Transfer.amount), func.count())
        .outerjoin(reversal, reversal.reverses_id == Transfer.id)
        .where(on_cash(cash))
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
#: The two ways an item differs: no transfer that records a flow, or one for another amount.
MISSING, DIFFERING = "missing", "differing"


def _ranked(query: Select, currency: Any, kind: Any, order: Any) -> Any:
    """``query`` with, per row: how many rows share its currency and kind (``n``), its place
    among its kind (``rank``) and among its currency and kind (``place``)."""
    return query.add_columns(
        kind.label("difference"),
        func.count().over(partition_by=(currency, kind)).label("n"),
        func.row_number().over(partition_by=kind, order_by=order).label("rank"),
        func.row_number().over(partition_by=(currency, kind), order_by=order).label("place"),
    ).subquery()


def _listed(ranked: Any, limit: int) -> Select:
    """The first ``limit`` rows of each kind, and the first row of each currency and kind
    (it carries that count): one statement reads the counts and the items together."""
    return (
        select(ranked)
        .where(or_(ranked.c.rank <= limit, ranked.c.place == 1))
        .order_by(ranked.c.difference, ranked.c.rank)
    )


def _split(rows: Any, limit: int, width: int) -> dict[str, tuple[Counts, list[Item]]]:
    found: dict[str, tuple[Counts, list[Item]]] = {MISSING: ({}, []), DIFFERING: ({}, [])}
    for row in rows:
        counts, items = found[row.difference]
        counts[row.currency] = row.n
        if row.rank <= limit:
            items.append(Item(*row[:width]))
    return found


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


def _difference(transfer: Any, amount: Any, codes: list[str]) -> Any:
    matches = and_(transfer.id.is_not(None), _matching(transfer, codes))
    return case((~matches, MISSING), (transfer.amount != amount, DIFFERING), else_=None)


def payment_items(
    start: datetime, end: datetime, codes: list[str], cash: list[int], *, limit: int
) -> dict[str, tuple[Counts, list[Item]]]:
    """Settled payments of the period whose cash transfer (key ``payment:<id>``) is missing or
    does not record a flow (``MISSING``), or records another amount (``DIFFERING``): per kind,
    the count per currency and the first ``limit`` items by id."""
    transfer = aliased(Transfer)
    key = literal("payment:") + cast(Payment.id, String)
    difference = _difference(transfer, Payment.amount, codes)
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
        .outerjoin(transfer, and_(transfer.key == key, on_cash(cash, transfer)))
        .where(
            Payment.status == PaymentStatus.SETTLED,
            Payment.settled_at.between(start, end),
            difference.is_not(None),
        )
    )
    ranked = _ranked(query, Payment.currency, difference, Payment.id)
    return _split(db.session.execute(_listed(ranked, limit)), limit, ITEM_WIDTH)


def line_items(
    start: datetime, end: datetime, codes: list[str], cash: list[int], *, limit: int
) -> dict[str, tuple[Counts, list[Item]]]:
    """Paid payout lines of the period whose transfer does not record a flow, or records
    another amount (as :func:`payment_items`)."""
    transfer = aliased(Transfer)
    difference = _difference(transfer, PayoutLine.amount, codes)
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
        .outerjoin(transfer, and_(transfer.id == PayoutLine.transfer_id, on_cash(cash, transfer)))
        .where(
            PayoutLine.status == LineStatus.PAID,
            or_(sent.between(start, end), sent.is_(None)),  # no time: always checked
            difference.is_not(None),
        )
    )
    ranked = _ranked(query, PayoutLine.currency, difference, PayoutLine.id)
    return _split(db.session.execute(_listed(ranked, limit)), limit, ITEM_WIDTH)


ITEM_WIDTH = 12  # Item's fields, the first columns of an item query


def unmatched_transfers(
    start: datetime, end: datetime, codes: list[str], cash: list[int], *, limit: int
) -> tuple[Counts, list[ledger.Transfer]]:
    """Cash transfers posted in the period that record a flow, but that no settled payment
    (by key) and no paid payout line (by transfer) matches: the count per currency and the
    first ``limit`` by id, in one statement."""
    key = literal("payment:") + cast(Payment.id, String)
    by_payment = select(Payment.id).where(
        Payment.status == PaymentStatus.SETTLED, key == Transfer.key
    )
    by_line = select(PayoutLine.id).where(
        PayoutLine.status == LineStatus.PAID, PayoutLine.transfer_id == Transfer.id
    )
    query = select(Transfer).where(
        Transfer.posted_at.between(start, end),
        on_cash(cash),
        _matching(Transfer, codes),
        ~by_payment.exists(),
        ~by_line.exists(),
    )
    ranked = _ranked(query, Transfer.currency, literal(MISSING), Transfer.id)
    row = aliased(Transfer, ranked)
    listed = (
        select(row, ranked.c.n, ranked.c.rank)
        .where(or_(ranked.c.rank <= limit, ranked.c.place == 1))
        .order_by(ranked.c.rank)
    )
    counts: Counts = {}
    found: list[ledger.Transfer] = []
    for transfer, n, rank in db.session.execute(listed):
        counts[transfer.currency] = n
        if rank <= limit:
            found.append(transfer)
    return counts, found

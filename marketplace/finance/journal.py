"""The journal browser: transfers newest first, filtered, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time

from sqlalchemy import ColumnElement, Select, or_, select, true
from sqlalchemy.orm import aliased

import ledger
from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.finance.access import Scope, finance_scope
from marketplace.pagination import KeysetPage, keyset_page

PER_PAGE = 50


@dataclass(frozen=True)
class JournalFilters:
    code: str | None = None
    #: An account code, matching that account and the accounts under it
    #: (``liability:escrow`` matches every escrow account).
    account: str | None = None
    reference: str | None = None
    start: date | None = None  # effective on or after this day (UTC)
    end: date | None = None  # effective on or before this day (UTC)


@dataclass(frozen=True)
class JournalRow:
    id: int
    journal_id: int
    journal_key: str
    description: str
    key: str
    code: str
    debit_account: str
    credit_account: str
    amount: int
    currency: str
    status: str
    reference: str
    reverses_id: int | None
    recorded_by: str
    effective_at: datetime
    recorded_at: datetime
    posted_at: datetime | None
    #: Whether the reader may open each side's statement: an organization's finance member
    #: sees its own accounts' transfers, whose other side (the platform's cash, a solver's
    #: payable) is named but not theirs to read.
    debit_visible: bool = True
    credit_visible: bool = True


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_end(day: date) -> datetime:
    """The last moment of a day (UTC): timestamps are kept to the microsecond."""
    return datetime.combine(day, time.max, tzinfo=UTC)


def _rows_query(scope: Scope) -> Select:
    debit, credit = aliased(ledger.Account), aliased(ledger.Account)
    return (
        select(
            ledger.Transfer,
            ledger.Journal.key,
            ledger.Journal.description,
            debit.code,
            credit.code,
            _readable(scope, debit),
            _readable(scope, credit),
        )
        .join(ledger.Journal, ledger.Journal.id == ledger.Transfer.journal_id)
        .join(debit, debit.id == ledger.Transfer.debit_account_id)
        .join(credit, credit.id == ledger.Transfer.credit_account_id)
    )


def _readable(scope: Scope, account: type[ledger.Account]) -> ColumnElement[bool]:
    if scope.everything:
        return true()
    return account.id.in_(scope.account_ids())


def _row(
    transfer: ledger.Transfer,
    key: str,
    description: str,
    dr: str,
    cr: str,
    dr_visible: bool,
    cr_visible: bool,
) -> JournalRow:
    t = transfer
    return JournalRow(
        id=t.id, journal_id=t.journal_id, journal_key=key, description=description, key=t.key,
        code=t.code, debit_account=dr, credit_account=cr, amount=t.amount, currency=t.currency,
        status=t.status, reference=t.reference, reverses_id=t.reverses_id,
        recorded_by=t.recorded_by, effective_at=t.effective_at, recorded_at=t.recorded_at,
        posted_at=t.posted_at, debit_visible=bool(dr_visible), credit_visible=bool(cr_visible),
    )  # fmt: skip


def _conditions(scope: Scope, filters: JournalFilters) -> list:
    conditions = [scope.transfer_condition()]
    if filters.code:
        conditions.append(ledger.Transfer.code == filters.code)
    if filters.reference:
        conditions.append(ledger.Transfer.reference == filters.reference)
    if filters.account:
        prefix = filters.account.rstrip(":")
        matching = select(ledger.Account.id).where(
            or_(
                ledger.Account.code == prefix,
                ledger.Account.code.startswith(prefix + ":", autoescape=True),
            )
        )
        conditions.append(
            or_(
                ledger.Transfer.debit_account_id.in_(matching),
                ledger.Transfer.credit_account_id.in_(matching),
            )
        )
    if filters.start:
        conditions.append(ledger.Transfer.effective_at >= day_start(filters.start))
    if filters.end:
        conditions.append(ledger.Transfer.effective_at <= day_end(filters.end))
    return conditions


def journal_page(
    actor: User, filters: JournalFilters, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[JournalRow]:
    """One page of the transfers ``actor`` may see, newest first by (effective_at, id), after
    ``cursor``; no count (the index on (effective_at, id) answers a page in the same time
    whatever the book's size)."""
    scope = finance_scope(actor)
    page = keyset_page(
        _rows_query(scope).where(*_conditions(scope, filters)),
        [ledger.Transfer.effective_at, ledger.Transfer.id],
        cursor=cursor,
        per_page=per_page,
        key=lambda row: (row[0].effective_at, row[0].id),
    )
    return replace(page, items=[_row(*row) for row in page.items])


def transfer_detail(actor: User, transfer_id: int) -> JournalRow:
    """One transfer ``actor`` may see; NotFound for any other (existing or not)."""
    scope = finance_scope(actor)
    row = db.session.execute(
        _rows_query(scope).where(ledger.Transfer.id == transfer_id, scope.transfer_condition())
    ).one_or_none()
    if row is None:
        raise NotFound(f"No transfer {transfer_id} that you may see.")
    return _row(*row)

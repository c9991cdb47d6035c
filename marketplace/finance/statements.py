"""Accounts, account statements with a running balance, and balances as of a date."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select

import ledger
from ledger.statements import balance_as_of as statement_balance_as_of
from marketplace.accounts.models import User
from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.finance.access import finance_scope, visible_account
from marketplace.finance.journal import day_end
from marketplace.pagination import (
    INVALID_CURSOR,
    PER_PAGE,
    KeysetPage,
    decode_cursor,
    encode_cursor,
    keyset_page,
)


@dataclass(frozen=True)
class AccountSummary:
    code: str
    name: str
    type: str
    currency: str
    balance: int  # posted, debits minus credits
    debits_pending: int
    credits_pending: int


def accounts(
    actor: User, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[AccountSummary]:
    """The accounts ``actor`` may see, by code, a keyset page at a time, with their balances."""
    scope = finance_scope(actor)
    page = keyset_page(
        select(ledger.Account).where(scope.account_condition()),
        [ledger.Account.code],
        cursor=cursor,
        per_page=per_page,
        descending=False,
        scalars=True,
    )
    summaries = [
        AccountSummary(
            a.code, a.name, a.type, a.currency, a.balance, a.debits_pending, a.credits_pending
        )
        for a in page.items
    ]
    return replace(page, items=summaries)


@dataclass(frozen=True)
class StatementLine:
    """One posted transfer as the account sees it, and the balance it left."""

    transfer_id: int
    journal_id: int
    code: str
    reference: str
    counterparty: str  # the other account's code
    debit: int
    credit: int
    balance: int  # posted, debits minus credits, right after this transfer
    effective_at: datetime
    posted_at: datetime
    written_at: datetime


@dataclass(frozen=True)
class StatementPage:
    """A page of an account's statement, newest first in the order of its writes."""

    account: ledger.Account
    lines: list[StatementLine]
    per_page: int
    next_cursor: str | None
    has_previous: bool

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def balance(self) -> int:
        """The account's posted balance now."""
        return self.account.balance


def account_statement(
    actor: User, code: str, cursor: str | None = None, per_page: int = PER_PAGE
) -> StatementPage:
    """A page of the posted transfers of one account, newest first, each with the running
    balance it recorded (read from the rows: never the whole history), after ``cursor``."""
    account = visible_account(finance_scope(actor), code)
    before = decode_cursor(cursor, 2) if cursor else None
    if before is not None and not all(isinstance(v, int) for v in before):
        raise Invalid(INVALID_CURSOR, {"cursor": [INVALID_CURSOR]})
    rows = ledger.statement_page(db.session, account.id, before=before, limit=per_page + 1)
    more, rows = len(rows) > per_page, rows[:per_page]
    others = {row.counterparty_id for row in rows}
    codes = dict(
        db.session.execute(
            select(ledger.Account.id, ledger.Account.code).where(ledger.Account.id.in_(others))
        ).all()
    ) if others else {}  # fmt: skip
    lines = [
        StatementLine(
            row.transfer_id,
            row.journal_id,
            row.code,
            row.reference,
            codes.get(row.counterparty_id, ""),
            row.debit,
            row.credit,
            row.balance,
            row.effective_at,
            row.posted_at,
            row.written_at,
        )  # fmt: skip
        for row in rows
    ]
    next_cursor = encode_cursor(rows[-1].key) if more else None
    return StatementPage(account, lines, per_page, next_cursor, has_previous=bool(cursor))


@dataclass(frozen=True)
class BalanceAsOf:
    account: str
    currency: str
    as_of: date
    balance: int


def balance_as_of(actor: User, code: str, as_of: date) -> BalanceAsOf:
    """The posted balance of one account as the book stood at the end of a day (UTC): after
    the last write to it by then (one indexed lookup; see ledger.statements)."""
    account = visible_account(finance_scope(actor), code)
    balance = statement_balance_as_of(db.session, account.id, day_end(as_of))
    return BalanceAsOf(account.code, account.currency, as_of, balance)

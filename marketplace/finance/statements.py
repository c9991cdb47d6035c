"""Accounts, account statements with a running balance, and balances as of a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import ledger
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.finance.access import finance_scope, visible_account, visible_accounts
from marketplace.finance.journal import day_end, day_start


@dataclass(frozen=True)
class AccountSummary:
    code: str
    name: str
    type: str
    currency: str
    balance: int  # posted, debits minus credits
    debits_pending: int
    credits_pending: int


def accounts(actor: User) -> list[AccountSummary]:
    """The accounts ``actor`` may see, with their balances now."""
    return [
        AccountSummary(
            a.code, a.name, a.type, a.currency, a.balance, a.debits_pending, a.credits_pending
        )
        for a in visible_accounts(finance_scope(actor))
    ]


def account_statement(
    actor: User, code: str, start: date | None = None, end: date | None = None
) -> ledger.Statement:
    """Posted transfers of one account between two days (inclusive, UTC), in posting order,
    each with the balance after it; the opening balance is the balance before ``start``."""
    account = visible_account(finance_scope(actor), code)
    return ledger.statement(
        db.session,
        account.id,
        start=day_start(start) - timedelta(microseconds=1) if start and start > date.min else None,
        end=day_end(end) if end else None,
    )


@dataclass(frozen=True)
class BalanceAsOf:
    account: str
    currency: str
    as_of: date
    balance: int


def balance_as_of(actor: User, code: str, as_of: date) -> BalanceAsOf:
    """The posted balance of one account at the end of a day (UTC)."""
    account = visible_account(finance_scope(actor), code)
    balance = ledger.balance_as_of(db.session, account.id, day_end(as_of))
    return BalanceAsOf(account.code, account.currency, as_of, balance)

"""Ledger fixtures: plain SQLAlchemy, no Flask."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

import ledger
from ledger import Account, AccountType


class Book:
    """A handful of accounts in one currency, and shortcuts to post between them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cash = ledger.open_account(session, "asset:cash:test", AccountType.ASSET, "USD")
        self.escrow = ledger.open_account(
            session,
            "liability:escrow:test",
            AccountType.LIABILITY,
            "USD",
            debits_must_not_exceed_credits=True,
        )
        self.payable = ledger.open_account(
            session,
            "liability:payable:test",
            AccountType.LIABILITY,
            "USD",
            debits_must_not_exceed_credits=True,
        )
        self.fees = ledger.open_account(session, "revenue:fees:test", AccountType.REVENUE, "USD")
        self.euros = ledger.open_account(session, "asset:cash:eur", AccountType.ASSET, "EUR")
        self._keys = 0

    def key(self) -> str:
        self._keys += 1
        return f"test-key-{self._keys}"

    def move(self, debit: Account, credit: Account, amount: int, **options) -> ledger.PostedJournal:
        options.setdefault("key", self.key())
        options.setdefault("code", "TEST")
        options.setdefault("recorded_by", "tests")
        return ledger.post_transfer(
            self.session, debit=debit.id, credit=credit.id, amount=amount, **options
        )

    def fund(self, amount: int) -> ledger.PostedJournal:
        return self.move(self.cash, self.escrow, amount, code="FUND_ESCROW")

    def refresh(self, account: Account) -> Account:
        self.session.refresh(account)
        return account


@pytest.fixture
def book(session: Session) -> Book:
    return Book(session)

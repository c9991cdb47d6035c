"""Journals and account openings larger than a statement's parameter limit.

A value share among many contributors touches one payable per person in one journal. Locking
them with one bind parameter per account id would pass SQLite's 32,766 (and PostgreSQL's
65,535) parameters per statement; 40,000 accounts are more than SQLite allows. Debian builds
SQLite with a higher limit, so the SQLite run sets the limit of a default build.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

import ledger
from ledger import Account, AccountType, NewTransfer, Transfer

MANY = 40_000
SQLITE_DEFAULT_MAX_VARIABLES = 32_766


@pytest.fixture
def default_sqlite_limit(session) -> Iterator[None]:
    """On SQLite, allow only as many parameters per statement as a default build does."""
    raw = session.connection().connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection):
        yield
        return
    before = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_DEFAULT_MAX_VARIABLES)
    try:
        yield
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)


def payable_codes(count: int) -> dict[str, str]:
    return {f"liability:payable:many:{n}": f"Owed to {n}" for n in range(count)}


def test_open_accounts_opens_many_at_once_and_keeps_existing_ones(session) -> None:
    first = ledger.open_account(
        session, "liability:payable:many:1", AccountType.LIABILITY, "USD",
        debits_must_not_exceed_credits=True,
    )  # fmt: skip
    opened = ledger.open_accounts(
        session, payable_codes(2_500), AccountType.LIABILITY, "USD",
        debits_must_not_exceed_credits=True,
    )  # fmt: skip
    assert list(opened) == list(payable_codes(2_500))  # in the order given
    assert opened["liability:payable:many:1"] == first.id
    assert len(set(opened.values())) == 2_500
    again = ledger.open_accounts(
        session, {"liability:payable:many:7": "", "liability:payable:many:2600": "new"},
        AccountType.LIABILITY, "USD", debits_must_not_exceed_credits=True,
    )  # fmt: skip
    assert again["liability:payable:many:7"] == opened["liability:payable:many:7"]
    new = session.get(Account, again["liability:payable:many:2600"])
    assert (new.name, new.type, new.debits_must_not_exceed_credits) == ("new", "liability", True)
    assert ledger.open_accounts(session, {}, AccountType.LIABILITY, "USD") == {}


def test_open_accounts_refuses_a_mismatch_and_bad_codes(session) -> None:
    ledger.open_account(session, "liability:payable:many:3", AccountType.LIABILITY, "USD")
    with pytest.raises(ledger.AccountConflict):
        ledger.open_accounts(
            session, payable_codes(5), AccountType.LIABILITY, "USD",
            debits_must_not_exceed_credits=True,
        )  # fmt: skip
    with pytest.raises(ledger.InvalidAccount):
        ledger.open_accounts(session, {"asset:cash:x": ""}, AccountType.LIABILITY, "USD")
    with pytest.raises(ledger.InvalidAccount):
        ledger.open_accounts(session, payable_codes(2), AccountType.LIABILITY, "usd")


def test_a_journal_can_touch_more_accounts_than_a_statement_has_parameters(
    session, default_sqlite_limit
) -> None:
    cash = ledger.open_account(session, "asset:cash:many", AccountType.ASSET, "USD")
    ids = list(
        ledger.open_accounts(
            session, payable_codes(MANY), AccountType.LIABILITY, "USD",
            debits_must_not_exceed_credits=True,
        ).values()
    )  # fmt: skip
    amounts = [1 + n % 97 for n in range(MANY)]
    batch = [
        NewTransfer(cash.id, account_id, amount, "VALUE_SHARE")
        for account_id, amount in zip(ids, amounts, strict=True)
    ]
    posted = ledger.post_journal(session, batch, key="many", recorded_by="tests")
    assert len(posted.transfer_ids) == MANY
    assert ledger.post_journal(session, batch, key="many", recorded_by="tests").replayed
    credits = dict(
        session.execute(
            select(Account.id, Account.credits_posted).where(Account.code.like("%:many:%"))
        ).all()
    )
    assert [credits[account_id] for account_id in ids] == amounts
    assert session.get(Account, cash.id).debits_posted == sum(amounts)
    first = session.get(Transfer, posted.transfer_ids[0])
    assert (first.credit_account_id, first.amount) == (ids[0], amounts[0])

    # Every payable is locked and checked: one overdrawn by a cent refuses the whole journal.
    back = [
        NewTransfer(account_id, cash.id, amount + (n == MANY - 1), "PAYOUT", pending=True)
        for n, (account_id, amount) in enumerate(zip(ids, amounts, strict=True))
    ]
    with pytest.raises(ledger.InsufficientFunds):
        ledger.post_journal(session, back, key="too-much", recorded_by="tests")
    assert session.scalar(select(func.count(Transfer.id))) == MANY

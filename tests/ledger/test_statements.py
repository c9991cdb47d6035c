"""Statements and balances as of a time read the balances transfers recorded; a re-sum agrees.

The history mixes what could put recorded balances out of order: pending transfers posted
after later transfers, pending transfers voided, reversals, and journals that touch one
account twice. On both databases (one statement per page; one per balance).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import or_, select

import ledger
from ledger import NewTransfer, Transfer, TransferStatus
from ledger.statements import StatementRow, balance_as_of, statement_page
from tests.ledger.conftest import Book


def a_busy_history(book: Book, seed: int = 0) -> None:
    """Funding, pending transfers posted or voided late, reversals, two-leg journals."""
    rng = random.Random(seed)
    book.fund(100_000)
    pending = []
    posted = []
    for _ in range(40):
        choice = rng.random()
        amount = rng.randint(1, 500)
        if choice < 0.25:
            pending.append(book.move(book.escrow, book.payable, amount, pending=True).transfer_id)
        elif choice < 0.4 and pending:
            resolve = ledger.post_pending if rng.random() < 0.6 else ledger.void_pending
            resolve(book.session, pending.pop(rng.randrange(len(pending))))
        elif choice < 0.5 and posted:
            reversed_id = posted.pop(rng.randrange(len(posted)))
            ledger.reverse_transfer(book.session, reversed_id, key=book.key(), recorded_by="t")
        elif choice < 0.7:
            ledger.post_journal(
                book.session,
                [
                    NewTransfer(book.escrow.id, book.payable.id, amount, "AWARD"),
                    NewTransfer(book.escrow.id, book.fees.id, amount // 10 + 1, "FEE"),
                    NewTransfer(book.payable.id, book.escrow.id, amount // 2 + 1, "BACK"),
                    NewTransfer(book.escrow.id, book.payable.id, 7, "HOLD", pending=True),
                ],
                key=book.key(),
                recorded_by="t",
            )
        else:
            posted.append(book.move(book.escrow, book.fees, amount, code="FEE").transfer_id)
    for n, transfer_id in enumerate(pending):
        (ledger.post_pending if n % 2 else ledger.void_pending)(book.session, transfer_id)


def whole_statement(book: Book, account_id: int, limit: int) -> list[StatementRow]:
    rows: list[StatementRow] = []
    before = None
    while True:
        page = statement_page(book.session, account_id, before=before, limit=limit)
        assert len(page) <= limit
        rows += page
        if len(page) < limit:
            return rows
        before = page[-1].key


def touching(book: Book, account_id: int) -> list[Transfer]:
    return list(
        book.session.scalars(
            select(Transfer).where(
                or_(
                    Transfer.debit_account_id == account_id,
                    Transfer.credit_account_id == account_id,
                )
            )
        )
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("limit", [1, 3, 50])
def test_the_running_balance_equals_a_re_sum_at_every_row(book, seed, limit) -> None:
    a_busy_history(book, seed)
    for account in (book.cash, book.escrow, book.payable, book.fees):
        rows = whole_statement(book, account.id, limit)
        keys = [row.key for row in rows]
        assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)
        running = 0
        for row in reversed(rows):
            running += row.debit - row.credit
            assert row.balance == running, row
        assert running == book.refresh(account).balance
        posted = {t.id for t in touching(book, account.id) if t.status == TransferStatus.POSTED}
        assert {row.transfer_id for row in rows} == posted


def test_a_pending_transfer_posted_late_takes_its_place_at_its_posting(book) -> None:
    book.fund(1_000)
    pending = book.move(book.escrow, book.payable, 700, pending=True)
    fee = book.move(book.escrow, book.fees, 100, code="FEE")
    ledger.post_pending(book.session, pending.transfer_id)
    rows = statement_page(book.session, book.escrow.id, limit=10)
    assert [(row.transfer_id, row.debit, row.balance) for row in rows] == [
        (pending.transfer_id, 700, -200),
        (fee.transfer_id, 100, -900),
        (rows[-1].transfer_id, 0, -1_000),
    ]
    assert (rows[-1].credit, rows[0].counterparty_id) == (1_000, book.payable.id)


def test_keyset_boundaries(book) -> None:
    book.fund(1_000)
    for _ in range(4):
        book.move(book.escrow, book.fees, 10, code="FEE")
    every = statement_page(book.session, book.escrow.id, limit=100)
    assert len(every) == 5
    assert statement_page(book.session, book.escrow.id, limit=5) == every
    assert statement_page(book.session, book.escrow.id, limit=6) == every
    assert statement_page(book.session, book.escrow.id, limit=4) == every[:4]
    after_four = statement_page(book.session, book.escrow.id, before=every[3].key, limit=4)
    assert after_four == every[4:]
    assert statement_page(book.session, book.escrow.id, before=every[4].key, limit=4) == []
    assert statement_page(book.session, book.escrow.id, limit=0) == []
    assert statement_page(book.session, book.payable.id, limit=10) == []


def test_unknown_accounts_are_refused(book) -> None:
    with pytest.raises(ledger.AccountNotFound):
        statement_page(book.session, 987_654, limit=10)
    with pytest.raises(ledger.AccountNotFound):
        balance_as_of(book.session, 987_654, datetime.now(UTC))


@pytest.mark.parametrize("seed", [0, 3])
def test_balance_as_of_equals_a_re_sum_of_what_was_written_by_then(book, seed) -> None:
    a_busy_history(book, seed)
    for account in (book.escrow, book.payable, book.fees):
        rows = touching(book, account.id)
        moments = sorted({t.written_at for t in rows})
        for at in moments[:: max(1, len(moments) // 15)] + moments[-1:]:
            expected = sum(
                (t.amount if t.debit_account_id == account.id else -t.amount)
                for t in rows
                if t.status == TransferStatus.POSTED and t.written_at <= at
            )
            assert balance_as_of(book.session, account.id, at) == expected
        first = moments[0] - timedelta(microseconds=1)
        assert balance_as_of(book.session, account.id, first) == 0
        later = moments[-1] + timedelta(days=1)
        assert balance_as_of(book.session, account.id, later) == book.refresh(account).balance


def test_balance_as_of_is_by_the_moment_of_writing_not_the_effective_date(book) -> None:
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    before = datetime.now(UTC) - timedelta(seconds=1)
    book.move(book.cash, book.escrow, 500, code="FUND_ESCROW", effective_at=long_ago)
    assert balance_as_of(book.session, book.escrow.id, long_ago + timedelta(days=1)) == 0
    assert balance_as_of(book.session, book.escrow.id, before) == 0
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert balance_as_of(book.session, book.escrow.id, later) == -500


def test_written_versions_rise_with_each_write_of_the_account(book) -> None:
    book.fund(1_000)
    pending = book.move(book.escrow, book.payable, 300, pending=True)
    book.move(book.escrow, book.fees, 100, code="FEE")
    ledger.post_pending(book.session, pending.transfer_id)
    escrow = book.refresh(book.escrow)
    rows = statement_page(book.session, escrow.id, limit=10)
    assert [row.version for row in rows] == [escrow.version, escrow.version - 1, 1]
    moments = [row.written_at for row in rows]
    assert moments == sorted(moments, reverse=True)

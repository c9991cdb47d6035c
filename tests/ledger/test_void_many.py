"""Voiding many pending transfers at once writes what voiding them one by one would, or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import ledger
from ledger import Account, Transfer, TransferStatus
from tests.ledger.conftest import Book
from tests.ledger.test_statements import whole_statement


def _reserve(book: Book, count: int) -> list[int]:
    book.fund(10_000)
    ids = []
    for n in range(count):
        ids.append(book.move(book.escrow, book.payable, 10 + n, pending=True).transfer_id)
        book.move(book.escrow, book.fees, 1, code="FEE")  # posted writes between the holds
    return ids


def _state(book: Book, ids: list[int]) -> tuple:
    book.session.expire_all()
    rows = book.session.scalars(select(Transfer).where(Transfer.id.in_(ids)).order_by(Transfer.id))
    transfers = [
        (t.status, t.debit_balance_after, t.credit_balance_after, t.debit_version,
         t.credit_version, t.resolved_at)
        for t in rows
    ]  # fmt: skip
    accounts = [
        (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending, a.version)
        for a in book.session.scalars(select(Account).order_by(Account.id))
    ]
    return transfers, accounts


@pytest.mark.parametrize("count", [1, 7])
def test_the_same_writes_as_voiding_one_by_one(book, count) -> None:
    ids = _reserve(book, count)
    with book.session.begin_nested() as one_by_one:
        at = ledger.utcnow()
        for transfer_id in ids:
            ledger.void_pending(book.session, transfer_id, at=at)
        expected = _state(book, ids)
        one_by_one.rollback()
    ledger.void_pending_many(book.session, list(reversed(ids)), at=at)
    assert _state(book, ids) == expected
    assert all(status == TransferStatus.VOIDED for status, *_ in expected[0])
    assert ledger.verify(book.session) == []
    for account in (book.escrow, book.payable, book.cash, book.fees):
        rows = whole_statement(book, account.id, 3)
        running = 0
        for row in reversed(rows):
            running += row.debit - row.credit
            assert row.balance == running


def test_voided_ones_are_left_and_a_posted_one_refuses_all(book) -> None:
    ids = _reserve(book, 3)
    ledger.void_pending(book.session, ids[0])
    ledger.post_pending(book.session, ids[1])
    with pytest.raises(ledger.NotPending):
        ledger.void_pending_many(book.session, ids)
    book.session.rollback()


def test_an_unknown_id_refuses_all(book) -> None:
    ids = _reserve(book, 2)
    with pytest.raises(ledger.TransferNotFound):
        ledger.void_pending_many(book.session, [*ids, 2**62])
    with pytest.raises(ledger.TransferNotFound):
        ledger.void_pending_many(book.session, [ids[0], -1])


def test_voiding_again_changes_nothing(book) -> None:
    ids = _reserve(book, 2)
    ledger.void_pending_many(book.session, ids)
    before = _state(book, ids)
    ledger.void_pending_many(book.session, ids)
    assert _state(book, ids) == before

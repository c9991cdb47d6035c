"""A transfer's balances after are the accounts' posted balances right after its last write.

Recorded, posted or voided: whichever happened last, ``debit_balance_after`` and
``credit_balance_after`` equal the two accounts' ``balance`` at that moment (see
ledger.models.Transfer). A single transfer and a journal of several go through different
statements on PostgreSQL, so both are checked.
"""

from __future__ import annotations

import ledger
from ledger import NewTransfer, Transfer
from tests.ledger.conftest import Book


def balances_after(book: Book, transfer_id: int) -> tuple[int, int]:
    transfer = book.session.get_one(Transfer, transfer_id)
    book.session.refresh(transfer)
    return transfer.debit_balance_after, transfer.credit_balance_after


def balances_now(book: Book, transfer_id: int) -> tuple[int, int]:
    transfer = book.session.get_one(Transfer, transfer_id)
    debit = book.session.get_one(ledger.Account, transfer.debit_account_id)
    credit = book.session.get_one(ledger.Account, transfer.credit_account_id)
    return book.refresh(debit).balance, book.refresh(credit).balance


def test_a_pending_transfer_records_the_posted_balances_without_its_own_amount(book) -> None:
    book.fund(1_000)
    pending = book.move(book.escrow, book.payable, 700, pending=True)
    assert balances_after(book, pending.transfer_id) == (-1_000, 0)
    assert balances_after(book, pending.transfer_id) == balances_now(book, pending.transfer_id)


def test_posting_a_pending_transfer_records_the_balances_it_leaves(book) -> None:
    book.fund(1_000)
    pending = book.move(book.escrow, book.payable, 700, pending=True)
    book.move(book.escrow, book.fees, 100, code="FEE")  # moves escrow between record and post
    ledger.post_pending(book.session, pending.transfer_id)
    assert balances_after(book, pending.transfer_id) == (-200, -700)
    assert balances_after(book, pending.transfer_id) == balances_now(book, pending.transfer_id)
    ledger.post_pending(book.session, pending.transfer_id)  # a repeat changes nothing
    assert balances_after(book, pending.transfer_id) == (-200, -700)


def test_voiding_a_pending_transfer_records_the_balances_at_that_moment(book) -> None:
    book.fund(1_000)
    pending = book.move(book.escrow, book.payable, 700, pending=True)
    book.move(book.escrow, book.fees, 100, code="FEE")
    book.move(book.escrow, book.payable, 50, code="AWARD")  # both accounts move before the void
    ledger.void_pending(book.session, pending.transfer_id)
    assert balances_after(book, pending.transfer_id) == (-850, -50)
    assert balances_after(book, pending.transfer_id) == balances_now(book, pending.transfer_id)


def test_each_transfer_of_a_journal_records_the_running_balances(book) -> None:
    book.fund(1_000)
    journal = ledger.post_journal(
        book.session,
        [
            NewTransfer(book.escrow.id, book.payable.id, 300, "AWARD"),
            NewTransfer(book.escrow.id, book.fees.id, 200, "FEE"),
            NewTransfer(book.escrow.id, book.payable.id, 100, "AWARD", pending=True),
        ],
        key="award",
        recorded_by="t",
    )
    recorded = [balances_after(book, transfer_id) for transfer_id in journal.transfer_ids]
    assert recorded == [(-700, -300), (-500, -200), (-500, -300)]
    last = journal.transfer_ids[1]
    assert balances_after(book, last) == balances_now(book, last)
    ledger.post_pending(book.session, journal.transfer_ids[2])
    assert balances_after(book, journal.transfer_ids[2]) == (-400, -400)
    assert balances_after(book, journal.transfer_ids[2]) == balances_now(
        book, journal.transfer_ids[2]
    )

"""Posting transfers and journals: the rules of DESIGN.md's ledger section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import ledger
from ledger import AccountType, NewTransfer, Transfer, TransferStatus


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_transfer_moves_counters_and_records_balances_after(book) -> None:
    posted = book.fund(10_000)
    transfer = book.session.get(Transfer, posted.transfer_id)
    assert (transfer.amount, transfer.currency, transfer.status) == (10_000, "USD", "posted")
    assert transfer.debit_balance_after == 10_000
    assert transfer.credit_balance_after == -10_000
    assert book.refresh(book.cash).balance == 10_000
    assert book.refresh(book.escrow).credits_posted == 10_000
    assert book.escrow.available == 10_000
    assert book.escrow.version == 1


@pytest.mark.parametrize("amount", [0, -5, 1.5, "100", True, None, 2**63])
def test_amount_must_be_a_positive_integer(book, amount) -> None:
    with pytest.raises(ledger.InvalidTransfer):
        book.fund(amount)


def test_same_account_on_both_sides_is_refused(book) -> None:
    with pytest.raises(ledger.InvalidTransfer):
        book.move(book.cash, book.cash, 100)


def test_currencies_must_match(book) -> None:
    with pytest.raises(ledger.CurrencyMismatch):
        book.move(book.euros, book.escrow, 100)


def test_unknown_account_is_refused(book) -> None:
    with pytest.raises(ledger.AccountNotFound):
        ledger.post_transfer(
            book.session,
            debit=book.cash.id,
            credit=987654,
            amount=1,
            code="X",
            key="k",
            recorded_by="t",
        )


def test_empty_journal_is_refused(book) -> None:
    with pytest.raises(ledger.EmptyJournal):
        ledger.post_journal(book.session, [], key="empty", recorded_by="t")


def test_escrow_cannot_be_overdrawn(book) -> None:
    book.fund(1_000)
    book.move(book.escrow, book.payable, 600)
    with pytest.raises(ledger.InsufficientFunds) as refused:
        book.move(book.escrow, book.payable, 401)
    assert refused.value.available == 400
    assert refused.value.account_code == "liability:escrow:test"


def test_a_journal_is_all_or_nothing(book) -> None:
    book.fund(1_000)
    with pytest.raises(ledger.InsufficientFunds):
        ledger.post_journal(
            book.session,
            [
                NewTransfer(book.escrow.id, book.payable.id, 900, "AWARD"),
                NewTransfer(book.escrow.id, book.fees.id, 200, "FEE"),
            ],
            key="award",
            recorded_by="t",
        )
    book.session.rollback()
    assert count(book.session, Transfer) == 0  # the rollback undid the funding too


def test_a_journal_posts_every_transfer_under_one_journal(book) -> None:
    book.fund(1_000)
    journal = ledger.post_journal(
        book.session,
        [
            NewTransfer(book.escrow.id, book.payable.id, 900, "AWARD", "award:1"),
            NewTransfer(book.escrow.id, book.fees.id, 100, "FEE", "award:1"),
        ],
        key="award:1",
        recorded_by="t",
        description="first prize",
    )
    transfers = book.session.scalars(
        select(Transfer).where(Transfer.journal_id == journal.journal_id).order_by(Transfer.id)
    ).all()
    assert [t.key for t in transfers] == ["award:1/0", "award:1/1"]
    assert [t.id for t in transfers] == list(journal.transfer_ids)
    assert book.refresh(book.escrow).balance == 0


def test_replaying_a_key_returns_the_first_result_and_writes_nothing(book) -> None:
    first = book.fund(500)
    again = book.move(book.cash, book.escrow, 500, key="test-key-1", code="FUND_ESCROW")
    assert again.replayed and not first.replayed
    assert again.transfer_ids == first.transfer_ids
    assert count(book.session, Transfer) == 1
    assert book.refresh(book.cash).balance == 500


def test_replay_is_recognised_even_when_funds_ran_out_since(book) -> None:
    book.fund(500)
    first = book.move(book.escrow, book.payable, 500, key="award")
    again = book.move(book.escrow, book.payable, 500, key="award")
    assert again.replayed and again.transfer_ids == first.transfer_ids


def test_same_key_with_another_payload_is_a_conflict(book) -> None:
    book.fund(500)
    with pytest.raises(ledger.IdempotencyConflict):
        book.move(book.cash, book.escrow, 501, key="test-key-1", code="FUND_ESCROW")


def test_pending_reserves_then_posts(book) -> None:
    book.fund(1_000)
    pending = book.move(book.escrow, book.payable, 700, pending=True)
    escrow = book.refresh(book.escrow)
    assert (escrow.balance, escrow.debits_pending, escrow.available) == (-1_000, 700, 300)
    with pytest.raises(ledger.InsufficientFunds):
        book.move(book.escrow, book.payable, 301)
    ledger.post_pending(book.session, pending.transfer_id)
    ledger.post_pending(book.session, pending.transfer_id)  # twice is harmless
    escrow = book.refresh(book.escrow)
    assert (escrow.balance, escrow.debits_pending, escrow.available) == (-300, 0, 300)
    transfer = book.session.get(Transfer, pending.transfer_id)
    assert transfer.status == TransferStatus.POSTED and transfer.posted_at is not None


def test_void_releases_the_reservation(book) -> None:
    book.fund(1_000)
    pending = book.move(book.escrow, book.payable, 700, pending=True)
    ledger.void_pending(book.session, pending.transfer_id)
    escrow = book.refresh(book.escrow)
    assert (escrow.balance, escrow.debits_pending, escrow.available) == (-1_000, 0, 1_000)
    with pytest.raises(ledger.NotPending):
        ledger.post_pending(book.session, pending.transfer_id)


def test_resolving_a_posted_transfer_or_an_unknown_one_is_refused(book) -> None:
    posted = book.fund(10)
    with pytest.raises(ledger.NotPending):
        ledger.void_pending(book.session, posted.transfer_id)
    with pytest.raises(ledger.TransferNotFound):
        ledger.post_pending(book.session, 424242)


def test_reversal_undoes_and_points_at_the_original(book) -> None:
    book.fund(1_000)
    fee = book.move(book.escrow, book.fees, 50, code="FEE")
    reversal = ledger.reverse_transfer(
        book.session, fee.transfer_id, key="rev-1", recorded_by="t", reason="charged by mistake"
    )
    row = book.session.get(Transfer, reversal.transfer_id)
    assert (row.code, row.reverses_id, row.amount) == ("REVERSAL", fee.transfer_id, 50)
    assert (row.debit_account_id, row.credit_account_id) == (book.fees.id, book.escrow.id)
    assert book.refresh(book.escrow).available == 1_000
    assert ledger.reverse_transfer(
        book.session, fee.transfer_id, key="rev-1", recorded_by="t", reason="charged by mistake"
    ).replayed
    with pytest.raises(ledger.NotReversible):
        ledger.reverse_transfer(book.session, reversal.transfer_id, key="rev-2", recorded_by="t")


def test_a_transfer_is_reversed_only_once(book) -> None:
    book.fund(1_000)
    fee = book.move(book.escrow, book.fees, 50, code="FEE")
    ledger.reverse_transfer(book.session, fee.transfer_id, key="rev-a", recorded_by="t")
    with pytest.raises(ledger.NotReversible):
        ledger.reverse_transfer(book.session, fee.transfer_id, key="rev-b", recorded_by="t")


def test_reversal_obeys_the_overdraft_rule(book) -> None:
    book.fund(100)
    award = book.move(book.escrow, book.payable, 100, code="AWARD")
    book.move(book.payable, book.cash, 100, code="PAYOUT")
    with pytest.raises(ledger.InsufficientFunds):
        ledger.reverse_transfer(book.session, award.transfer_id, key="rev", recorded_by="t")


def test_open_account_is_idempotent_and_checks_what_exists(session) -> None:
    first = ledger.open_account(session, "asset:cash:x", AccountType.ASSET, "USD")
    assert ledger.open_account(session, "asset:cash:x", "asset", "USD").id == first.id
    with pytest.raises(ledger.AccountConflict):
        ledger.open_account(session, "asset:cash:x", AccountType.ASSET, "EUR")


@pytest.mark.parametrize(
    ("code", "type_", "currency"),
    [
        ("cash", "asset", "USD"),
        ("liability:x", "asset", "USD"),
        ("asset:x", "asset", "usd"),
        ("asset:x", "wealth", "USD"),
        ("asset:has space", "asset", "USD"),
    ],
)
def test_open_account_refuses_malformed_definitions(session, code, type_, currency) -> None:
    with pytest.raises(ledger.InvalidAccount):
        ledger.open_account(session, code, type_, currency)


def test_a_statement_shows_effective_dates_in_the_order_of_writing(book) -> None:
    day = datetime(2026, 1, 1, tzinfo=UTC)
    book.move(book.cash, book.escrow, 1_000, effective_at=day + timedelta(days=4))
    book.move(book.escrow, book.payable, 300, effective_at=day)
    rows = ledger.statement_page(book.session, book.escrow.id, limit=10)
    assert [(row.effective_at, row.debit, row.credit, row.balance) for row in rows] == [
        (day, 300, 0, -700),
        (day + timedelta(days=4), 0, 1_000, -1_000),
    ]
    assert ledger.statements.balance_as_of(book.session, book.escrow.id, day) == 0


def test_trial_balance_as_of_uses_posting_time_of_pending_transfers(book) -> None:
    day = datetime(2026, 3, 1, tzinfo=UTC)
    book.move(book.cash, book.escrow, 1_000, effective_at=day)
    pending = book.move(book.escrow, book.payable, 400, pending=True, effective_at=day)
    ledger.post_pending(book.session, pending.transfer_id, at=day + timedelta(days=5))
    before = {line.account: line for line in ledger.trial_balance(book.session, day)}
    after = {line.account: line for line in ledger.trial_balance(book.session)}
    assert before["liability:escrow:test"].balance == -1_000
    assert after["liability:escrow:test"].balance == -600
    assert sum(line.balance for line in after.values() if line.currency == "USD") == 0


def test_naive_datetimes_are_refused(book) -> None:
    with pytest.raises(Exception, match="naive"):
        book.move(book.cash, book.escrow, 1, effective_at=datetime(2026, 1, 1))


def test_a_journal_keeps_text_with_quotes_braces_and_backslashes(book) -> None:
    odd = ['a"b', "c\\d", "{e,f}", "NULL", "", " g ", "é ü"]
    book.fund(1_000)
    journal = ledger.post_journal(
        book.session,
        [
            NewTransfer(book.escrow.id, book.payable.id, 1, f"C{n}", reference=text, key=f"k{text}")
            for n, text in enumerate(odd)
        ],
        key="odd",
        recorded_by="t",
    )
    written = [book.session.get_one(ledger.Transfer, i) for i in journal.transfer_ids]
    assert [(t.reference, t.key, t.code) for t in written] == [
        (text, f"k{text}", f"C{n}") for n, text in enumerate(odd)
    ]

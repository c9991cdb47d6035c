"""Database refusals become LedgerErrors by the constraint's name, on SQLite and PostgreSQL.

Each mapped constraint is made to refuse a raw write (in a SAVEPOINT), and the IntegrityError is
read the way posting.py reads it: the name found must be the constraint's, and the error the
one it means. The ledger checks most rules before writing, so raw writes are the only way to
reach them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Executable, Insert, Update, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import ledger
from ledger import Account, Journal, NewTransfer, Transfer, utcnow
from ledger.constraints import (
    CONSTRAINT_ERRORS,
    LEDGER_TABLES,
    UNMAPPED,
    constraint_name,
    refusal,
    refusals,
)
from tests.ledger.conftest import Book

accounts, journals, transfers = Account.__table__, Journal.__table__, Transfer.__table__


@dataclass(frozen=True)
class Rows:
    """A funded escrow, a fee and its reversal: what the raw writes collide with."""

    book: Book
    journal_key: str
    fee: int
    transfer_key: str

    def transfer(self, **changes: object) -> Insert:
        """A valid transfer row but for ``changes``."""
        book, now = self.book, utcnow()
        journal_id = book.session.scalar(select(journals.c.id).where(journals.c.key == "fund"))
        values = {
            "journal_id": journal_id, "key": "raw", "debit_account_id": book.cash.id,
            "credit_account_id": book.escrow.id, "currency": "USD", "amount": 5, "code": "RAW",
            "reference": "", "status": "posted", "two_phase": False, "recorded_by": "raw",
            "effective_at": now, "recorded_at": now, "posted_at": now,
            "debit_balance_after": 0, "credit_balance_after": 0, "debit_version": 1,
            "credit_version": 1, "written_at": now,
        }  # fmt: skip
        return insert(transfers).values(values | changes)

    def account(self, **changes: object) -> Insert:
        values = {
            "code": "asset:raw", "type": "asset", "currency": "USD", "name": "",
            "debits_posted": 0, "credits_posted": 0, "debits_pending": 0, "credits_pending": 0,
            "version": 0, "debits_must_not_exceed_credits": False,
            "credits_must_not_exceed_debits": False, "created_at": utcnow(),
        }  # fmt: skip
        return insert(accounts).values(values | changes)

    def overdraw_escrow(self) -> Update:
        escrow = accounts.c.id == self.book.escrow.id
        return update(accounts).where(escrow).values(debits_posted=accounts.c.credits_posted + 1)


@pytest.fixture
def rows(book: Book) -> Rows:
    book.move(book.cash, book.escrow, 1_000, key="fund")
    fee = book.move(book.escrow, book.fees, 50, code="FEE", key="fee")
    ledger.reverse_transfer(book.session, fee.transfer_id, key="rev", recorded_by="t")
    return Rows(book, "fund", fee.transfer_id, "fee")


#: Each mapped constraint: a write it refuses, and the LedgerError that refusal means.
MAPPED = {
    "uq_ledger_journals_key": (
        lambda r: insert(journals).values(
            key=r.journal_key,
            payload_sha256="",
            description="",
            recorded_by="raw",
            recorded_at=utcnow(),
        ),
        ledger.IdempotencyConflict,
    ),
    "uq_ledger_transfers_key": (
        lambda r: r.transfer(key=r.transfer_key),
        ledger.IdempotencyConflict,
    ),
    "uq_ledger_transfers_reverses_id": (
        lambda r: r.transfer(reverses_id=r.fee),
        ledger.NotReversible,
    ),
    "ck_ledger_transfers_amount_positive": (lambda r: r.transfer(amount=0), ledger.InvalidTransfer),
    "ck_ledger_transfers_distinct_accounts": (
        lambda r: r.transfer(credit_account_id=r.book.cash.id),
        ledger.InvalidTransfer,
    ),
    "ck_ledger_transfers_status_known": (
        lambda r: r.transfer(status="lost", posted_at=None),
        ledger.InvalidTransfer,
    ),
    "ck_ledger_transfers_posted_at_iff_posted": (
        lambda r: r.transfer(posted_at=None),
        ledger.InvalidTransfer,
    ),
    "uq_ledger_accounts_code": (lambda r: r.account(code=r.book.cash.code), ledger.AccountConflict),
    "ck_ledger_accounts_type_known": (lambda r: r.account(type="wealth"), ledger.InvalidAccount),
    "ck_ledger_accounts_currency_code": (lambda r: r.account(currency="US"), ledger.InvalidAccount),
    "ck_ledger_accounts_one_overdraft_rule": (
        lambda r: r.account(
            debits_must_not_exceed_credits=True, credits_must_not_exceed_debits=True
        ),
        ledger.InvalidAccount,
    ),
}


def refused(session: Session, statement: Executable) -> IntegrityError:
    """The IntegrityError ``statement`` raises; its SAVEPOINT is rolled back."""
    with pytest.raises(IntegrityError) as caught, session.begin_nested():
        session.execute(statement)
    return caught.value


def test_every_ledger_constraint_is_mapped_or_left_unmapped_on_purpose() -> None:
    named = {str(c.name) for table in LEDGER_TABLES for c in table.constraints}
    assert set(CONSTRAINT_ERRORS) | set(UNMAPPED) == named
    assert not set(CONSTRAINT_ERRORS) & set(UNMAPPED)
    assert set(MAPPED) == set(CONSTRAINT_ERRORS)


@pytest.mark.parametrize("name", list(MAPPED))
def test_a_refusal_is_mapped_by_its_constraint_name(rows: Rows, name: str) -> None:
    session = rows.book.session
    before = session.scalar(select(func.count()).select_from(Transfer))
    statement, meant = MAPPED[name]
    error = refused(session, statement(rows))
    assert constraint_name(error) == name
    assert type(refusal(error, "the subject")) is meant
    assert "the subject" in str(refusal(error, "the subject"))
    assert session.scalar(select(func.count()).select_from(Transfer)) == before


def test_the_overdraft_rule_is_named_but_left_to_the_check_before_writing(rows: Rows) -> None:
    error = refused(rows.book.session, rows.overdraw_escrow())
    assert constraint_name(error) == "ck_ledger_accounts_debits_within_credits"
    assert refusal(error, "x") is None


def test_a_foreign_key_is_named_only_where_the_database_names_it(rows: Rows) -> None:
    session = rows.book.session
    error = refused(session, rows.transfer(credit_account_id=rows.book.euros.id))
    expected = {"postgresql": "fk_ledger_transfers_credit_account", "sqlite": None}
    assert constraint_name(error) == expected[session.get_bind().dialect.name]
    assert refusal(error, "x") is None


def test_refusals_raises_the_meant_error_and_lets_the_rest_through(rows: Rows) -> None:
    session = rows.book.session
    with (
        pytest.raises(ledger.NotReversible) as caught,
        refusals("journal 'x'"),
        session.begin_nested(),
    ):
        session.execute(rows.transfer(reverses_id=rows.fee))
    assert isinstance(caught.value.__cause__, IntegrityError)
    with pytest.raises(IntegrityError), refusals("journal 'x'"), session.begin_nested():
        session.execute(rows.overdraw_escrow())


def test_a_transfer_key_of_another_journal_is_an_idempotency_conflict(rows: Rows) -> None:
    """Reached through post_journal: only the unique constraint knows the key is taken."""
    book = rows.book
    with pytest.raises(ledger.IdempotencyConflict) as caught:
        ledger.post_journal(
            book.session,
            [NewTransfer(book.escrow.id, book.fees.id, 1, "FEE", key=rows.transfer_key)],
            key="new journal",
            recorded_by="t",
        )
    assert caught.value.key == "new journal"


def test_reversing_twice_is_not_reversible_by_the_unique_constraint(rows: Rows) -> None:
    with pytest.raises(ledger.NotReversible) as caught:
        ledger.reverse_transfer(rows.book.session, rows.fee, key="rev-2", recorded_by="t")
    assert isinstance(caught.value.__cause__, IntegrityError)
    assert constraint_name(caught.value.__cause__) == "uq_ledger_transfers_reverses_id"

"""PostgreSQL itself enforces the ledger's rules, whatever code or person writes raw SQL.

The ledger checks every rule in Python, but a migration, a console session or a bug elsewhere
could write to the tables directly; the triggers, CHECKs and foreign keys of migration 0001
must refuse. Each statement runs in a SAVEPOINT so a refusal leaves the rest of the test usable,
and the test then shows that nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

import ledger
from ledger import Transfer, TransferStatus
from tests.ledger.conftest import Book

pytestmark = pytest.mark.postgres_only

# A transfer row that is valid except for what each case substitutes.
INSERT = """
INSERT INTO ledger_transfers (
    journal_id, key, debit_account_id, credit_account_id, currency, amount, code, reference,
    status, two_phase, recorded_by, effective_at, recorded_at, posted_at,
    debit_balance_after, credit_balance_after, debit_version, credit_version, written_at)
VALUES (:journal, 'raw-insert', {debit}, {credit}, 'USD', {amount}, 'RAW', '', 'posted', false,
        'psql', now(), now(), now(), 0, 0, 1, 1, now())
"""

# (statement, exception, what the database says or None) per rule.
REFUSED = {
    "update a posted transfer's amount": (
        "UPDATE ledger_transfers SET amount = amount + 1 WHERE id = :posted",
        IntegrityError, "immutable",
    ),
    "turn a posted transfer back to pending": (
        "UPDATE ledger_transfers SET status = 'pending', posted_at = NULL WHERE id = :posted",
        IntegrityError, "immutable",
    ),
    "delete a posted transfer": (
        "DELETE FROM ledger_transfers WHERE id = :posted", IntegrityError, "never deleted",
    ),
    "delete a pending transfer": (
        "DELETE FROM ledger_transfers WHERE id = :pending", IntegrityError, "never deleted",
    ),
    "rewrite a posted transfer's balances after": (
        "UPDATE ledger_transfers SET debit_balance_after = debit_balance_after + 1"
        " WHERE id = :posted",
        IntegrityError, "immutable",
    ),
    "rewrite a pending transfer's balances after and leave it pending": (
        "UPDATE ledger_transfers SET credit_balance_after = 0 WHERE id = :pending",
        IntegrityError, "immutable",
    ),
    "update a pending transfer's amount": (
        "UPDATE ledger_transfers SET amount = 1 WHERE id = :pending", IntegrityError, "immutable",
    ),
    "post a pending transfer and change its amount": (
        "UPDATE ledger_transfers SET status = 'posted', posted_at = now(), amount = 1"
        " WHERE id = :pending",
        IntegrityError, "immutable",
    ),
    # Refused by the trigger today; by the foreign-key check too once a table references it.
    "truncate the transfers": ("TRUNCATE ledger_transfers", DBAPIError, None),
    "truncate the transfers and what references them": (
        "TRUNCATE ledger_transfers CASCADE", IntegrityError, "never deleted",
    ),
    "insert a transfer of 0": (
        INSERT.format(debit=":cash", credit=":escrow", amount=0),
        IntegrityError, "ck_ledger_transfers_amount_positive",
    ),
    "insert a negative transfer": (
        INSERT.format(debit=":cash", credit=":escrow", amount=-5),
        IntegrityError, "ck_ledger_transfers_amount_positive",
    ),
    "insert a transfer between currencies": (
        INSERT.format(debit=":cash", credit=":euros", amount=5),
        IntegrityError, "fk_ledger_transfers_credit_account",
    ),
    "insert a transfer from an account to itself": (
        INSERT.format(debit=":cash", credit=":cash", amount=5),
        IntegrityError, "ck_ledger_transfers_distinct_accounts",
    ),
    "overdraw an escrow through its counters": (
        "UPDATE ledger_accounts SET debits_posted = credits_posted + 1 WHERE id = :escrow",
        IntegrityError, "ck_ledger_accounts_debits_within_credits",
    ),
    "reserve more than an escrow holds": (
        "UPDATE ledger_accounts SET debits_pending = credits_posted + 1 WHERE id = :escrow",
        IntegrityError, "ck_ledger_accounts_debits_within_credits",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Posted:
    """A funded escrow with one posted and one pending transfer, and the ids raw SQL needs."""

    book: Book
    ids: dict[str, int]

    def snapshot(self) -> list[tuple]:
        """Every transfer and every account's counters: what a refusal must leave alone."""
        session = self.book.session
        transfers = session.execute(text("SELECT * FROM ledger_transfers ORDER BY id")).all()
        counters = session.execute(
            text(
                "SELECT id, debits_posted, credits_posted, debits_pending, credits_pending"
                " FROM ledger_accounts ORDER BY id"
            )
        ).all()
        return [tuple(row) for row in transfers + counters]


@pytest.fixture
def posted(postgres, book: Book) -> Posted:  # noqa: ANN001
    funded = book.fund(1_000)
    pending = book.move(book.escrow, book.payable, 100, pending=True)
    ids = {
        "posted": funded.transfer_id,
        "pending": pending.transfer_id,
        "journal": funded.journal_id,
        "cash": book.cash.id,
        "escrow": book.escrow.id,
        "euros": book.euros.id,
    }
    return Posted(book, ids)


def run_in_savepoint(session: Session, sql: str, ids: dict[str, int]) -> None:
    with session.begin_nested():
        statement = text(sql)
        session.execute(statement, {k: v for k, v in ids.items() if f":{k}" in sql})


@pytest.mark.parametrize("rule", list(REFUSED))
def test_the_database_refuses(posted: Posted, rule: str) -> None:
    sql, error, message = REFUSED[rule]
    before = posted.snapshot()
    with pytest.raises(error, match=message):
        run_in_savepoint(posted.book.session, sql, posted.ids)
    assert posted.snapshot() == before


def test_a_valid_raw_insert_passes_so_the_refusals_are_the_rules(posted: Posted) -> None:
    session = posted.book.session
    run_in_savepoint(session, INSERT.format(debit=":cash", credit=":escrow", amount=5), posted.ids)
    assert session.scalar(select(func.count()).select_from(Transfer)) == 3


def test_a_pending_transfer_may_still_be_posted_then_never_changed(posted: Posted) -> None:
    session, pending_id = posted.book.session, posted.ids["pending"]
    ledger.post_pending(session, pending_id)
    transfer = session.get_one(Transfer, pending_id)
    assert transfer.status == TransferStatus.POSTED and transfer.posted_at is not None
    assert ledger.verify(session) == []
    with pytest.raises(IntegrityError, match="immutable"):
        run_in_savepoint(session, REFUSED["update a posted transfer's amount"][0],
                         {"posted": pending_id})  # fmt: skip


def test_a_pending_transfer_may_be_voided_with_raw_sql(posted: Posted) -> None:
    """The trigger allows exactly the status change (with its timestamps and the balances
    after, migration 0007) and nothing else."""
    session = posted.book.session
    run_in_savepoint(
        session,
        "UPDATE ledger_transfers SET status = 'voided', resolved_at = now() WHERE id = :pending",
        posted.ids,
    )
    status = session.scalar(
        text("SELECT status FROM ledger_transfers WHERE id = :pending"),
        {"pending": posted.ids["pending"]},
    )
    assert status == "voided"

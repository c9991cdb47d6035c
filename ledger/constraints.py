"""Which LedgerError a database refusal means, found by the name of the constraint that refused.

Never by searching the error message for words: "key" is in every foreign-key message. The name
comes from the driver where it gives one (psycopg: ``diag.constraint_name``); SQLite names only
a CHECK (``CHECK constraint failed: <name>``) and lists the columns of a UNIQUE constraint
(``UNIQUE constraint failed: <table>.<column>, ...``), which the models turn into its name.

Not in CONSTRAINT_ERRORS (see UNMAPPED): rules whose error reports figures the database does not
give, which posting.py checks on the locked rows before it writes (the account and what it has
available for InsufficientFunds; the accounts for AccountNotFound and CurrencyMismatch; the id
for TransferNotFound), and ids that the database or the ledger fills in. A refusal by one of
those means the ledger itself is wrong: its IntegrityError propagates unchanged, a bug to fix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import PrimaryKeyConstraint, Table, UniqueConstraint
from sqlalchemy.exc import IntegrityError

from ledger.errors import (
    AccountConflict,
    IdempotencyConflict,
    InvalidAccount,
    InvalidTransfer,
    LedgerError,
    NotReversible,
)
from ledger.models import Account, Journal, Transfer

#: Builds the error from what the refused statement was writing (an idempotency key, a transfer).
Refusal = Callable[[str], LedgerError]


def _saying(error: Callable[[str], LedgerError], reason: str) -> Refusal:
    return lambda subject: error(f"{subject}: {reason}")


#: The one table from constraint name to the LedgerError its refusal means.
CONSTRAINT_ERRORS: dict[str, Refusal] = {
    "uq_ledger_journals_key": IdempotencyConflict,
    "uq_ledger_transfers_key": IdempotencyConflict,
    "uq_ledger_transfers_reverses_id": _saying(NotReversible, "that transfer was already reversed"),
    "ck_ledger_transfers_amount_positive": _saying(InvalidTransfer, "amount must be positive"),
    "ck_ledger_transfers_distinct_accounts": _saying(
        InvalidTransfer, "a transfer needs two different accounts"
    ),
    "ck_ledger_transfers_status_known": _saying(InvalidTransfer, "unknown transfer status"),
    "ck_ledger_transfers_posted_at_iff_posted": _saying(
        InvalidTransfer, "a transfer has a posting time if and only if it is posted"
    ),
    "uq_ledger_accounts_code": _saying(AccountConflict, "an account with this code exists"),
    "ck_ledger_accounts_type_known": _saying(InvalidAccount, "unknown account type"),
    "ck_ledger_accounts_currency_code": _saying(InvalidAccount, "currency must be a 3-letter code"),
    "ck_ledger_accounts_one_overdraft_rule": _saying(
        InvalidAccount, "an account can carry only one overdraft rule"
    ),
}

#: The ledger's other constraints, and why a refusal by them is not turned into a LedgerError.
UNMAPPED: dict[str, str] = {
    "ck_ledger_accounts_counters_not_negative": "checked on the locked counters first",
    "ck_ledger_accounts_debits_within_credits": "checked first; InsufficientFunds needs figures",
    "ck_ledger_accounts_credits_within_debits": "checked first; InsufficientFunds needs figures",
    "fk_ledger_transfers_debit_account": "checked first: AccountNotFound, CurrencyMismatch",
    "fk_ledger_transfers_credit_account": "checked first: AccountNotFound, CurrencyMismatch",
    "fk_ledger_transfers_reverses_id_ledger_transfers": "checked first: TransferNotFound",
    "fk_ledger_transfers_journal_id_ledger_journals": "filled by the ledger",
    "uq_ledger_accounts_id_currency": "the id is the primary key",
    "pk_ledger_accounts": "filled by the database",
    "pk_ledger_journals": "filled by the database",
    "pk_ledger_transfers": "filled by the database",
}

LEDGER_TABLES: tuple[Table, ...] = (Account.__table__, Journal.__table__, Transfer.__table__)


def _sqlite_unique_names() -> dict[str, str]:
    """``"table.column, ..."`` as SQLite lists it in a UNIQUE failure -> the constraint's name."""
    names = {}
    for table in LEDGER_TABLES:
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint):
                columns = ", ".join(f"{table.name}.{column.name}" for column in constraint.columns)
                names[columns] = str(constraint.name)
    return names


_SQLITE_UNIQUE = _sqlite_unique_names()
_SQLITE_PREFIXES = {
    "SQLITE_CONSTRAINT_CHECK": "CHECK constraint failed: ",
    "SQLITE_CONSTRAINT_UNIQUE": "UNIQUE constraint failed: ",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "UNIQUE constraint failed: ",
}


def _sqlite_constraint_name(error: sqlite3.Error) -> str | None:
    prefix = _SQLITE_PREFIXES.get(getattr(error, "sqlite_errorname", ""))
    message = str(error)
    if prefix is None or not message.startswith(prefix):
        return None
    named = message.removeprefix(prefix)
    if prefix.startswith("CHECK"):
        return named
    return _SQLITE_UNIQUE.get(named)


def constraint_name(error: IntegrityError) -> str | None:
    """The name of the constraint that refused, or None when the database does not say."""
    original = error.orig
    diag = getattr(original, "diag", None)
    if diag is not None:
        return diag.constraint_name
    if isinstance(original, sqlite3.Error):
        return _sqlite_constraint_name(original)
    return None


def refusal(error: IntegrityError, subject: str) -> LedgerError | None:
    """The LedgerError the refusal means, or None when it is no refusal the ledger reports."""
    build = CONSTRAINT_ERRORS.get(constraint_name(error) or "")
    return build(subject) if build is not None else None


@contextmanager
def refusals(subject: str) -> Iterator[None]:
    """Raise the LedgerError meant by a constraint refusing a write in the block.

    ``subject`` names what is written (a journal's idempotency key, a transfer), for the message.
    """
    try:
        yield
    except IntegrityError as error:
        meant = refusal(error, subject)
        if meant is None:
            raise
        raise meant from error

"""A double-entry ledger on SQLAlchemy 2: accounts, single-row transfers, journals.

Plain library: it never imports Flask or the marketplace. Amounts are integers in minor units;
the currency belongs to the account. See DESIGN.md, "The ledger".
"""

from ledger.allocate import allocate
from ledger.base import Base, BigId, UTCDateTime, as_utc, utcnow
from ledger.errors import (
    AccountConflict,
    AccountNotFound,
    CurrencyMismatch,
    EmptyJournal,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAccount,
    InvalidTransfer,
    LedgerError,
    NotPending,
    NotReversible,
    TransferNotFound,
)
from ledger.export import export_csv, export_hledger, format_minor
from ledger.models import Account, AccountType, Journal, Transfer, TransferStatus
from ledger.posting import (
    NewTransfer,
    PostedJournal,
    find_account,
    open_account,
    open_accounts,
    post_journal,
    post_pending,
    post_transfer,
    reverse_transfer,
    void_pending,
    void_pending_many,
)
from ledger.reading import Discrepancy, TrialBalanceLine, trial_balance, verify
from ledger.sqlite import configure_sqlite_engine
from ledger.statements import StatementKey, StatementRow, statement_page

__all__ = [
    "Account", "AccountConflict", "AccountNotFound", "AccountType", "Base", "BigId",
    "CurrencyMismatch", "Discrepancy", "EmptyJournal", "IdempotencyConflict", "InsufficientFunds",
    "InvalidAccount", "InvalidTransfer", "Journal", "LedgerError", "NewTransfer", "NotPending",
    "NotReversible", "PostedJournal", "StatementKey", "StatementRow", "Transfer",
    "TransferNotFound", "TransferStatus", "TrialBalanceLine", "UTCDateTime", "allocate", "as_utc",
    "configure_sqlite_engine", "export_csv", "export_hledger", "find_account",
    "format_minor", "open_account", "open_accounts", "post_journal", "post_pending",
    "post_transfer", "reverse_transfer", "statement_page", "trial_balance", "utcnow",
    "verify", "void_pending", "void_pending_many",
]  # fmt: skip

"""Accounts, journals and transfers: the ledger's three tables.

Modelled on TigerBeetle: an account keeps running counters so its balance is read in O(1);
a transfer is one row that debits one account and credits another of the same currency, so
the book balances by construction. Transfers are append-only; only a pending transfer may
change, once: its status, the times it was resolved and posted, and its balances after.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.base import Base, BigId, UTCDateTime, utcnow


class AccountType(enum.StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"


class TransferStatus(enum.StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


def _enum_check(column: str, values: type[enum.StrEnum]) -> str:
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"


class Account(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(200), default="")
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, default=False)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Lets transfers reference (account, currency) so the database refuses a transfer
        # between accounts of different currencies.
        UniqueConstraint("id", "currency"),
        CheckConstraint(_enum_check("type", AccountType), name="type_known"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 "
            "AND debits_pending >= 0 AND credits_pending >= 0",
            name="counters_not_negative",
        ),
        CheckConstraint(
            "NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)",
            name="one_overdraft_rule",
        ),
        CheckConstraint(
            "NOT debits_must_not_exceed_credits "
            "OR debits_posted + debits_pending <= credits_posted",
            name="debits_within_credits",
        ),
        CheckConstraint(
            "NOT credits_must_not_exceed_debits "
            "OR credits_posted + credits_pending <= debits_posted",
            name="credits_within_debits",
        ),
    )

    @property
    def balance(self) -> int:
        """Posted balance, debits minus credits (a liability holding money is negative)."""
        return self.debits_posted - self.credits_posted

    @property
    def available(self) -> int:
        """What may still be drawn from the account's normal side, net of reservations.

        For a debit-normal account (assets, expenses) that is debits minus credits; for a
        credit-normal one (liabilities, equity, revenue) credits minus debits. Pending
        transfers that would reduce the balance are already taken off.
        """
        if self.type in (AccountType.ASSET, AccountType.EXPENSE):
            return self.debits_posted - self.credits_posted - self.credits_pending
        return self.credits_posted - self.debits_posted - self.debits_pending

    def __repr__(self) -> str:
        return f"<Account {self.code} {self.currency}>"


class Journal(Base):
    """The transfers of one business event, written in one database transaction."""

    __tablename__ = "ledger_journals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Transfer(Base):
    """One movement of ``amount`` from the debit account to the credit account.

    ``debit_balance_after`` and ``credit_balance_after`` are the posted balances (debits minus
    credits) of the two accounts right after the last write of this row, the counters of the
    accounts at that moment: after it was recorded (a later transfer of the same journal may
    move them again), and for a two-phase transfer after it was posted (its amount included)
    or voided. A pending transfer's balances after leave out its own amount, which is only
    reserved. They are the moment of the write, not of ``effective_at`` or ``posted_at``.

    ``debit_version`` and ``credit_version`` order those writes per account: each is the
    account's ``version`` after the write (it goes up by one under the account's row lock on
    every counter write), set when the row is recorded and again when a pending transfer is
    posted or voided, together with the balances after. So, per account, ordering its transfers
    by (version, id) is the order in which their balances after were written: the transfers of
    one journal share the version and follow each other by id. ``written_at`` is the moment of
    that last write, taken after the accounts were locked, so per account it rises with the
    version (as long as the clock does not step back). See ledger.statements.
    """

    __tablename__ = "ledger_transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journal_id: Mapped[int] = mapped_column(ForeignKey("ledger_journals.id"), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    debit_account_id: Mapped[int] = mapped_column(BigId)
    credit_account_id: Mapped[int] = mapped_column(BigId)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(8))
    two_phase: Mapped[bool] = mapped_column(Boolean, default=False)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    recorded_by: Mapped[str] = mapped_column(String(200))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    debit_balance_after: Mapped[int] = mapped_column(BigInteger)
    credit_balance_after: Mapped[int] = mapped_column(BigInteger)
    debit_version: Mapped[int] = mapped_column(BigInteger)
    credit_version: Mapped[int] = mapped_column(BigInteger)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(
            ["debit_account_id", "currency"],
            ["ledger_accounts.id", "ledger_accounts.currency"],
            name="fk_ledger_transfers_debit_account",
        ),
        ForeignKeyConstraint(
            ["credit_account_id", "currency"],
            ["ledger_accounts.id", "ledger_accounts.currency"],
            name="fk_ledger_transfers_credit_account",
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        CheckConstraint(_enum_check("status", TransferStatus), name="status_known"),
        CheckConstraint(
            "(status = 'posted') = (posted_at IS NOT NULL)", name="posted_at_iff_posted"
        ),
        # An account's transfers in write order (statements, keyset by (version, id)), and by
        # write moment (balance as of a time): migration 0011. They also serve every lookup by
        # account, which (account, id) indexes served before.
        Index("ix_ledger_transfers_debit_version", "debit_account_id", "debit_version", "id"),
        Index("ix_ledger_transfers_credit_version", "credit_account_id", "credit_version", "id"),
        Index("ix_ledger_transfers_debit_written_at", "debit_account_id", "written_at", "id"),
        Index("ix_ledger_transfers_credit_written_at", "credit_account_id", "written_at", "id"),
        Index("ix_ledger_transfers_posted_at", "posted_at"),
        # The finance desk's journal: newest first by (effective_at, id), keyset-paginated,
        # filtered by code or reference (migration 0014, helper "finance").
        Index("ix_ledger_transfers_effective_at", "effective_at", "id"),
        Index("ix_ledger_transfers_code_effective_at", "code", "effective_at", "id"),
        Index("ix_ledger_transfers_reference_effective_at", "reference", "effective_at", "id"),
    )

    def __repr__(self) -> str:
        return f"<Transfer {self.id} {self.code} {self.amount} {self.currency} {self.status}>"

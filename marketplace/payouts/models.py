from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger import BigId, UTCDateTime, utcnow
from marketplace.accounts.models import User
from marketplace.extensions import db


class PayoutAccount(db.Model):
    """Where a solver is paid: a Stripe Connect Express account, or the sandbox's."""

    __tablename__ = "payout_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    provider: Mapped[str] = mapped_column(String(12))
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    payouts_enabled: Mapped[bool] = mapped_column(default=False)
    details_submitted: Mapped[bool] = mapped_column(default=False)
    #: ``created`` of the last ``account.updated`` event applied: an older one is stale.
    provider_state_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()


class BatchStatus(enum.StrEnum):
    PREPARED = "prepared"  # reservations posted, waiting for a second finance user
    REJECTED = "rejected"  # reservations voided
    APPROVED = "approved"  # the job is sending
    COMPLETED = "completed"  # every line paid or failed


class LineStatus(enum.StrEnum):
    RESERVED = "reserved"
    SENDING = "sending"  # asked of the provider; its answer not recorded yet
    PAID = "paid"
    FAILED = "failed"  # the provider refused: reservation voided, owed again
    VOIDED = "voided"  # the batch was rejected
    REVERSED = "reversed"  # paid, then the provider reversed it: owed again
    RELEASED = "released"  # never answered; finance voided the reservation: owed again


class PayoutBatch(db.Model):
    __tablename__ = "payout_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    minimum: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default=BatchStatus.PREPARED, index=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    line_count: Mapped[int] = mapped_column(default=0)
    journal_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_journals.id"))
    prepared_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    prepared_by: Mapped[User] = relationship(foreign_keys=[prepared_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    __table_args__ = (
        CheckConstraint(
            "status IN ('prepared', 'rejected', 'approved', 'completed')", name="status_known"
        ),
        CheckConstraint(
            "approved_by_id IS NULL OR approved_by_id <> prepared_by_id", name="four_eyes"
        ),
    )


class PayoutLine(db.Model):
    """One solver's payout in a batch, reserved by a pending PAYOUT transfer."""

    __tablename__ = "payout_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batches.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    payout_account_id: Mapped[int] = mapped_column(ForeignKey("payout_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    transfer_id: Mapped[int] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=LineStatus.RESERVED, index=True)
    provider_transfer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    error: Mapped[str] = mapped_column(Text, default="")
    # When the current idempotency key (``key_version``) was first sent: Stripe keeps a key
    # for 24 hours, so the line is sent under it only within sending.KEY_LIFETIME of this.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    key_version: Mapped[int] = mapped_column(default=1, server_default="1")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # Open lines: when the next automatic try is due (a claimed line: when its claim lapses).
    # NULL on a sending line: no try ahead, it waits for finance (``batches.release_line``).
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    payout_account: Mapped[PayoutAccount] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    released_by: Mapped[User | None] = relationship(foreign_keys=[released_by_id])

    __table_args__ = (
        UniqueConstraint("batch_id", "user_id"),
        # A batch's open lines (is it complete?) and its counts per status, without a scan.
        Index("ix_payout_lines_batch_id_status", "batch_id", "status"),
        # A batch's lines a page at a time, in id order (keyset pagination).
        Index("ix_payout_lines_batch_id_id", "batch_id", "id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("key_version >= 1 AND attempts >= 0", name="tries_counted"),
        CheckConstraint(
            "status IN ('reserved', 'sending', 'paid', 'failed', 'voided', 'reversed', 'released')",
            name="status_known",
        ),
    )

"""The finance desk's book exports: requested on a page or through the API, written by a job."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

import ledger
from ledger import BigId, UTCDateTime, utcnow
from marketplace.accounts.models import User
from marketplace.extensions import db


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    HLEDGER = "hledger"


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"  # committed, the job not started yet
    RUNNING = "running"  # the job is writing the file; ``rows`` grows
    DONE = "done"  # the file is there to download
    FAILED = "failed"  # ``error`` says why; no file


class BookExport(db.Model):
    """One export of the book (every transfer, or a period's) to a file under EXPORT_FOLDER."""

    __tablename__ = "book_exports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    format: Mapped[str] = mapped_column(String(10))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=ExportStatus.QUEUED, index=True)
    rows: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)  # transfers in the book when requested
    #: The period (UTC days, both included) of the transfers' effective dates; None: open.
    start: Mapped[date | None] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date)
    file_name: Mapped[str | None] = mapped_column(String(100))  # random, under EXPORT_FOLDER
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint("format IN ('csv', 'hledger')", name="format_known"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        CheckConstraint("rows >= 0 AND total >= 0", name="counts_not_negative"),
        CheckConstraint('start IS NULL OR "end" IS NULL OR start <= "end"', name="period_ordered"),
    )


class DailyTotal(db.Model):
    """Posted ledger movements summed per UTC day of ``posted_at``, currency, code and measure
    (see marketplace/finance/daily_totals.py), so the dashboard sums days, not transfers.

    ``measure``: ``transfers`` (every posted transfer, ``account_id`` 0), ``escrow_in`` /
    ``escrow_out`` (credits to / debits from any escrow account, ``account_id`` 0) and
    ``receivable_debit`` (debits of each receivable account, by ``account_id``; summed per
    year: ``day`` is the first day of the year, as the dashboard wants them over all time).
    """

    __tablename__ = "ledger_daily_totals"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    measure: Mapped[str] = mapped_column(String(20), primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    amount: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_ledger_daily_totals_measure_day", "measure", "day"),)


class DailyTotalsState(db.Model):
    """How far ``ledger_daily_totals`` goes (one row, id 1): every posted transfer whose
    ``posted_at`` is before ``posted_before`` and whose ``written_at`` is before
    ``written_through`` is in it; every other posted transfer is read live."""

    __tablename__ = "ledger_daily_totals_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    posted_before: Mapped[datetime] = mapped_column(UTCDateTime)
    written_through: Mapped[datetime] = mapped_column(UTCDateTime)
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime)


#: Late transfers (posted on a materialised day but written after the fill: backdated, or
#: pending ones posted later) are found by the moment of their last write.
Index("ix_ledger_transfers_written_at", ledger.Transfer.__table__.c.written_at)

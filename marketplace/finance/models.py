"""The finance desk's book exports: requested on a page or through the API, written by a job."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

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

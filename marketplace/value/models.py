from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger import BigId, UTCDateTime, utcnow
from marketplace.accounts.models import User
from marketplace.extensions import db


class ContributionKind(enum.StrEnum):
    SPLIT = "split"  # the proposal's locked split, confirmed by the team before the award
    LATER = "later"  # co-development or a follow-up the seeker recorded afterwards


class Contribution(db.Model):
    """Who added what to an awarded solution. Confirmed weights drive value sharing."""

    __tablename__ = "contributions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    #: In the split's units: basis points of the original team's 100 %.
    weight: Mapped[int]
    description: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    __table_args__ = (
        CheckConstraint("weight > 0 AND weight <= 1000000", name="weight_in_range"),
        CheckConstraint("kind IN ('split', 'later')", name="kind_known"),
    )


class ReportStatus(enum.StrEnum):
    POSTED = "posted"
    REVERSED = "reversed"


class ValueReport(db.Model):
    """Value an awarded solution realised in a period, and the share owed to its co-creators.

    Never edited: a correction reverses the report's journal and files a new report.
    """

    __tablename__ = "value_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    value_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    share_bp: Mapped[int]
    share_amount: Mapped[int] = mapped_column(BigInteger)
    #: {user id (text): minor units}: the share split by contribution weights.
    shares: Mapped[dict] = mapped_column(JSON)
    #: {user id (text): weight}: the confirmed weights the split used.
    weights: Mapped[dict] = mapped_column(JSON)
    evidence: Mapped[str] = mapped_column(Text)
    journal_id: Mapped[int] = mapped_column(ForeignKey("ledger_journals.id"), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=ReportStatus.POSTED)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("value_reports.id"))
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reversal_reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("value_amount > 0", name="value_positive"),
        CheckConstraint("share_amount > 0", name="share_positive"),
        CheckConstraint("status IN ('posted', 'reversed')", name="status_known"),
    )

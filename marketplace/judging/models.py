from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger import BigId, UTCDateTime, utcnow
from marketplace.accounts.models import User
from marketplace.extensions import db


class Outcome(enum.StrEnum):
    AWARD = "award"
    DECLINE = "decline"


class IpStatus(enum.StrEnum):
    RETAINED = "retained"  # the solver keeps the IP: nothing moves
    PENDING_TRANSFER = "pending_transfer"  # licence or assignment takes effect on payment
    TRANSFERRED = "transferred"


class ReviewAssignment(db.Model):
    """A reviewer the seeker's manager asked to score one proposal."""

    __tablename__ = "review_assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id])

    __table_args__ = (UniqueConstraint("proposal_id", "reviewer_id"),)


class Review(db.Model):
    """One reviewer's scores (0-10 per criterion of the terms, each with a comment).

    ``weighted_centi`` is the weighted score times 100 (0-1000): an integer, so averages and
    spreads are exact and sort the same on every database.
    """

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: [{"criterion": name, "weight": w, "score": 0-10, "comment": text}, ...]
    scores: Mapped[list[dict]] = mapped_column(JSON)
    weighted_centi: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    reviewer: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("proposal_id", "reviewer_id"),
        CheckConstraint("weighted_centi BETWEEN 0 AND 1000", name="weighted_in_range"),
    )


class Decision(db.Model):
    """The seeker's answer to a submitted proposal: award or decline, always with feedback."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(8))
    feedback: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Seconds from submission to this decision ("every input gets an answer", and how fast).
    response_seconds: Mapped[int] = mapped_column(BigInteger)

    award: Mapped[Award | None] = relationship(back_populates="decision")

    __table_args__ = (
        CheckConstraint("outcome IN ('award', 'decline')", name="outcome_known"),
        CheckConstraint("response_seconds >= 0", name="response_not_negative"),
    )


class Award(db.Model):
    """A prize given to a proposal, posted to the ledger as one journal."""

    __tablename__ = "awards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), unique=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    prize_rank: Mapped[int]
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: {user id (text): minor units} as posted: the locked split applied to ``amount``.
    shares: Mapped[dict] = mapped_column(JSON)
    journal_id: Mapped[int] = mapped_column(ForeignKey("ledger_journals.id"), unique=True)
    ip_terms: Mapped[str] = mapped_column(String(40))
    ip_status: Mapped[str] = mapped_column(String(20))
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    decision: Mapped[Decision] = relationship(back_populates="award")

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        CheckConstraint("prize_rank >= 1", name="rank_positive"),
        CheckConstraint(
            "ip_status IN ('retained', 'pending_transfer', 'transferred')", name="ip_status_known"
        ),
    )

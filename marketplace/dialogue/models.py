from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger import BigId, UTCDateTime, utcnow
from marketplace.accounts.models import User
from marketplace.extensions import db


class Clarification(db.Model):
    """A solver's public question; once the seeker answers, every participant sees both."""

    __tablename__ = "clarifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    asked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    asked_by: Mapped[User] = relationship(foreign_keys=[asked_by_id])


class ProgressUpdate(db.Model):
    """News from the seeker to everyone taking part in a need."""

    __tablename__ = "progress_updates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()

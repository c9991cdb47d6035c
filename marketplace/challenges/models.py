from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
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
from marketplace.accounts.models import Organization, User
from marketplace.challenges.terms import Terms
from marketplace.extensions import db


class Status(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    JUDGING = "judging"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    INVITE_ONLY = "invite_only"


class Maturity(enum.StrEnum):
    IDEA = "idea"
    PROOF_OF_CONCEPT = "proof_of_concept"
    PROTOTYPE = "prototype"
    READY_TO_LICENSE = "ready_to_license"
    COMMERCIAL_PRODUCT = "commercial_product"


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class Challenge(db.Model):
    """A need statement in the Connect + Develop style, with its lifecycle and visibility."""

    __tablename__ = "challenges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    background: Mapped[str] = mapped_column(Text, default="")
    looking_for: Mapped[list[str]] = mapped_column(JSON, default=list)
    nice_to_have: Mapped[str] = mapped_column(Text, default="")
    not_looking_for: Mapped[str] = mapped_column(Text, default="")
    possible_approaches: Mapped[str] = mapped_column(Text, default="")
    maturity: Mapped[str] = mapped_column(String(24))
    deliverables: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(60), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Lower-cased tags joined by spaces: what search and filters read.
    tags_text: Mapped[str] = mapped_column(String(600), default="")
    confidential_details: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=Status.DRAFT, index=True)
    visibility: Mapped[str] = mapped_column(String(12), default=Visibility.PUBLIC)
    #: Copied from the current terms version so lists can filter and sort on them.
    currency: Mapped[str] = mapped_column(String(3))
    prize_total: Mapped[int] = mapped_column(BigInteger, default=0)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    terms_version: Mapped[int] = mapped_column(default=0)
    #: Need page views (the top of the co-creator funnel).
    view_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()
    created_by: Mapped[User] = relationship()
    versions: Mapped[list[TermsVersion]] = relationship(
        back_populates="challenge", order_by="TermsVersion.version"
    )

    __table_args__ = (
        CheckConstraint(_one_of("status", Status), name="status_known"),
        CheckConstraint(_one_of("visibility", Visibility), name="visibility_known"),
        CheckConstraint(_one_of("maturity", Maturity), name="maturity_known"),
        CheckConstraint("prize_total >= 0", name="prize_total_not_negative"),
        # Browsing reads one status in one of three orders: each is an index walk, not a
        # filter over every need with an earlier deadline. Public needs by deadline (what
        # visitors browse) and their capped count are read from the index alone.
        Index("ix_challenges_status_deadline", "status", "deadline"),
        Index("ix_challenges_public_by_deadline", "status", "visibility", "deadline"),
        Index("ix_challenges_status_created_at", "status", "created_at"),
        Index("ix_challenges_status_prize_total", "status", "prize_total"),
    )

    @property
    def current_terms(self) -> TermsVersion | None:
        return self.versions[-1] if self.versions else None

    def __repr__(self) -> str:
        return f"<Challenge {self.id} {self.title!r} {self.status}>"


class TermsVersion(db.Model):
    """One immutable version of a need's terms; ``sha256`` is over its canonical JSON."""

    __tablename__ = "terms_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    version: Mapped[int]
    content: Mapped[dict] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    change_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    challenge: Mapped[Challenge] = relationship(back_populates="versions")

    __table_args__ = (UniqueConstraint("challenge_id", "version"),)

    @property
    def terms(self) -> Terms:
        return Terms.from_json(self.content)


class TermsAcceptance(db.Model):
    """A solver accepted one exact terms version (who, which, its hash, when)."""

    __tablename__ = "terms_acceptances"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    terms_version_id: Mapped[int] = mapped_column(ForeignKey("terms_versions.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    terms_version: Mapped[TermsVersion] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "terms_version_id"),)


class Invitation(db.Model):
    """A single-use, expiring link that lets a named partner see an invite-only need."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    partner_name: Mapped[str] = mapped_column(String(120), default="")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    challenge: Mapped[Challenge] = relationship()


class Guest(db.Model):
    """A user let into an invite-only need by an invitation."""

    __tablename__ = "challenge_guests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("challenge_id", "user_id"),)

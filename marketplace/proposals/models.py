from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger import BigId, UTCDateTime, utcnow
from marketplace.accounts.models import User
from marketplace.challenges.models import Challenge, TermsVersion
from marketplace.extensions import db


class ProposalStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    AWARDED = "awarded"
    DECLINED = "declined"


class MemberStatus(enum.StrEnum):
    INVITED = "invited"
    JOINED = "joined"


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class Proposal(db.Model):
    """A solver's (or a team's) answer to a need; confidential to the team and the seeker."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: Not confidential: what a platform admin may read.
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    approach: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=ProposalStatus.DRAFT, index=True)
    #: The terms version the proposal was (last) submitted under.
    terms_version_id: Mapped[int | None] = mapped_column(ForeignKey("terms_versions.id"))
    #: Bumped by every change of the team or the shares; members confirm one version.
    split_version: Mapped[int] = mapped_column(default=1)
    split_locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shortlisted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    challenge: Mapped[Challenge] = relationship()
    lead: Mapped[User] = relationship()
    terms_version: Mapped[TermsVersion | None] = relationship()
    members: Mapped[list[TeamMember]] = relationship(
        back_populates="proposal", order_by="TeamMember.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="proposal", order_by="Attachment.id"
    )

    __table_args__ = (CheckConstraint(_one_of("status", ProposalStatus), name="status_known"),)

    @property
    def joined(self) -> list[TeamMember]:
        return [m for m in self.members if m.status == MemberStatus.JOINED]

    @property
    def split_confirmed(self) -> bool:
        """Every member has joined and confirmed the current shares, which add up to 100 %."""
        return (
            all(m.status == MemberStatus.JOINED for m in self.members)
            and all(m.confirmed_version == self.split_version for m in self.members)
            and sum(m.share_bp for m in self.members) == 10_000
        )

    def __repr__(self) -> str:
        return f"<Proposal {self.id} {self.title!r} {self.status}>"


class TeamMember(db.Model):
    """One co-creator of a proposal: the lead, or someone the lead invited by email."""

    __tablename__ = "proposal_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    #: Empty until the invited person joins.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Indexed: a solver's home lists the invitations sent to their address.
    email: Mapped[str] = mapped_column(String(254), index=True)
    is_lead: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default=MemberStatus.INVITED)
    share_bp: Mapped[int] = mapped_column(default=0)
    #: The split version this member agreed to (0: none yet).
    confirmed_version: Mapped[int] = mapped_column(default=0)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invitation_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    proposal: Mapped[Proposal] = relationship(back_populates="members")
    user: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("proposal_id", "email"),
        CheckConstraint("share_bp >= 0 AND share_bp <= 10000", name="share_in_range"),
        CheckConstraint(_one_of("status", MemberStatus), name="status_known"),
    )

    @property
    def confirmed(self) -> bool:
        return self.confirmed_version == self.proposal.split_version


class Attachment(db.Model):
    """A file of a proposal, kept outside the web root under a random name."""

    __tablename__ = "proposal_attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_name: Mapped[str] = mapped_column(String(100), unique=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    proposal: Mapped[Proposal] = relationship(back_populates="attachments")


class Message(db.Model):
    """One message of the private thread between a proposal's team and the seeker."""

    __tablename__ = "proposal_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: "team" or "seeker": which side of the conversation wrote it.
    side: Mapped[str] = mapped_column(String(6))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()

    __table_args__ = (CheckConstraint("side IN ('team', 'seeker')", name="side_known"),)

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger import BigId, UTCDateTime, utcnow
from marketplace.extensions import db


class OrgRole(enum.StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    REVIEWER = "reviewer"
    FINANCE = "finance"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Stored lower-cased, so uniqueness is case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_platform_finance: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    country: Mapped[str] = mapped_column(String(2), default="")
    #: IANA zone the person sees times in; everything is stored in UTC.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lowercase"),)

    #: The key of the server-side session this object was loaded for (set by
    #: marketplace.accounts.sessions, never stored on the user row).
    session_key = None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """What Flask-Login keeps in the session cookie and the remember cookie: the key of the
        server-side session, not the user id, so that ending that session signs both out."""
        if self.session_key is None:
            raise RuntimeError("sign users in with marketplace.accounts.sessions.start_session")
        return self.session_key

    def __eq__(self, other: object) -> bool:
        """The same person when the ids are equal (UserMixin compares ``get_id()``, which is a
        session key here)."""
        if isinstance(other, User):
            return self.id == other.id
        return NotImplemented

    __hash__ = UserMixin.__hash__

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    tagline: Mapped[str] = mapped_column(String(200), default="")
    about: Mapped[str] = mapped_column(Text, default="")
    primary_color: Mapped[str] = mapped_column(String(7), default="#2456d6")
    accent_color: Mapped[str] = mapped_column(String(7), default="#1d2433")
    logo_filename: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organization", order_by="Membership.id"
    )
    #: People whose verified email is on one of these domains see the internal needs.
    domains: Mapped[list[OrganizationDomain]] = relationship(
        order_by="OrganizationDomain.domain", cascade="all, delete-orphan"
    )

    @property
    def email_domains(self) -> list[str]:
        return [d.domain for d in self.domains]

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"


class OrganizationDomain(db.Model):
    __tablename__ = "organization_domains"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    domain: Mapped[str] = mapped_column(String(253), index=True)

    __table_args__ = (
        UniqueConstraint("organization_id", "domain"),
        CheckConstraint("domain = lower(domain)", name="domain_lowercase"),
    )


class Membership(db.Model):
    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")

    __table_args__ = (
        UniqueConstraint("organization_id", "user_id"),
        CheckConstraint(
            "role IN (" + ", ".join(f"'{r.value}'" for r in OrgRole) + ")", name="role_known"
        ),
    )


class ApiToken(db.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once.

    ``scopes`` is the space-separated list of what it may do (marketplace.accounts.scopes);
    it stops working at ``expires_at``. ``last_used_address`` is the client address of the use
    recorded at ``last_used_at``.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(12))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_address: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User] = relationship()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class SessionEnd(enum.StrEnum):
    """Why a server-side session ended (``UserSession.end_reason``)."""

    LOGOUT = "logout"
    IDLE = "idle"
    EXPIRED = "expired"
    ENDED_BY_USER = "ended_by_user"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    SIGNED_IN_AGAIN = "signed_in_again"


class UserSession(db.Model):
    """A signed-in browser. Its random key is in the session cookie (and the remember cookie
    when remembered); only the key's SHA-256 is stored. See marketplace.accounts.sessions."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Written at most once a minute per session.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    #: "Keep me signed in": a remember cookie, no idle timeout, a longer absolute one.
    remembered: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A SessionEnd value.
    end_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="ended_with_a_reason"),
    )

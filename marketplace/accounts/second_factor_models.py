"""A user's second factor: a TOTP authenticator and its single-use recovery codes.

The TOTP secret lives only here, on the server (never in the session cookie). A row whose
``confirmed_at`` is None is an enrolment under way: it protects nothing until a first valid
code confirms it. Recovery codes are stored as their SHA-256 only (each is 80 random bits, so
a fast hash is enough, as for API tokens).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger import BigId, UTCDateTime, utcnow
from marketplace.extensions import db


class SecondFactor(db.Model):
    __tablename__ = "second_factors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    #: Base32, as authenticator apps read it.
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: None while the enrolment waits for its first valid code.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The last TOTP time step accepted: a code of this step or an earlier one is refused, so
    #: a code seen once cannot be replayed within its window.
    last_step: Mapped[int | None] = mapped_column(BigInteger)

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        cascade="all, delete-orphan", order_by="RecoveryCode.id"
    )


class RecoveryCode(db.Model):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    second_factor_id: Mapped[int] = mapped_column(ForeignKey("second_factors.id"), index=True)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

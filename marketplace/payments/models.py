from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger import BigId, UTCDateTime, utcnow
from marketplace.extensions import db


class PaymentKind(enum.StrEnum):
    FUNDING = "funding"  # seeker pays into a challenge's escrow
    REFUND = "refund"  # unspent escrow goes back to the seeker
    VALUE_SHARE = "value_share"  # seeker pays the value share a report made it owe


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    FAILED = "failed"


class Payment(db.Model):
    """Money moving between a seeker and the platform through a provider."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), default=PaymentStatus.PENDING)
    #: The provider's id: a Checkout Session for funding, a Refund for a refund.
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: For Stripe funding: the PaymentIntent a later refund goes back through.
    payment_intent: Mapped[str | None] = mapped_column(String(255))
    checkout_url: Mapped[str | None] = mapped_column(String(2000))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: For a value share payment: the report whose share it pays.
    value_report_id: Mapped[int | None] = mapped_column(ForeignKey("value_reports.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("kind IN ('funding', 'refund', 'value_share')", name="kind_known"),
        CheckConstraint("status IN ('pending', 'settled', 'failed')", name="status_known"),
    )


class StripeEvent(db.Model):
    """Each webhook event id is handled once: a replayed event writes nothing."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProviderDiscrepancy(db.Model):
    """Something the payment provider said that does not match what we sent (a webhook for a
    batch nobody approved, another amount, a transfer we never made, a partial reversal ...):
    recorded for finance and not applied. Listed on the reconciliation page and API."""

    __tablename__ = "provider_discrepancies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    event_type: Mapped[str] = mapped_column(String(100), default="")
    #: The provider's object (a transfer id), as the provider named it.
    object_id: Mapped[str | None] = mapped_column(String(255))
    #: The payout line the provider named; no foreign key: it may name a line that is not ours.
    payout_line_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger import BigId, UTCDateTime, utcnow
from marketplace.extensions import db


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    #: A rule said no: a wrong password, a missing permission, a refused step.
    REFUSED = "refused"
    #: The action was allowed but did not complete (a provider error, say).
    FAILED = "failed"


class AuditEvent(db.Model):
    """One event of the audit log. Rows are only ever inserted: on PostgreSQL a trigger
    refuses UPDATE, DELETE and TRUNCATE (migration 0022), as for ledger transfers.

    The ids it mentions (actor, token, organization, object) are plain numbers, not foreign
    keys: the log outlives what it mentions, and an append-only row could never let its
    user, membership or attachment be deleted.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Who acted (None: nobody signed in, e.g. a failed sign-in with an unknown email).
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    #: The API token the request came with, if any.
    api_token_id: Mapped[int | None] = mapped_column(BigInteger)
    #: A dotted name: "session.sign_in", "token.create", "payout_batch.approve".
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    #: The organization whose owners see the event on their settings page.
    organization_id: Mapped[int | None] = mapped_column(BigInteger)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    outcome: Mapped[str] = mapped_column(String(16), default=Outcome.SUCCEEDED.value)
    #: A few facts of the event (amounts, roles, reasons); never a secret.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o.value}'" for o in Outcome) + ")",
            name="outcome_known",
        ),
        Index("ix_audit_events_time", "occurred_at", "id"),
        Index("ix_audit_events_organization", "organization_id", "occurred_at", "id"),
        Index("ix_audit_events_actor", "actor_user_id", "occurred_at", "id"),
        Index("ix_audit_events_action", "action", "occurred_at", "id"),
        Index("ix_audit_events_object", "object_type", "object_id", "occurred_at", "id"),
    )

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.outcome}>"

"""The transactional outbox: every background job is first a row, written in the same
transaction as the change it follows, so a job is never lost and never runs for a change that
was rolled back. ``marketplace.queue`` hands the rows to rq (or runs them inline) after the
commit; the relay hands over whatever is still waiting.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger import BigId, UTCDateTime, utcnow
from marketplace.extensions import db


class JobStatus(enum.StrEnum):
    PENDING = "pending"  # committed, not handed to rq yet (or Redis was away)
    QUEUED = "queued"  # handed to rq
    RUNNING = "running"  # a worker (or the inline runner) is on it
    RETRYING = "retrying"  # failed; tried again after ``available_at``
    DONE = "done"
    DEAD = "dead"  # every try failed: shown to platform admins, who can retry it


class JobQueue(enum.StrEnum):
    """Separate queues, so a flood of emails never holds up an approved payout batch."""

    PAYOUTS = "payouts"
    EMAILS = "emails"
    EXPORTS = "exports"
    DEFAULT = "default"


#: Seconds to wait before each retry; a job is tried ``len(BACKOFF) + 1`` times in all.
BACKOFF = (10, 60, 300, 900, 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try."""
    return timedelta(seconds=BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1])


class OutboxJob(db.Model):
    __tablename__ = "outbox_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    function: Mapped[str] = mapped_column(String(200))  # dotted name under marketplace.jobs
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    queue: Mapped[str] = mapped_column(String(20), default=JobQueue.DEFAULT)
    timeout: Mapped[int] = mapped_column(default=600)  # seconds a worker may spend on one try
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=MAX_ATTEMPTS)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'queued', 'running', 'retrying', 'done', 'dead')",
            name="status_known",
        ),
        CheckConstraint("queue IN ('payouts', 'emails', 'exports', 'default')", name="queue_known"),
        CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts_counted"),
        # The relay's and the operations page's question: what is waiting, and since when.
        Index("ix_outbox_jobs_status_available_at", "status", "available_at"),
    )

    @property
    def rq_id(self) -> str:
        return f"outbox-{self.id}"

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger import BigId, UTCDateTime, utcnow
from marketplace.extensions import db


class IdempotencyKey(db.Model):
    """An ``Idempotency-Key`` a user sent with an API write: the request it stands for, and
    once the endpoint has answered, that answer, replayed to every retry for 24 hours.

    While the first request runs the row is *held*: ``holder`` names that attempt and
    ``locked_until`` says until when the hold counts (a killed worker's hold lapses, then a
    retry takes the key over). The unique (user_id, key) decides between parallel requests.
    """

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of the method, path, query and body: the same key with another request is a 422.
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: The attempt holding the key (a random id), until ``locked_until``; None once answered.
    holder: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The stored answer: None while the request runs.
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: [[name, value], ...] of the headers worth replaying (Content-Type, Location).
    response_headers: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set in the endpoint's own transaction as it commits: the work is done even if the
    #: answer never gets stored (the worker died in between), so the key is never run again.
    work_committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("user_id", "key"),)

    def __repr__(self) -> str:
        return f"<IdempotencyKey {self.id} user {self.user_id} {self.status_code or 'held'}>"

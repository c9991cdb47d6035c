"""Claiming, answering, releasing and purging idempotency keys (the rows; the HTTP side is in
``marketplace.idempotency.hooks``).

Each step is its own short transaction, apart from the endpoint's: a claim is committed before
the endpoint runs, so a parallel request with the same key sees it (on PostgreSQL the second
insert waits for the first to commit, then fails on the unique (user_id, key); SQLite runs one
writer at a time), and the answer is written once the endpoint has committed its work.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import as_utc, utcnow
from marketplace.audit.log import record
from marketplace.db import transaction
from marketplace.errors import Conflict, Invalid
from marketplace.extensions import db
from marketplace.idempotency.models import IdempotencyKey

#: How long a key and its answer are kept: a retry later than this is a new request.
KEEP_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Held:
    """This request holds the key: it runs the endpoint, then answers or releases the key."""

    key_id: int
    holder: str


@dataclass(frozen=True)
class Stored:
    """The first request's answer, to replay."""

    status_code: int
    body: bytes
    headers: list[list[str]]


def claim(user_id: int, key: str, fingerprint: str, hold: timedelta) -> Held | Stored:
    """Take ``key`` for this request, or say why not.

    Returns ``Held`` for a key never seen (or expired, or whose holder's hold lapsed: its
    worker died) and ``Stored`` for a finished request with the same fingerprint. Raises
    ``Invalid`` (422) when the key was used for another request, and ``Conflict`` (409) while
    the request holding it still runs.
    """
    holder = secrets.token_hex(16)
    now = utcnow()
    fresh = {"fingerprint": fingerprint, "holder": holder, "locked_until": now + hold}
    with transaction():
        row = IdempotencyKey(user_id=user_id, key=key, created_at=now, **fresh)
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:  # the key exists: decide against the committed row
            pass
        else:
            return Held(row.id, holder)
        row = db.session.scalars(
            select(IdempotencyKey)
            .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if as_utc(row.created_at) <= now - KEEP_FOR:  # not purged yet: a new request
            _reset(row, created_at=now, **fresh)
            return Held(row.id, holder)
        if row.fingerprint != fingerprint:
            record(
                "idempotency_key.reuse",
                object_type="idempotency_key",
                object_id=row.id,
                outcome="refused",
                apart=True,
            )
            raise Invalid(
                "This Idempotency-Key was already used for another request (another method, "
                "path or body). Use a new key for a new request.",
                {"Idempotency-Key": ["Already used for another request."]},
            )
        if row.status_code is not None:
            return Stored(row.status_code, row.response_body or b"", row.response_headers or [])
        if row.locked_until is not None and as_utc(row.locked_until) > now:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry it in a "
                "moment to get its answer."
            )
        if row.work_committed_at is not None:  # done, but its worker died before answering
            raise Conflict(
                "The request with this Idempotency-Key was carried out, but its answer was "
                "lost. It is not run again: look the result up (GET) instead."
            )
        _reset(row, created_at=row.created_at, **fresh)  # its holder died: take the key over
        return Held(row.id, holder)


def _reset(row: IdempotencyKey, *, created_at: datetime, **fresh: object) -> None:
    row.created_at = created_at
    row.fingerprint = fresh["fingerprint"]
    row.holder = fresh["holder"]
    row.locked_until = fresh["locked_until"]
    row.status_code = row.response_body = row.response_headers = row.completed_at = None
    row.work_committed_at = None


def answer(held: Held, status_code: int, body: bytes, headers: list[list[str]]) -> bool:
    """Store the endpoint's answer for replays; False when the key is no longer ours (our
    hold lapsed and a retry took it over: its answer counts)."""
    with transaction():
        result = db.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == held.key_id, IdempotencyKey.holder == held.holder)
            .values(
                status_code=status_code,
                response_body=body,
                response_headers=headers,
                holder=None,
                locked_until=None,
                completed_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
    return result.rowcount == 1


def release(held: Held) -> None:
    """Forget the key: the request stored nothing (its input was refused, or it failed), so
    the client may send it again under the same key. A key whose work was committed is kept
    (held until its hold lapses, then a 409): running it again would do the work twice."""
    with transaction():
        db.session.execute(
            delete(IdempotencyKey)
            .where(
                IdempotencyKey.id == held.key_id,
                IdempotencyKey.holder == held.holder,
                IdempotencyKey.work_committed_at.is_(None),
            )
            .execution_options(synchronize_session=False)
        )


def note_committed_work(session: Session, held: Held) -> None:
    """Mark, inside the transaction about to commit, that the request holding the key has
    done its work (``hooks`` calls it from the session's ``before_commit``)."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == held.key_id, IdempotencyKey.holder == held.holder)
        .values(work_committed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def purge(now: datetime | None = None) -> int:
    """Delete the keys older than ``KEEP_FOR``; returns how many."""
    cutoff = (now or utcnow()) - KEEP_FOR
    with transaction():
        result = db.session.execute(
            delete(IdempotencyKey)
            .where(IdempotencyKey.created_at <= cutoff)
            .execution_options(synchronize_session=False)
        )
    return result.rowcount

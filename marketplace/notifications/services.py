"""Telling people what happened: an in-app notification each, and an email by a job."""

from __future__ import annotations

from sqlalchemy import func, select, update

from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.db import command
from marketplace.extensions import db
from marketplace.notifications.models import Notification
from marketplace.outbox import JobQueue
from marketplace.pagination import PER_PAGE, KeysetPage, keyset_page
from marketplace.queue import enqueue

#: Emails are sent by jobs of at most this many (a job's id list stays small).
EMAILS_PER_JOB = 500


@command
def notify(user_ids: list[int], *, kind: str, title: str, body: str = "", link: str = "") -> int:
    """Notify each user once (in-app now, email through a job after the commit)."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    notifications = [
        Notification(user_id=uid, kind=kind, title=title[:200], body=body, link=link) for uid in ids
    ]
    db.session.add_all(notifications)
    db.session.flush()
    notification_ids = [n.id for n in notifications]
    for start in range(0, len(notification_ids), EMAILS_PER_JOB):
        enqueue(
            "send_notification_emails",
            notification_ids[start : start + EMAILS_PER_JOB],
            queue=JobQueue.EMAILS,
        )
    return len(notification_ids)


#: The unread count shown on every page stops here ("99+"): counting more costs more.
UNREAD_CAP = 99


def unread_count(user: User) -> int:
    """How many notifications ``user`` has not read, up to ``UNREAD_CAP`` + 1 (then shown as
    "99+"). It reads the partial index of unread notifications (migration 0015), so it costs
    the same however many notifications the user has read; nothing to keep up to date when a
    notification is written (in bulk too) or read."""
    unread = (
        select(Notification.id)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .limit(UNREAD_CAP + 1)
        .subquery()
    )
    return db.session.scalar(select(func.count()).select_from(unread))


def recent(user: User, limit: int = 50) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def inbox(
    user: User, *, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[Notification]:
    """A page of ``user``'s notifications, newest first (index ``(user_id, id)``)."""
    return keyset_page(
        select(Notification).where(Notification.user_id == user.id),
        [Notification.id],
        cursor=cursor,
        per_page=per_page,
        scalars=True,
    )


@command
def mark_all_read(user: User) -> None:
    db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )

"""Notifying a crowd at once (a value share's co-creators) in statements that do not grow
with it.

``notify_many`` is ``services.notify`` for many people: one ``INSERT ... SELECT`` writes the
notification rows from the user ids bound as one array, and ONE outbox job emails them all.
The job names the new rows by id ranges (a few numbers, not 100,000 ids), reads them in
chunks and hands each to ``send_notification_email``, which marks that email sent as soon as
it went out: a retry never sends one twice. A job that has run for ``JOB_BUDGET`` leaves the
rest to a follow-up job, so no job runs into its timeout however large the crowd.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from sqlalchemy import BigInteger, String, bindparam, cast, func, insert, literal, select
from sqlalchemy.dialects import postgresql

from ledger import UTCDateTime, utcnow
from marketplace.db import command, transaction
from marketplace.extensions import db
from marketplace.notifications.mail import send_notification_email
from marketplace.notifications.models import Notification
from marketplace.outbox import JobQueue
from marketplace.queue import enqueue

#: Inclusive ``[first id, last id]`` ranges of notification ids (lists: they travel as JSON).
Ranges = list[list[int]]

#: The job that emails a crowd's notifications (``marketplace.jobs``).
EMAIL_JOB = "send_notification_email_ranges"
#: Notifications read per statement while emailing.
EMAIL_CHUNK = 500
#: Seconds a job keeps sending before it hands the rest on (its timeout is 600 s).
JOB_BUDGET = 300.0

notifications = Notification.__table__


def _user_ids(ids: list[int]):  # noqa: ANN202 (a table-valued function of one column)
    """The ids as a one-column row source: one bound array (PostgreSQL) or JSON (SQLite)."""
    if db.session.get_bind().dialect.name == "postgresql":
        bound = cast(bindparam("user_ids", ids), postgresql.ARRAY(BigInteger))
        return func.unnest(bound).table_valued("value").render_derived("ids")
    return func.json_each(json.dumps(ids)).table_valued("value")


def ranges_of(ids: Iterable[int]) -> Ranges:
    """Consecutive ids folded into ``[first, last]`` ranges."""
    ranges: Ranges = []
    for value in sorted(ids):
        if ranges and ranges[-1][1] == value - 1:
            ranges[-1][1] = value
        else:
            ranges.append([value, value])
    return ranges


def _insert(ids: list[int], kind: str, title: str, body: str, link: str) -> Ranges:
    source = _user_ids(ids)
    rows = select(
        source.c.value,
        literal(kind, String()),
        literal(title[:200], String()),
        literal(body, String()),
        literal(link, String()),
        literal(utcnow(), UTCDateTime()),
    ).order_by(source.c.value)
    written = (
        insert(notifications)
        .from_select(["user_id", "kind", "title", "body", "link", "created_at"], rows)
        .returning(notifications.c.id)
    )
    if db.session.get_bind().dialect.name != "postgresql":
        return ranges_of(db.session.scalars(written))
    # PostgreSQL folds the new ids into ranges itself (gaps and islands): a few rows come
    # back, not one per person.
    new = written.cte("written")
    island = select(new.c.id, (new.c.id - func.row_number().over(order_by=new.c.id)).label("i"))
    islands = island.subquery()
    first = func.min(islands.c.id)
    folded = select(first, func.max(islands.c.id)).group_by(islands.c.i).order_by(first)
    return [[low, high] for low, high in db.session.execute(folded)]


@command
def notify_many(
    user_ids: Iterable[int], *, kind: str, title: str, body: str = "", link: str = ""
) -> int:
    """Notify each user once, as ``services.notify`` does, in two statements for any number
    of users (the rows, the email job); returns how many were notified."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    enqueue(EMAIL_JOB, _insert(ids, kind, title, body, link), queue=JobQueue.EMAILS)
    return len(ids)


def _unsent(first: int, last: int) -> list[int]:
    with transaction():
        return list(
            db.session.scalars(
                select(Notification.id)
                .where(
                    Notification.id.between(first, last),
                    Notification.emailed_at.is_(None),
                )
                .order_by(Notification.id)
                .limit(EMAIL_CHUNK)
            )
        )


def send_emails(ranges: Ranges) -> int:
    """Email the notifications of ``ranges`` not emailed yet; returns how many went out now.

    No transaction is open while the mail server is talked to (``send_notification_email``).
    Past ``JOB_BUDGET`` the ranges left go to a follow-up job, committed before this one ends.
    """
    started, sent = time.monotonic(), 0
    for index, (first, last) in enumerate(ranges):
        while first <= last:
            chunk = _unsent(first, last)
            if not chunk:
                break
            for notification_id in chunk:
                sent += send_notification_email(notification_id)
            first = chunk[-1] + 1
            if time.monotonic() - started > JOB_BUDGET:
                rest = ([[first, last]] if first <= last else []) + ranges[index + 1 :]
                if rest:
                    with transaction():
                        enqueue(EMAIL_JOB, rest, queue=JobQueue.EMAILS)
                return sent
    return sent

"""Counting need page views: each visitor once per need per clock hour.

The funnel's top stage compares views with people (who accepted the terms, who proposed), so a
view here is a visitor in an hour, not a page load: reloading a page, or a crawler fetching it
a hundred times, counts once. That also keeps a page view from writing on every GET. The
page's read transaction first looks for this visitor's row of this hour (a plain read, no lock);
only a visitor not seen yet this hour opens a short write transaction that inserts the row
(insert-or-ignore, so two requests at once count once), adds one to ``Challenge.view_count``
and removes the need's rows of earlier hours. Nothing is kept in process memory, so any
number of workers count alike.

The other designs considered: a conditional "once a minute per need" update counts minutes
with a visit, not visitors, and a Redis counter flushed by a job would need Redis, which the
embedded default does not have.

Signed-in visitors are known by id. Anonymous ones by a keyed hash (the app's secret key) of
their address and browser, so no address is stored.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger import utcnow
from marketplace.challenges.models import Challenge
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.insight.models import NeedVisit

HOUR_SECONDS = 3600


def visitor_key(user_id: int | None, address: str | None, browser: str | None, secret: str) -> str:
    """Who is viewing: the signed-in user's id, or a keyed hash of address and browser."""
    if user_id is not None:
        return f"user:{user_id}"
    seen = f"{address or ''}\n{browser or ''}".encode("utf-8", "surrogatepass")
    return "anon:" + hmac.new(secret.encode(), seen, hashlib.sha256).hexdigest()[:32]


def record_view(challenge_id: int, visitor: str, now: datetime | None = None) -> bool:
    """Count this visitor's view of the need unless they were counted this hour; True when
    this call counted it."""
    hour = int((now or utcnow()).timestamp()) // HOUR_SECONDS
    this_visit = (
        NeedVisit.challenge_id == challenge_id,
        NeedVisit.visitor == visitor,
        NeedVisit.hour == hour,
    )
    if db.session.scalar(select(exists().where(*this_visit))):
        return False
    with transaction():
        if not _insert_visit(challenge_id, visitor, hour):
            return False  # another request counted it meanwhile
        db.session.execute(
            update(Challenge)
            .where(Challenge.id == challenge_id)
            .values(view_count=Challenge.view_count + 1)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            delete(NeedVisit)
            .where(NeedVisit.challenge_id == challenge_id, NeedVisit.hour < hour)
            .execution_options(synchronize_session=False)
        )
    return True


def _insert_visit(challenge_id: int, visitor: str, hour: int) -> bool:
    table = NeedVisit.__table__
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = (
        insert(table)
        .values(challenge_id=challenge_id, visitor=visitor, hour=hour)
        .on_conflict_do_nothing()
        .returning(table.c.hour)
    )
    return db.session.execute(statement).first() is not None

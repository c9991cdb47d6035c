"""Is this instance ready to serve? The database answers, Redis answers, and (with Redis) a
worker and the scheduler reported in recently. Liveness (/healthz) asks none of this."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from rq.cron import CronScheduler
from rq.worker import Worker
from sqlalchemy import text

from ledger import utcnow
from marketplace.extensions import db
from marketplace.queue import is_inline, queue_names, redis_connection

#: A worker or scheduler silent for longer than this is taken as gone.
HEARTBEAT_GRACE = timedelta(minutes=2)


def readiness(app: Flask) -> dict[str, str]:
    """Each part's state, "ok" or what is wrong with it."""
    parts = {"database": _database()}
    if is_inline(app):
        parts["jobs"] = "ok"  # inline: no Redis, worker or scheduler to wait for
        return parts
    parts["redis"] = _redis(app)
    if parts["redis"] == "ok":
        parts["worker"] = _worker(app)
        parts["scheduler"] = _scheduler(app)
    return parts


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:
        db.session.rollback()
        return f"unreachable: {type(error).__name__}"
    return "ok"


def _redis(app: Flask) -> str:
    try:
        redis_connection(app).ping()
    except Exception as error:
        return f"unreachable: {type(error).__name__}"
    return "ok"


def _worker(app: Flask) -> str:
    ours = set(queue_names(app))
    cutoff = utcnow() - HEARTBEAT_GRACE
    for worker in Worker.all(connection=redis_connection(app)):
        seen = worker.last_heartbeat
        if ours & set(worker.queue_names()) and seen is not None and _aware(seen) >= cutoff:
            return "ok"
    return "no worker has reported in the last 2 minutes"


def _scheduler(app: Flask) -> str:
    prefix = f"{app.config.get('QUEUE_PREFIX', '')}cocreate:"
    cutoff = utcnow() - HEARTBEAT_GRACE
    for scheduler in CronScheduler.all(redis_connection(app)):
        seen = scheduler.last_heartbeat
        if scheduler.name.startswith(prefix) and seen is not None and _aware(seen) >= cutoff:
            return "ok"
    return "the scheduler has not reported in the last 2 minutes"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

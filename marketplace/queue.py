"""Enqueueing background jobs by name, through the outbox, and running them.

``enqueue("send_payout_batch", batch_id, queue=JobQueue.PAYOUTS)`` writes an ``OutboxJob`` row
in the caller's transaction. After the commit the row is handed to rq (REDIS_URL set) or run
inline (the embedded default). If Redis is away, the row waits: ``relay()``, run by the
scheduler, hands it over later. A job that fails is tried again with backoff (rq's ``Retry``,
or the relay inline) and, once every try has failed, waits for a platform admin on the
operations page. Job functions live in ``marketplace.jobs`` and take ids; services name them
by string, so no service imports the jobs module.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import Text, cast, or_, select, update

from ledger import utcnow
from marketplace.db import collect_after_commit, transaction
from marketplace.extensions import db
from marketplace.outbox import BACKOFF, JobQueue, JobStatus, OutboxJob, backoff

log = logging.getLogger(__name__)
JOBS_MODULE = "marketplace.jobs"
#: A row handed over or running this long past its timeout is handed over again.
STALE_AFTER = timedelta(minutes=15)
#: How early a retry may come (rq's scheduler and our backoff read the clock apart).
CLOCK_SKEW = timedelta(seconds=5)
#: A row handed over this long ago whose job Redis no longer has was lost (Redis restarted).
HANDED_GRACE = timedelta(seconds=60)


def enqueue(
    function: str, *args: Any, queue: JobQueue = JobQueue.DEFAULT, timeout: int = 600
) -> OutboxJob:
    """Record ``marketplace.jobs.<function>(*args)`` to run after the current commit."""
    _resolve(function)  # a typo fails the command now, not the worker later
    row = OutboxJob(function=function, args=list(args), queue=queue, timeout=timeout)
    db.session.add(row)
    db.session.flush()
    collect_after_commit("outbox", row.id, hand_over)
    return row


def enqueue_once(function: str, *args: Any, queue: JobQueue = JobQueue.DEFAULT) -> OutboxJob:
    """``enqueue`` unless the same job with the same arguments already waits to start (a
    burst of changes needs one refresh). The waiting row is locked until the caller commits,
    so a worker cannot start it before this change is visible to it; a row already running
    may have read too early, so a new one is enqueued then."""
    waiting = db.session.scalars(
        select(OutboxJob)
        .where(
            OutboxJob.function == function,
            OutboxJob.status.in_((JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RETRYING)),
            cast(OutboxJob.args, Text) == json.dumps(list(args)),
        )
        .order_by(OutboxJob.id)
        .limit(1)
        .with_for_update()
    ).first()
    return waiting if waiting is not None else enqueue(function, *args, queue=queue)


def is_inline(app: Flask | None = None) -> bool:
    return not (app or current_app).config.get("REDIS_URL")


def redis_connection(app: Flask | None = None) -> Redis:
    """One client per app; short timeouts, so a request never hangs on a Redis that is away."""
    app = app or current_app
    client = app.extensions.get("redis")
    if client is None:
        client = Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
        )
        app.extensions["redis"] = client
    return client


def queue_name(queue: str, app: Flask | None = None) -> str:
    return f"{(app or current_app).config.get('QUEUE_PREFIX', '')}{queue}"


def queue_names(app: Flask | None = None) -> list[str]:
    """Every queue a worker listens to, payouts first."""
    return [queue_name(queue, app) for queue in JobQueue]


def hand_over(ids: Iterable[int]) -> int:
    """Give committed rows to rq, or run them now when there is no Redis; returns how many."""
    ids = list(ids)
    if is_inline():
        for job_id in ids:
            _run_caught(job_id)
        return len(ids)
    rows = db.session.scalars(select(OutboxJob).where(OutboxJob.id.in_(ids))).all()
    handed: list[int] = []
    try:
        for row in rows:
            _push(row)
            handed.append(row.id)
    except RedisError as error:
        waiting = len(ids) - len(handed)
        log.warning("Redis is away (%s): %d job(s) wait for the relay", error, waiting)
    if handed:
        with transaction():
            db.session.execute(
                update(OutboxJob)
                .where(OutboxJob.id.in_(handed), OutboxJob.status == JobStatus.PENDING)
                .values(status=JobStatus.QUEUED, updated_at=utcnow())
            )
    return len(handed)


def _push(row: OutboxJob) -> Job:
    retries = row.max_attempts - row.attempts - 1
    return Queue(queue_name(row.queue), connection=redis_connection()).enqueue_call(
        "marketplace.queue.run_outbox_job",
        args=(row.id,),
        job_id=row.rq_id,
        timeout=row.timeout,
        retry=Retry(max=retries, interval=list(BACKOFF)) if retries > 0 else None,
        result_ttl=86_400,
        failure_ttl=7 * 86_400,
        description=f"{row.function}{tuple(row.args)!r}",
    )


def _resolve(function: str) -> Callable[..., Any]:
    target = getattr(importlib.import_module(JOBS_MODULE), function, None)
    if not callable(target) or function.startswith("_"):
        raise LookupError(f"no job named {function!r} in {JOBS_MODULE}")
    return target


def run_outbox_job(job_id: int) -> Any:
    """The rq entry point: run one outbox row (at most once after it is done). The worker
    (``flask jobs worker``) gives each job an app context."""
    if not has_app_context():
        raise RuntimeError("run jobs with `flask jobs worker`: it gives them an app context")
    return _run(job_id)


def _claim(job_id: int) -> tuple[str, list[Any]] | None:
    """Mark the row running (locked, so two workers never both take it)."""
    with transaction():
        row = db.session.scalars(
            select(OutboxJob).where(OutboxJob.id == job_id).with_for_update()
        ).first()
        if row is None or row.status in (JobStatus.DONE, JobStatus.DEAD):
            return None
        now = utcnow()
        busy_until = row.updated_at + timedelta(seconds=row.timeout)
        if row.status == JobStatus.RUNNING and busy_until > now:
            return None  # another worker has it
        if row.status == JobStatus.RETRYING and row.available_at > now + CLOCK_SKEW:
            return None  # a stale copy of the job came early: the relay hands it over when due
        row.status, row.attempts, row.updated_at = JobStatus.RUNNING, row.attempts + 1, now
        return row.function, list(row.args)


def _run(job_id: int) -> Any:
    claimed = _claim(job_id)
    if claimed is None:
        return None
    function, args = claimed
    try:
        result = _resolve(function)(*args)
    except Exception as error:
        db.session.rollback()
        _record_failure(job_id, error)
        raise
    with transaction():
        row = db.session.get(OutboxJob, job_id)
        row.status, row.finished_at, row.last_error = JobStatus.DONE, utcnow(), ""
    return result


def _record_failure(job_id: int, error: Exception) -> None:
    with transaction():
        row = db.session.scalars(
            select(OutboxJob).where(OutboxJob.id == job_id).with_for_update()
        ).one()
        row.last_error = f"{type(error).__name__}: {error}"[:4000]
        if row.attempts >= row.max_attempts:
            row.status, row.finished_at = JobStatus.DEAD, utcnow()
            log.error("job %s %s gave up after %d tries: %s", row.id, row.function,
                      row.attempts, row.last_error)  # fmt: skip
        else:
            row.status, row.available_at = JobStatus.RETRYING, utcnow() + backoff(row.attempts)
            log.warning("job %s %s failed (try %d of %d): %s", row.id, row.function,
                        row.attempts, row.max_attempts, row.last_error)  # fmt: skip


def _run_caught(job_id: int) -> None:
    """Inline: a failing job is recorded and retried later, never an error for the caller."""
    try:
        _run(job_id)
    except Exception:
        log.warning("inline job %s failed; it is retried later", job_id, exc_info=True)


def relay(limit: int = 500) -> int:
    """Hand over what still waits: rows Redis never got, and rows rq lost or gave up on
    (a worker killed mid-job, a Redis restarted empty). Inline, run the rows that are due.
    Returns how many rows were handed over or run."""
    now = utcnow()
    if is_inline():
        due = db.session.scalars(
            select(OutboxJob.id)
            .where(
                OutboxJob.status.in_((JobStatus.PENDING, JobStatus.RETRYING, JobStatus.QUEUED)),
                OutboxJob.available_at <= now,
            )
            .order_by(OutboxJob.id)
            .limit(limit)
        ).all()
        return hand_over([*due, *_abandoned(now, limit)])
    pending = db.session.scalars(
        select(OutboxJob.id)
        .where(
            OutboxJob.status == JobStatus.PENDING,
            # younger rows are being handed over by the request that committed them
            OutboxJob.updated_at < now - HANDED_GRACE,
        )
        .order_by(OutboxJob.id)
        .limit(limit)
    ).all()
    stale_rows = db.session.scalars(
        select(OutboxJob)
        .where(
            or_(
                OutboxJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                (OutboxJob.status == JobStatus.RETRYING) & (OutboxJob.available_at < now),
            ),
            OutboxJob.updated_at < now - HANDED_GRACE,
        )
        .order_by(OutboxJob.id)
        .limit(limit)
    ).all()
    lost = [row.id for row in stale_rows if _lost_by_rq(row, now)]
    if lost:
        with transaction():
            db.session.execute(
                update(OutboxJob).where(OutboxJob.id.in_(lost)).values(status=JobStatus.PENDING)
            )
    return hand_over([*pending, *lost])


def _abandoned(now: datetime, limit: int) -> list[int]:
    """Inline rows left running by a process that died mid-job (a web worker's timeout)."""
    running = db.session.scalars(
        select(OutboxJob)
        .where(OutboxJob.status == JobStatus.RUNNING, OutboxJob.updated_at < now - HANDED_GRACE)
        .order_by(OutboxJob.id)
        .limit(limit)
    )
    return [row.id for row in running if row.updated_at + timedelta(seconds=row.timeout) < now]


def _lost_by_rq(row: OutboxJob, now: datetime) -> bool:
    """True when rq will not run the row by itself: Redis forgot the job (restarted empty),
    or the job failed, stopped or finished while the row says it never did."""
    try:
        job = Job.fetch(row.rq_id, connection=redis_connection())
    except RedisError:
        return False
    except NoSuchJobError:
        return True
    if row.status == JobStatus.RUNNING:
        overdue = row.updated_at + timedelta(seconds=row.timeout) + STALE_AFTER < now
        return overdue and job.get_status(refresh=False) != "started"
    return job.get_status(refresh=False) in ("failed", "stopped", "canceled", "finished")


def retry(job_id: int) -> OutboxJob | None:
    """Try a job again from the start (the operations page's button); joins the caller's
    transaction and hands the row over after its commit."""
    row = db.session.scalars(
        select(OutboxJob).where(OutboxJob.id == job_id).with_for_update()
    ).first()
    if row is None:
        return None
    row.status, row.attempts, row.available_at = JobStatus.PENDING, 0, utcnow()
    row.finished_at = None
    collect_after_commit("outbox", row.id, hand_over)
    return row


def register_inline_relay(app: Flask, every: timedelta = timedelta(seconds=60)) -> None:
    """The embedded default has no scheduler: retry due inline jobs after a request, at most
    once a minute per process."""
    if not is_inline(app):
        return

    @app.after_request
    def relay_now_and_then(response):  # noqa: ANN001, ANN202
        last = app.extensions.get("outbox_relay_at")
        now = utcnow()
        if response.status_code < 500 and (last is None or now - last >= every):
            app.extensions["outbox_relay_at"] = now
            try:
                relay(limit=20)
            except Exception:
                log.warning("the inline outbox relay failed", exc_info=True)
        return response

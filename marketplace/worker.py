"""The rq worker and scheduler processes, each building the app once.

rq's default worker starts a fresh Python process for every job, which here means building
the whole app (about 5 s) per job. ``AppWorker`` runs jobs in its own process instead, inside
an app context of the one app it built at start-up. Start it with ``flask jobs worker``; start
the schedule (``marketplace.schedule``) with ``flask jobs scheduler``.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from flask import Flask
from rq.cron import CronScheduler
from rq.worker import SimpleWorker

from marketplace.queue import queue_names, redis_connection
from marketplace.schedule import SCHEDULE

#: A worker or scheduler that has not reported for this long is taken as gone (/readyz).
HEARTBEAT_GRACE_SECONDS = 120


class AppWorker(SimpleWorker):
    """Runs each job in the same process, inside an app context of the app it was given."""

    app: Flask

    def perform_job(self, job: Any, queue: Any, execution: Any) -> bool:  # noqa: ANN401
        with self.app.app_context():
            return super().perform_job(job, queue, execution)


def scheduler_name(app: Flask) -> str:
    return f"{app.config.get('QUEUE_PREFIX', '')}cocreate:{socket.gethostname()}:{os.getpid()}"


def run_worker(app: Flask, *, burst: bool = False) -> bool:
    """Work the payouts, emails, exports and default queues (in that order of priority);
    with the rq scheduler, so jobs retried with backoff come back when due."""
    worker = AppWorker(queue_names(app), connection=redis_connection(app))
    worker.app = app
    return worker.work(burst=burst, with_scheduler=True)


def build_scheduler(app: Flask) -> CronScheduler:
    scheduler = CronScheduler(connection=redis_connection(app), name=scheduler_name(app))
    prefix = app.config.get("QUEUE_PREFIX", "")
    for entry in SCHEDULE:
        scheduler.register(
            entry.function,
            f"{prefix}{entry.queue}",
            interval=entry.interval,
            cron=entry.cron,
            job_timeout=entry.timeout,
            name=entry.function.__name__,
        )
    return scheduler

"""The schedule: rq's cron scheduler enqueues each periodic job on its queue, and a real
worker runs it."""

from __future__ import annotations

import os
import uuid

from rq import Queue

from marketplace import create_app
from marketplace.extensions import db
from marketplace.outbox import JobQueue
from marketplace.queue import redis_connection
from marketplace.schedule import SCHEDULE
from marketplace.worker import build_scheduler
from tests.conftest import migrated_database, need_service, test_config
from tests.test_jobs import run_worker


def test_the_schedule_lists_the_periodic_work_the_design_names() -> None:
    plan = {
        entry.function.__name__: (entry.queue, entry.interval, entry.cron) for entry in SCHEDULE
    }
    assert plan == {
        "relay_outbox": (JobQueue.DEFAULT, 30, None),
        "advance_deadlines": (JobQueue.DEFAULT, 300, None),
        "resume_payouts": (JobQueue.PAYOUTS, 300, None),
        "verify_book": (JobQueue.DEFAULT, None, "15 3 * * *"),
        "reconcile_with_provider": (JobQueue.DEFAULT, None, "45 3 * * *"),
        "fill_daily_totals": (JobQueue.DEFAULT, None, "*/5 * * * *"),
        "purge_idempotency_keys": (JobQueue.DEFAULT, None, "20 * * * *"),
        "purge_sessions": (JobQueue.DEFAULT, None, "10 4 * * *"),
    }


def test_the_scheduler_enqueues_every_due_job_and_a_worker_runs_them(database, tmp_path):
    redis_url = need_service("TEST_REDIS_URL", "the scheduler test")
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    with migrated_database(database.kind, tmp_path) as fresh:
        app = create_app(test_config(fresh.url, REDIS_URL=redis_url, QUEUE_PREFIX=prefix))
        scheduler = build_scheduler(app)
        assert {job.queue_name for job in scheduler.get_jobs()} == {
            f"{prefix}default",
            f"{prefix}payouts",
        }
        # Interval jobs are due at once; the nightly ones wait for 03:15 and 03:45 UTC.
        enqueued = {job.func.__name__ for job in scheduler.enqueue_jobs()}
        assert enqueued == {"relay_outbox", "advance_deadlines", "resume_payouts"}
        connection = redis_connection(app)
        default = Queue(f"{prefix}default", connection=connection)
        payouts = Queue(f"{prefix}payouts", connection=connection)
        jobs = [*default.get_jobs(), *payouts.get_jobs()]
        assert len(jobs) == 3
        env = {**os.environ, "DATABASE_URL": fresh.url, "REDIS_URL": redis_url,
               "QUEUE_PREFIX": prefix, "SECRET_KEY": "worker-test"}  # fmt: skip
        done = run_worker(env)
        assert done.returncode == 0, done.stderr
        for job in jobs:
            job.refresh()
            assert job.get_status() == "finished", (job.func_name, done.stderr)
            assert job.return_value() == 0  # nothing to relay, move or resume in a new book
        with app.app_context():
            db.engine.dispose()

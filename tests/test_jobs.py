"""The outbox: jobs are rows committed with their change, run after the commit (inline on the
embedded defaults, by a real rq worker with Redis), retried with backoff, and shown to admins
when every try failed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import ledger
from ledger import utcnow
from marketplace import create_app, jobs, queue
from marketplace.db import transaction
from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.outbox import MAX_ATTEMPTS, JobQueue, JobStatus, OutboxJob
from marketplace.queue import enqueue, relay
from tests.conftest import migrated_database, need_service, test_config
from tests.factories import UserFactory


def fund_escrow(challenge_id: int, amount: int, currency: str) -> None:
    """Two accounts and one committed transfer: a small book for verify to check."""
    with transaction():
        cash = chart.cash(db.session, currency)
        escrow = chart.escrow(db.session, challenge_id, currency)
        ledger.post_transfer(
            db.session, debit=cash.id, credit=escrow.id, amount=amount, code="FUND_ESCROW",
            key="fund", recorded_by="test",
        )  # fmt: skip


def test_without_redis_a_job_runs_inline_after_the_commit(app) -> None:
    with app.app_context():
        fund_escrow(1, 500, "USD")
        with transaction():
            row = enqueue("verify_book")
            assert row.status == JobStatus.PENDING  # nothing runs inside the transaction
        row = db.session.get(OutboxJob, row.id)
        assert (row.status, row.attempts) == (JobStatus.DONE, 1)


def test_a_refused_command_leaves_no_job(app) -> None:
    with app.app_context():
        with pytest.raises(Invalid), transaction():
            enqueue("verify_book")
            raise Invalid("refused")
        assert db.session.scalar(select(func.count(OutboxJob.id))) == 0


def test_an_unknown_job_name_fails_the_command_not_the_worker(app) -> None:
    with app.app_context(), pytest.raises(LookupError), transaction():
        enqueue("no_such_job")


def test_a_failing_job_is_retried_with_backoff_then_shown_to_admins(app, client, auth, monkeypatch):
    calls = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(jobs, "verify_book", broken)
    with app.app_context():
        with transaction():
            job_id = enqueue("verify_book").id
        job = db.session.get(OutboxJob, job_id)
        assert (job.status, job.attempts) == (JobStatus.RETRYING, 1)
        assert job.available_at > utcnow() + timedelta(seconds=5)  # waits before the next try
        assert relay() == 0 and len(calls) == 1  # not due yet
        UserFactory(email="ada@platform.example", is_admin=True, second_factor=True)
    auth.login("ada@platform.example")
    assert client.post(f"/admin/jobs/{job_id}/retry").status_code == 409  # retrying by itself
    auth.logout()
    with app.app_context():
        job = db.session.get(OutboxJob, job_id)
        for attempt in range(2, MAX_ATTEMPTS + 1):
            job.available_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
            relay()
            job = db.session.get(OutboxJob, job_id)
            assert job.attempts == attempt
        assert job.status == JobStatus.DEAD
        assert job.last_error == "RuntimeError: the disk is on fire"
        assert len(calls) == MAX_ATTEMPTS
        UserFactory(email="fiona@platform.example", is_platform_finance=True, second_factor=True)
    # Only platform admins see the page and may retry.
    auth.login("fiona@platform.example")
    assert client.get("/admin/jobs").status_code == 403
    assert client.post(f"/admin/jobs/{job_id}/retry").status_code == 403
    auth.logout()
    auth.login("ada@platform.example")
    page = client.get("/admin/jobs")
    assert page.status_code == 200
    assert client.get("/admin/jobs?page=²").status_code == 200  # odd input: the first page
    assert b"the disk is on fire" in page.data and f"job-{job_id}".encode() in page.data
    monkeypatch.setattr(jobs, "verify_book", lambda: {"ok": True})
    assert client.post(f"/admin/jobs/{job_id}/retry").status_code == 302
    with app.app_context():
        job = db.session.get(OutboxJob, job_id)
        assert (job.status, job.attempts) == (JobStatus.DONE, 1)
    assert client.post(f"/admin/jobs/{job_id}/retry").status_code == 409  # done: nothing to retry


def test_anonymous_users_are_sent_to_sign_in_for_the_jobs_page(client) -> None:
    assert client.get("/admin/jobs").status_code == 302


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess:
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run(
        [str(flask), "--app", "wsgi", "jobs", "worker", "--burst"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_a_real_rq_worker_runs_the_job_once(database, tmp_path) -> None:
    redis_url = need_service("TEST_REDIS_URL", "the rq worker test")
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    with migrated_database(database.kind, tmp_path) as fresh:
        app = create_app(test_config(fresh.url, REDIS_URL=redis_url, QUEUE_PREFIX=prefix))
        with app.app_context():
            fund_escrow(7, 1234, "EUR")
            with transaction():
                job_id = enqueue("verify_book", queue=JobQueue.DEFAULT).id
            assert db.session.get(OutboxJob, job_id).status == JobStatus.QUEUED
            db.engine.dispose()
        env = {**os.environ, "DATABASE_URL": fresh.url, "REDIS_URL": redis_url,
               "QUEUE_PREFIX": prefix, "SECRET_KEY": "worker-test"}  # fmt: skip
        done = run_worker(env)
        assert done.returncode == 0, done.stderr
        with app.app_context():
            job = db.session.get(OutboxJob, job_id)
            assert (job.status, job.attempts) == (JobStatus.DONE, 1), done.stderr
            assert relay() == 0  # nothing is handed over twice
            db.engine.dispose()


def test_a_job_of_a_rolled_back_command_is_never_handed_over_later(app, monkeypatch) -> None:
    handed: list[list[int]] = []
    monkeypatch.setattr(queue, "hand_over", lambda ids: handed.append(list(ids)))
    with app.app_context():
        with pytest.raises(Invalid), transaction():
            enqueue("verify_book")
            raise Invalid("refused")
        with transaction():
            kept = enqueue("verify_book").id
    assert handed == [[kept]]


def test_a_retry_that_comes_before_its_backoff_is_not_run(app, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(jobs, "verify_book", lambda: calls.append(1))
    with app.app_context():
        with transaction():
            row = enqueue("verify_book")
            row.status, row.attempts = JobStatus.RETRYING, 1
            row.available_at = utcnow() + timedelta(minutes=5)
            job_id = row.id
        monkeypatch.setattr(queue, "is_inline", lambda app=None: False)
        assert queue.run_outbox_job(job_id) is None  # rq's stale copy, early
        assert calls == []
        assert db.session.get(OutboxJob, job_id).attempts == 1


def test_the_inline_relay_runs_again_a_job_whose_process_died_mid_job(app, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(jobs, "verify_book", lambda: calls.append(1))
    with app.app_context():
        with transaction():
            row = enqueue("verify_book")
            job_id = row.id
        calls.clear()
        job = db.session.get(OutboxJob, job_id)
        job.status, job.updated_at = JobStatus.RUNNING, utcnow() - timedelta(minutes=2)
        db.session.commit()
        assert relay() == 0  # still inside its timeout: another process may be on it
        job.status, job.updated_at = JobStatus.RUNNING, utcnow() - timedelta(minutes=11)
        db.session.commit()
        assert relay() == 1
        assert calls == [1]
        assert db.session.get(OutboxJob, job_id).status == JobStatus.DONE

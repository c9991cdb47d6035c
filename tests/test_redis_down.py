# ruff: noqa: F811  (pytest fixtures imported from other test packages)
"""Redis stopped while people work: every command answers normally and loses nothing.

The app runs against a Redis of the test's own (never the shared one) and a fresh database
that a real ``flask jobs worker`` process shares. With that Redis stopped, a finance user
approves a payout batch and starts an export, a manager answers a question, someone
registers and a lead invites a co-creator. Once Redis is back and the relay has run, the
worker runs every job exactly once and the local SMTP server receives every email once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from ledger import utcnow
from marketplace import create_app
from marketplace.dialogue import services as dialogue
from marketplace.extensions import db
from marketplace.finance.models import BookExport
from marketplace.notifications.models import Notification
from marketplace.outbox import JobStatus, OutboxJob
from marketplace.payouts import batches
from marketplace.payouts.models import PayoutBatch, PayoutLine
from marketplace.queue import relay
from tests.challenges.conftest import people, user  # noqa: F401
from tests.conftest import migrated_database, need_service, test_config
from tests.local_servers import OwnRedis, SMTPServer
from tests.payouts.conftest import finance, onboard, owed  # noqa: F401
from tests.proposals.conftest import draft_proposal, need, submitted  # noqa: F401
from tests.second_factors import fresh_code
from tests.test_jobs import run_worker


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    need_service("TEST_REDIS_URL", "the Redis-down test")  # runs where Redis is installed
    server = OwnRedis().start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    yield server
    server.stop()


@pytest.fixture
def app(database, tmp_path, own_redis, smtp):
    """This module's app: real commits in a fresh database, jobs through our own Redis."""
    with migrated_database(database.kind, tmp_path) as fresh:
        settings = {
            "REDIS_URL": own_redis.url,
            "RATELIMIT_STORAGE_URI": own_redis.url,
            "QUEUE_PREFIX": f"test-{uuid.uuid4().hex[:8]}-",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp.port,
            "MAIL_USE_TLS": False,
            "EXPORT_FOLDER": str(tmp_path / "exports"),
        }
        app = create_app(test_config(fresh.url, **settings))
        app.worker_env = {
            **os.environ, "DATABASE_URL": fresh.url, "SECRET_KEY": "worker-test",
            **{name: str(value) for name, value in settings.items()}, "MAIL_USE_TLS": "0",
        }  # fmt: skip
        yield app
        with app.app_context():
            db.engine.dispose()


def outbox(app) -> dict[str, int]:
    with app.app_context():
        return dict(
            db.session.execute(
                select(OutboxJob.status, func.count(OutboxJob.id)).group_by(OutboxJob.status)
            ).all()
        )


def test_with_redis_down_commands_answer_and_every_job_runs_once_it_is_back(
    app,
    client,
    auth,
    own_redis,
    smtp,
    people,
    need,
    owed,
    finance,  # noqa: F811
) -> None:
    onboard(app, owed.lead, owed.partner)
    with app.app_context():
        batch_id = batches.prepare_batch(user(finance.preparer), "USD", 1).id
        question = dialogue.ask(user(people.other_solver), need, "Does it work below 0 °C?")
        question_id = question.id
    proposal_id = draft_proposal(app, people.other_solver, need, title="A second approach")
    queued_before = outbox(app).get(JobStatus.QUEUED, 0)
    assert queued_before > 0  # the set-up's own emails went to Redis

    own_redis.stop()
    answers = []
    answers.append(auth.login(finance.approver).status_code)
    with app.app_context():
        code = {"code": fresh_code(finance.approver)}
    answers.append(client.post(f"/finance/payouts/{batch_id}/approve", data=code).status_code)
    answers.append(client.post("/finance/exports", data={"format": "csv"}).status_code)
    auth.logout()
    auth.login(people.manager)
    answers.append(
        client.post(f"/clarifications/{question_id}/answer", data={"answer": "Yes."}).status_code
    )
    auth.logout()
    answers.append(
        client.post(
            "/register",
            data={
                "email": "newcomer@example.com",
                "name": "Newcomer",
                "password": "a long pass phrase",
                "confirm": "a long pass phrase",
            },
        ).status_code  # fmt: skip
    )
    auth.logout()
    auth.login(people.other_solver)
    answers.append(
        client.post(
            f"/proposals/{proposal_id}/team/invite",
            data={"email": "co@example.com", "share_percent": "40"},
        ).status_code
    )
    assert all(200 <= status < 400 for status in answers), answers
    waiting = outbox(app).get(JobStatus.PENDING, 0)
    assert waiting >= 5  # payout batch, export, answer emails, verification, invitation
    with app.app_context():
        assert db.session.get(PayoutBatch, batch_id).status == "approved"
        # A minute and a half later, the scheduler's relay looks at what still waits.
        db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.status.in_((JobStatus.PENDING, JobStatus.QUEUED)))
            .values(updated_at=utcnow() - timedelta(seconds=90))
        )
        db.session.commit()
        assert relay() == 0  # Redis still away: the rows keep waiting
    assert outbox(app).get(JobStatus.PENDING, 0) == waiting

    own_redis.start()  # back, and empty: the jobs handed over before it stopped are gone too
    with app.app_context():
        assert relay() == waiting + queued_before
        assert relay() == 0  # each handed over once
    done = run_worker(app.worker_env)
    assert done.returncode == 0, done.stderr

    statuses = outbox(app)
    with app.app_context():
        errors = db.session.scalars(select(OutboxJob.last_error).where(OutboxJob.last_error != ""))
        assert list(errors) == []
    assert statuses == {JobStatus.DONE: sum(statuses.values())}, statuses
    with app.app_context():
        assert set(db.session.scalars(select(OutboxJob.attempts))) == {1}  # each ran once
        assert db.session.get(PayoutBatch, batch_id).status == "completed"
        lines = db.session.scalars(select(PayoutLine.status).where(PayoutLine.batch_id == batch_id))
        assert set(lines) == {"paid"}
        assert db.session.scalar(select(BookExport.status)) == "done"
        notifications = db.session.scalar(select(func.count(Notification.id)))
        unsent = db.session.scalar(
            select(func.count(Notification.id)).where(Notification.emailed_at.is_(None))
        )
        assert unsent == 0
        personal_emails = db.session.scalar(
            select(func.count(OutboxJob.id)).where(
                OutboxJob.function.in_(("send_verification", "send_team_invitation"))
            )
        )
        assert personal_emails == 3  # the set-up's invitation, the newcomer's, the co-creator's
        db.engine.dispose()
    recipients = smtp.recipients()
    assert len(recipients) == notifications + personal_emails
    assert len(set(zip(recipients, [str(m["data"]) for m in smtp.messages], strict=True))) == len(
        recipients
    )  # no email twice
    assert sum("newcomer@example.com" in r for r in recipients) == 1
    assert sum("co@example.com" in r for r in recipients) == 1
    subjects = [str(m["data"]) for m in smtp.messages]
    assert sum("Does it work below" in s or "answer" in s.lower() for s in subjects) >= 1

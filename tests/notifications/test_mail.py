"""Email: logged when no SMTP server is configured, sent over SMTP when one is."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.jobs import send_notification_emails
from marketplace.notifications.models import Notification
from marketplace.notifications.services import notify
from marketplace.outbox import JobStatus, OutboxJob
from marketplace.queue import relay
from tests.factories import UserFactory
from tests.local_servers import SMTPServer, free_port


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    yield server
    server.stop()


def _notify_someone(app) -> int:
    with app.app_context():
        user_id = UserFactory(email="reader@example.com").id
        return user_id


def test_without_smtp_the_email_is_logged(app, caplog) -> None:
    user_id = _notify_someone(app)
    with caplog.at_level(logging.INFO, logger="marketplace.mail"), app.app_context():
        assert notify([user_id], kind="test", title="Hello there", body="Body", link="/x") == 1
    assert "to=reader@example.com subject=Hello there" in caplog.text


def test_with_smtp_configured_the_email_is_sent(app, smtp_server) -> None:
    user_id = _notify_someone(app)
    host, port = "127.0.0.1", smtp_server.port
    app.config.update(MAIL_SERVER=host, MAIL_PORT=port, MAIL_USE_TLS=False)
    try:
        with app.app_context():
            notify(
                [user_id, user_id],
                kind="test",
                title="Answer published",
                body="Q and A",
                link="/c/1",
            )
            ids = db.session.scalars(select(Notification.id)).all()
            assert len(ids) == 1  # each user once
            # The inline job sent it after notify's commit; running the job again (a retry)
            # sends nothing twice.
            assert send_notification_emails(ids) == 0
            assert db.session.get(Notification, ids[0]).emailed_at is not None
    finally:
        app.config.update(MAIL_SERVER=None)
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert "reader@example.com" in message["rcpt"][0]
    assert "Subject: Answer published" in message["data"]
    assert "http://127.0.0.1:5000/c/1" in message["data"]


def test_with_smtp_down_registering_succeeds_and_the_email_follows_when_smtp_returns(
    app, client
) -> None:
    """Inline jobs (no Redis), SMTP refusing connections: the sign-up is kept and answered
    normally; the confirmation email is recorded as failing, then sent once SMTP is back."""
    port = free_port()  # nothing listens there yet
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False)
    try:
        response = client.post(
            "/register",
            data={
                "email": "new@example.com",
                "name": "New",
                "password": "a long pass phrase",
                "confirm": "a long pass phrase",
            },
        )
        assert response.status_code in (200, 302, 303)
        assert response.status_code != 500
        with app.app_context():
            assert db.session.scalar(select(User.id).where(User.email == "new@example.com"))
            job = db.session.scalar(
                select(OutboxJob).where(OutboxJob.function == "send_verification")
            )
            assert job.status == JobStatus.RETRYING
            assert job.attempts == 1
            assert "Connection refused" in job.last_error or "Errno" in job.last_error
            assert relay() == 0 or job.status == JobStatus.RETRYING  # not due yet

        smtp = SMTPServer(port)
        try:
            with app.app_context():
                job = db.session.scalar(
                    select(OutboxJob).where(OutboxJob.function == "send_verification")
                )
                job.available_at = utcnow() - timedelta(seconds=1)  # the backoff has passed
                db.session.commit()
                assert relay() == 1
                job = db.session.get(OutboxJob, job.id)
                assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 2, "")
                assert relay() == 0  # nothing left to send
        finally:
            smtp.stop()
        assert len(smtp.messages) == 1
        assert "new@example.com" in smtp.recipients()[0]
        assert "Subject: Confirm your email address" in smtp.messages[0]["data"]
    finally:
        app.config.update(MAIL_SERVER=None)

"""Email: logged when no SMTP server is configured, sent over SMTP when one is."""

from __future__ import annotations

import logging
import socketserver
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.jobs import send_notification_emails
from marketplace.notifications.models import Notification
from marketplace.notifications.services import notify
from tests.factories import UserFactory


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""

    def handle(self) -> None:
        self.wfile.write(b"220 test SMTP\r\n")
        envelope: dict[str, object] = {"rcpt": []}
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250 test\r\n")
            elif verb == "MAIL":
                envelope["from"] = command
                self.wfile.write(b"250 OK\r\n")
            elif verb == "RCPT":
                envelope["rcpt"].append(command)
                self.wfile.write(b"250 OK\r\n")
            elif verb == "DATA":
                self.wfile.write(b"354 go on\r\n")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(data.decode())
                envelope["data"] = "".join(body)
                self.server.messages.append(envelope)
                envelope = {"rcpt": []}
                self.wfile.write(b"250 queued\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 not here\r\n")


@pytest.fixture
def smtp_server() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SMTPHandler)
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


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
    host, port = smtp_server.server_address
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
            assert send_notification_emails(ids) == 1
    finally:
        app.config.update(MAIL_SERVER=None)
    assert len(smtp_server.messages) == 2  # once from notify's inline job, once above
    message = smtp_server.messages[0]
    assert "reader@example.com" in message["rcpt"][0]
    assert "Subject: Answer published" in message["data"]
    assert "http://127.0.0.1:5000/c/1" in message["data"]

"""Sending email: logged by default, SMTP when MAIL_SERVER is configured."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import select, update

from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.notifications.models import Notification
from marketplace.text_rules import header_text

log = logging.getLogger("marketplace.mail")


def send_email(to: str, subject: str, body: str) -> None:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    # Titles are refused with line breaks where they are typed; what was stored before, or
    # comes from elsewhere, still never becomes a second header line.
    message["Subject"] = header_text(subject, 250)
    message.set_content(body)
    if not config.get("MAIL_SERVER"):
        log.info("email (not sent: no MAIL_SERVER) to=%s subject=%s\n%s", to, subject, body)
        return
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


def send_notification_email(notification_id: int) -> int:
    """Email one notification unless it went out already; 1 when it was sent now.

    No transaction is open while the mail server is talked to (it may take its 30 s
    timeout): the row is read in one short transaction and marked sent in another. Two runs
    of one job never overlap (the outbox claims a job before running it), so an email goes
    out twice only if the process dies between sending and marking."""
    with transaction():
        row = db.session.execute(
            select(Notification.title, Notification.body, Notification.link, User.email)
            .join(User, User.id == Notification.user_id)
            .where(Notification.id == notification_id, Notification.emailed_at.is_(None))
        ).first()
    if row is None:
        return 0
    link = f"{current_app.config['BASE_URL'].rstrip('/')}{row.link}"
    send_email(row.email, row.title, f"{row.body}\n\n{link}".strip())
    with transaction():
        db.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.emailed_at.is_(None))
            .values(emailed_at=utcnow())
        )
    return 1

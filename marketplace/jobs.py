"""Background jobs. rq on Redis when REDIS_URL is set; run inline otherwise (embedded default).

Jobs are module-level functions that take ids, never objects, and are enqueued only after the
database commit that they depend on (the worker may start before a later commit otherwise).
In a worker process each job runs inside an app context built from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select

import ledger
from marketplace import create_app
from marketplace.extensions import db

QUEUE_NAME = "marketplace"
_worker_app: Flask | None = None


def queue(app: Flask | None = None) -> Queue | None:
    """The rq queue of this app, or None when jobs run inline."""
    app = app or current_app
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    return Queue(QUEUE_NAME, connection=Redis.from_url(url))


def enqueue(function: Callable[..., Any], *args: Any, **options: Any) -> Job | Any:
    """Run ``function(*args)`` in a worker, or right now when there is no Redis.

    Returns the rq Job, or the function's result when run inline.
    """
    jobs = queue()
    if jobs is None:
        return function(*args)
    return jobs.enqueue(function, *args, **options)


def _in_app(function: Callable[..., Any]) -> Callable[..., Any]:
    """Give a job an app context: the caller's in inline mode, a worker-wide app otherwise."""

    def run(*args: Any) -> Any:
        global _worker_app
        if has_app_context():
            return function(*args)
        if _worker_app is None:
            _worker_app = create_app()
        with _worker_app.app_context():
            return function(*args)

    run.__name__ = function.__name__
    run.__doc__ = function.__doc__
    run.__qualname__ = function.__qualname__
    return run


@_in_app
def verify_book() -> dict[str, Any]:
    """Recompute every ledger account from its transfers (for a nightly schedule)."""
    problems = ledger.verify(db.session)
    return {
        "accounts": len(ledger.trial_balance(db.session)),
        "discrepancies": [str(problem) for problem in problems],
    }


@_in_app
def send_notification_emails(notification_ids: list[int]) -> int:
    """Email each notification to its user; returns how many were sent."""
    from marketplace.accounts.models import User
    from marketplace.notifications.mail import send_email
    from marketplace.notifications.models import Notification

    sent = 0
    for notification, email in db.session.execute(
        select(Notification, User.email)
        .join(User, User.id == Notification.user_id)
        .where(Notification.id.in_(notification_ids))
    ):
        link = f"{current_app.config['BASE_URL'].rstrip('/')}{notification.link}"
        send_email(email, notification.title, f"{notification.body}\n\n{link}".strip())
        sent += 1
    return sent


@_in_app
def advance_deadlines() -> int:
    """Move open needs whose deadline passed to judging (run every few minutes)."""
    from marketplace.challenges.services import advance_deadlines as advance

    return advance()


@_in_app
def send_verification(user_id: int) -> None:
    """Email a link that proves the user controls their address."""
    from marketplace.accounts.models import User
    from marketplace.accounts.services import email_verification_token
    from marketplace.notifications.mail import send_email
    from marketplace.urls import external_url

    user = db.session.get(User, user_id)
    link = external_url("accounts.verify", token=email_verification_token(user))
    send_email(user.email, "Confirm your email address", f"Confirm your address: {link}")


@_in_app
def send_team_invitation(member_id: int, token: str) -> None:
    """Email the join link to the address a proposal's team invited."""
    from marketplace.notifications.mail import send_email
    from marketplace.proposals.models import TeamMember
    from marketplace.urls import external_url

    member = db.session.get(TeamMember, member_id)
    if member is None:
        return
    proposal = member.proposal
    link = external_url("proposals.join", token=token)
    send_email(
        member.email,
        f"You are invited to co-create “{proposal.title}”",
        f"{proposal.lead.name} invites you to their team for the need "
        f"“{proposal.challenge.title}”. Sign in (or create an account) with this address, then "
        f"open:\n{link}",
    )


@_in_app
def send_payout_batch(batch_id: int) -> dict[str, int]:
    """Send an approved payout batch (safe to run again: nothing is paid twice)."""
    from marketplace.payouts.sending import send_batch

    return send_batch(batch_id)


@_in_app
def export_book_job(export_id: int) -> dict[str, Any]:
    """Write a requested book export to EXPORT_FOLDER, reporting the rows written as it goes."""
    from marketplace.finance.exports import run_export

    return run_export(export_id)

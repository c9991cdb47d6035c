"""Background jobs: module-level functions that take ids, never objects.

Services never call these directly: they name them in ``marketplace.queue.enqueue`` (an outbox
row committed with the change), and the runner calls them inside an app context, in an rq
worker (``flask jobs worker``) or inline on the embedded default. Every job may run again
after a crash or a retry, so each one checks state before it acts. The periodic ones are
listed in ``marketplace.schedule``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import select

import ledger
from marketplace.accounts.models import User
from marketplace.accounts.recovery import password_reset_token
from marketplace.accounts.services import email_verification_token, normalise_email
from marketplace.accounts.sessions import purge_old_sessions
from marketplace.challenges.services import advance_deadlines as advance_open_needs
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.finance.exports import run_export
from marketplace.idempotency.keys import purge
from marketplace.insight.solvers import refresh as refresh_facts
from marketplace.notifications.bulk import send_emails
from marketplace.notifications.mail import send_email, send_notification_email
from marketplace.operations.alerts import alert_platform_admins
from marketplace.payments.refunds import send_refund as send_reserved_refund
from marketplace.payments.services import refund_closed_escrow
from marketplace.payouts.sending import resume_stuck_batches, send_batch
from marketplace.proposals.access import may_see_need
from marketplace.proposals.models import TeamMember
from marketplace.queue import relay
from marketplace.urls import external_url

log = logging.getLogger(__name__)


def verify_book() -> dict[str, Any]:
    """Recompute every ledger account from its transfers (nightly). A wrong book is logged at
    ERROR and every platform admin is notified in the app."""
    problems = [str(problem) for problem in ledger.verify(db.session)]
    if problems:
        log.error("ledger verify: the book is WRONG (%d discrepancies): %s", len(problems),
                  "; ".join(problems[:20]))  # fmt: skip
        alert_platform_admins(
            kind="ledger_wrong",
            title=f"The ledger does not verify: {len(problems)} discrepancies",
            body="\n".join(problems[:50]),
            link="/finance/",
        )
    return {"accounts": len(ledger.trial_balance(db.session)), "discrepancies": problems}


def reconcile_with_provider() -> dict[str, Any]:
    """Ask the payment provider for the last two days' payout transfers and set them against
    the book (nightly); differences are logged at ERROR and the platform admins are told."""
    from marketplace.finance.provider_check import check_recent_and_alert

    check = check_recent_and_alert()
    return {
        "transfers": check.transfers,
        "error": check.error,
        "differences": [difference.message for difference in check.differences],
    }


def fill_daily_totals() -> dict[str, Any]:
    """Sum what the ledger posted since the last run (and transfers written late onto earlier
    days) into the daily totals the finance dashboard reads (every 5 minutes)."""
    from marketplace.finance.daily_totals import fill

    return fill()


def relay_outbox() -> int:
    """Hand rq the jobs that Redis never got or lost (every 30 seconds)."""
    return relay()


def purge_idempotency_keys() -> int:
    """Delete the API's idempotency keys older than 24 hours (hourly); returns how many."""
    return purge()


def purge_sessions() -> int:
    """Delete the rows of sessions over a month past the longest a session lasts (daily);
    returns how many."""
    return purge_old_sessions()


def resume_payouts() -> int:
    """Send again the approved batches that still have open lines (a worker died, the
    provider was down); returns how many batches were enqueued."""
    return resume_stuck_batches()


def send_notification_emails(notification_ids: list[int]) -> int:
    """Email each notification to its user once; returns how many were sent now.

    Each sent email is recorded at once, so a retry after a failure part-way sends only the
    rest."""
    sent = 0
    for notification_id in notification_ids:
        sent += send_notification_email(notification_id)
    return sent


def send_notification_email_ranges(ranges: list[list[int]]) -> int:
    """Email the notifications whose ids lie in the ``[first, last]`` ranges (a crowd
    notified at once by ``notify_many``), each once; returns how many were sent now."""
    return send_emails(ranges)


def advance_deadlines() -> int:
    """Move open needs whose deadline passed to judging (run every few minutes)."""
    return advance_open_needs()


def send_verification(user_id: int) -> None:
    """Email a link that proves the user controls their address."""
    user = db.session.get(User, user_id)
    if user is None or user.email_verified_at is not None:
        return
    link = external_url("accounts.verify", token=email_verification_token(user))
    send_email(user.email, "Confirm your email address", f"Confirm your address: {link}")


def send_registration_notice(user_id: int) -> None:
    """Tell the owner of an address that someone tried to register with it (the form does
    not tell the visitor that the address has an account)."""
    user = db.session.get(User, user_id)
    if user is None:
        return
    send_email(
        user.email,
        "Someone tried to register with your address",
        "Someone (perhaps you) tried to create an account with this email address, which "
        "already has one. Nothing was changed.\n\n"
        f"Sign in: {external_url('accounts.login')}\n"
        f"Forgot your password? Reset it: {external_url('accounts.forgot_password')}\n\n"
        "If this was not you, you can ignore this email.",
    )


def send_password_reset(email: str) -> None:
    """Email a reset link to the account with this address; for an address without an
    active account, send nothing (the request's answer was the same either way)."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        log.info("password reset asked for %s, which has no active account", email)
        return
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    link = external_url("accounts.reset_password", token=password_reset_token(user))
    send_email(
        user.email,
        "Reset your password",
        f"Someone (hopefully you) asked to reset the password of your account.\n\n"
        f"Choose a new password here (the link works once, for {minutes} minutes):\n{link}\n\n"
        "If you did not ask, ignore this email: your password stays as it is.",
    )


def send_email_change_link(user_id: int, new_email: str, token: str) -> None:
    """Email the link that moves an account to a new address, to that new address."""
    user = db.session.get(User, user_id)
    if user is None:
        return
    link = external_url("accounts.confirm_email_change", token=token)
    send_email(
        new_email,
        "Confirm your new email address",
        f"{user.name} asked to use this address for their account. Confirm it here "
        f"(signed in as that account):\n{link}\n\nIf this was not you, ignore this email.",
    )


def send_email_changed_notice(user_id: int, old_email: str) -> None:
    """Tell the previous address that the account moved away from it."""
    user = db.session.get(User, user_id)
    if user is None:
        return
    send_email(
        old_email,
        "Your account's email address was changed",
        f"The account {user.name} used this address; from now on it uses {user.email}.\n\n"
        "If you did not do this, reset your password at once "
        f"({external_url('accounts.forgot_password')}) and contact the platform team.",
    )


def send_team_invitation(member_id: int, token: str) -> None:
    """Email the join link to the address a proposal's team invited."""
    member = db.session.get(TeamMember, member_id)
    if member is None:
        return
    proposal = member.proposal
    link = external_url("proposals.join", token=token)
    # The address may belong to nobody yet: the need is named only if anyone may see it.
    need = (
        f"the need “{proposal.challenge.title}”"
        if may_see_need(None, proposal)
        else f"a need of {proposal.challenge.organization.name}"
    )
    send_email(
        member.email,
        f"You are invited to co-create “{proposal.title}”",
        f"{proposal.lead.name} invites you to their team for {need}. Sign in (or create an "
        f"account) with this address, then open:\n{link}",
    )


def send_payout_batch(batch_id: int) -> dict[str, int]:
    """Send an approved payout batch (safe to run again: nothing is paid twice)."""
    return send_batch(batch_id)


def refund_unspent_escrow(challenge_id: int) -> int | None:
    """Reserve the refund of a cancelled or closed need's escrow (money paid on a checkout
    page after the need closed); its ``send_refund`` job asks the provider after the commit.
    Returns the refund payment's id, None when escrow was empty."""
    refund = refund_closed_escrow(challenge_id)
    return refund.id if refund is not None else None


def send_refund(payment_id: int) -> str:
    """Ask the provider for a reserved refund and post or void its reservation (safe to run
    again: a settled or failed refund is left alone). No answer from the provider raises, so
    the job is tried again with backoff under the same idempotency key."""
    return str(send_reserved_refund(payment_id))


def export_book_job(export_id: int) -> dict[str, Any]:
    """Write a requested book export to EXPORT_FOLDER, reporting the rows written as it goes."""
    return run_export(export_id)


def refresh_solver_facts(organization_id: int) -> str:
    """Recompute an organization's solver facts for its insight page (safe to run again:
    each run replaces them with the live computation)."""
    with transaction():
        return refresh_facts(organization_id).isoformat()

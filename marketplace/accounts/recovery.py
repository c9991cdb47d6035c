"""Getting back into an account and changing its address: password reset and email change.

Both work by signed links (itsdangerous, each kind with its own salt) that expire, and that
die once used because they name a fact that their use changes:

- a reset link names a fingerprint of the password hash it was made for: once a new password
  is set (or the old one changed in any way) the fingerprint no longer matches;
- an email-change link names the address it changes from: once the change is done, the
  account no longer has it.

A reset request gets the same answer, and does the same work (one outbox job), whether or
not the address has an account; the job alone looks the address up.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from ledger import utcnow
from marketplace.accounts.models import SessionEnd, User
from marketplace.accounts.passwords import (
    check_password,
    hash_password,
    password_problems,
)
from marketplace.accounts.services import EMAIL, normalise_email
from marketplace.accounts.sessions import end_sessions
from marketplace.audit.log import record
from marketplace.db import command
from marketplace.errors import Forbidden, Invalid
from marketplace.extensions import db
from marketplace.outbox import JobQueue
from marketplace.queue import enqueue

_RESET_SALT = "password-reset"
_EMAIL_CHANGE_SALT = "email-change"
FIX = "Please correct the highlighted fields."


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(password_hash: str) -> str:
    """Changes whenever the password does; tells nothing about the password."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:20]


def _load(salt: str, token: str, max_age: int, what: str) -> dict[str, Any]:
    try:
        data = _serializer(salt).loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise Invalid(f"This {what} link has expired; ask for a new one.") from None
    except BadSignature:
        raise Invalid(f"This {what} link is not valid.") from None
    if not isinstance(data, dict):
        raise Invalid(f"This {what} link is not valid.")
    return data


# --- password reset ---


@command
def request_password_reset(email: str) -> None:
    """Enqueue the email that carries a reset link. Whatever ``email`` is (an account's, an
    unknown address, not an address at all), the caller sees the same thing."""
    address = normalise_email(email)[:254]
    record("account.password_reset_request", details={"email": address})
    enqueue("send_password_reset", address, queue=JobQueue.EMAILS)


def password_reset_token(user: User) -> str:
    return _serializer(_RESET_SALT).dumps(
        {"user": user.id, "password": _fingerprint(user.password_hash)}
    )


def reset_link_user(token: str) -> User:
    """The account a reset link is for, or Invalid when the link is forged, expired, or used
    (the password changed since it was made). Changes nothing."""
    data = _load(_RESET_SALT, token, current_app.config["PASSWORD_RESET_MAX_AGE"], "reset")
    user = db.session.get(User, data.get("user"))
    if user is None or not user.active or data.get("password") != _fingerprint(user.password_hash):
        raise Invalid("This reset link is not valid any more: it was used, or the password "
                      "changed since. Ask for a new one.")  # fmt: skip
    return user


@command
def reset_password(token: str, password: str) -> User:
    """Set a new password through a reset link; the link dies with the old password. The
    address is confirmed too: the link came to it."""
    user = reset_link_user(token)
    if problems := password_problems(password, user.email, user.name):
        raise Invalid(FIX, {"password": problems})
    user.password_hash = hash_password(password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    ended = end_sessions(user, reason=SessionEnd.PASSWORD_RESET)  # whoever had it is out
    record("account.password_reset", obj=user, actor=user, details={"sessions_ended": ended})
    return user


# --- email change ---


@command
def request_email_change(user: User, new_email: str, password: str) -> str:
    """Send a confirmation link to the new address (the account keeps its address until the
    link is used). Needs the current password. Returns the new address, normalised.

    Whether the new address belongs to another account is told only at confirmation, to
    whoever holds that address, so this form does not reveal registered emails either."""
    new_email = normalise_email(new_email)
    errors: dict[str, list[str]] = {}
    if not check_password(user.password_hash, password or ""):
        errors["password"] = ["This is not your current password."]
    if not EMAIL.match(new_email) or len(new_email) > 254:
        errors["email"] = ["Enter a valid email address."]
    elif new_email == user.email:
        errors["email"] = ["This is already your address."]
    if errors:
        if "password" in errors:
            record("account.email_change_request", obj=user, outcome="refused",
                   details={"reason": "wrong password"}, apart=True)  # fmt: skip
        raise Invalid(FIX, errors)
    token = _serializer(_EMAIL_CHANGE_SALT).dumps(
        {"user": user.id, "old": user.email, "new": new_email}
    )
    record("account.email_change_request", obj=user, details={"new_email": new_email})
    enqueue("send_email_change_link", user.id, new_email, token, queue=JobQueue.EMAILS)
    return new_email


def email_change_of(user: User, token: str) -> str:
    """The new address a change link confirms for ``user``, or Invalid (forged, expired,
    used) / Forbidden (another account's link). Changes nothing."""
    data = _load(
        _EMAIL_CHANGE_SALT, token, current_app.config["EMAIL_CHANGE_MAX_AGE"], "confirmation"
    )
    if data.get("user") != user.id:
        raise Forbidden("This link changes another account's address; sign in as its owner.")
    if data.get("old") != user.email:
        raise Invalid("This link was used already, or the address changed since.")
    return str(data.get("new"))


@command
def confirm_email_change(user: User, token: str) -> User:
    """Give the account the new address, confirmed, and tell the old address."""
    new_email = email_change_of(user, token)
    if db.session.scalar(select(User.id).where(User.email == new_email)) is not None:
        raise Invalid(f"{new_email} already belongs to another account.")
    old_email = user.email
    user.email = new_email
    user.email_verified_at = utcnow()
    db.session.flush()  # a concurrent change to the same address fails here, not at commit
    record("account.email_change", obj=user,
           details={"old_email": old_email, "new_email": new_email})  # fmt: skip
    enqueue("send_email_changed_notice", user.id, old_email, queue=JobQueue.EMAILS)
    return user

"""Recent re-authentication ("sudo mode") before sensitive changes.

Creating an API token and changing an organization's members or roles need the person to have
proved who they are recently: signed in, or confirmed their password or a second-factor code,
less than ``REAUTH_MINUTES`` ago. Pages keep that moment in the session, for the signed-in
user only (``mark_reauthenticated``); a view decorated with ``recent_authentication_required``
sends anyone else to the confirmation page first. The API has no session: it takes the
password or a code in the request body (``confirm_identity``). Approving a payout batch goes
further: it always takes a fresh authenticator code (``second_factor.step_up``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user

from marketplace.accounts import second_factor
from marketplace.accounts.models import User
from marketplace.accounts.passwords import check_password
from marketplace.audit.log import record
from marketplace.audit.models import Outcome
from marketplace.db import command
from marketplace.errors import Invalid

R = TypeVar("R")
SESSION_KEY = "reauthenticated"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def mark_reauthenticated(user: User) -> None:
    """Note in the session that ``user`` proved who they are just now."""
    session[SESSION_KEY] = {"user": user.id, "at": int(time.time())}


def recently_reauthenticated(user: User) -> bool:
    mark = session.get(SESSION_KEY)
    if not isinstance(mark, dict) or mark.get("user") != getattr(user, "id", None):
        return False
    age = time.time() - float(mark.get("at") or 0)
    return 0 <= age <= current_app.config["REAUTH_MINUTES"] * 60


@command
def confirm_identity(user: User, *, password: str | None = None, code: str | None = None) -> str:
    """Check the user's password, or a current second-factor code (an authenticator code or
    an unused recovery code). Returns which one was checked; Invalid, naming the field,
    otherwise."""
    if code:
        if not second_factor.has_second_factor(user):
            raise Invalid(
                "You have no second factor: confirm with your password.",
                {"code": ["You have no second factor: confirm with your password."]},
            )
        second_factor.check_code(user, code, recovery=True, purpose="reauthenticate")
        used = "second factor"
    elif password:
        if not check_password(user.password_hash, password):
            record("session.reauthenticate", object_type="user", object_id=user.id,
                   outcome=Outcome.REFUSED, details={"reason": "wrong password"}, actor=user,
                   apart=True)  # fmt: skip
            raise Invalid("Wrong password.", {"password": ["Wrong password."]})
        used = "password"
    else:
        message = "Confirm it is you: send your password or a current second-factor code."
        raise Invalid(message, {"password": [message]})
    record("session.reauthenticate", object_type="user", object_id=user.id, actor=user,
           details={"with": used})  # fmt: skip
    return used


@command
def confirmed(
    user: User, action: Callable[[], R], *, password: str | None, code: str | None
) -> R:
    """Run ``action`` (a command) and confirm the user's identity in one transaction: the
    action's own field errors come first, and a wrong password or code undoes it."""
    result = action()
    confirm_identity(user, password=password, code=code)
    return result


def _page_of(endpoint: str) -> str:
    """The URL of ``endpoint`` with the current view's arguments that its rule takes."""
    wanted = {a for rule in current_app.url_map.iter_rules(endpoint) for a in rule.arguments}
    return url_for(endpoint, **{k: v for k, v in (request.view_args or {}).items() if k in wanted})


def recent_authentication_required(back: str) -> Callable:
    """Decorate a view: its POST (and other unsafe methods) needs a recent
    re-authentication, else a redirect to the confirmation page, which then returns to the
    page ``back`` (an endpoint, given the view's arguments) so the person can do it again."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if request.method in SAFE_METHODS or recently_reauthenticated(current_user):
                return view(*args, **kwargs)
            flash("Confirm it is you first, then do it again.", "info")
            return redirect(url_for("second_factor.confirm", next=_page_of(back)))

        return checked

    return decorate

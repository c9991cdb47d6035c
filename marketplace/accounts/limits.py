"""Rate limits on the doors into accounts, as decorators for views and API resources.

Each limit's rate is a setting (``marketplace.config``). Client addresses are
``request.remote_addr``: the app trusts no ``X-Forwarded-For``, so behind a proxy that address
is the proxy's unless the deployment sets it right. Limits keyed on a submitted email count
the account, whatever address the attempts come from; the email is hashed into the key, so the
limiter's storage holds no addresses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app, request
from flask.wrappers import Response
from flask_limiter import RequestLimit

from marketplace.accounts.services import normalise_email
from marketplace.audit.log import record
from marketplace.extensions import limiter


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def submitted_email_key() -> str:
    """The limiter's key for the account a form names: its email, normalised and hashed."""
    email = normalise_email(request.form.get("email", ""))
    return "account:" + hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _failed_sign_in(response: Response) -> bool:
    """A sign-in that did not redirect (to where the person was going) failed."""
    return response.status_code != 302


def _record_throttled_sign_in(limit: RequestLimit) -> None:
    record(
        "session.sign_in",
        outcome="refused",
        details={
            "reason": "too many failed sign-ins to this account",
            "email": normalise_email(request.form.get("email", "")),
        },
    )


#: Failed sign-ins to one account, from anywhere (the per-address limit is the view's own).
login_account_limit = limiter.limit(
    _setting("LOGIN_ACCOUNT_RATE_LIMIT"),
    key_func=submitted_email_key,
    scope="login-account",
    methods=["POST"],
    deduct_when=_failed_sign_in,
    on_breach=_record_throttled_sign_in,
    error_message="Too many failed sign-ins to this account. Wait a while, or reset the "
    "password, then try again.",
)

#: Registrations per client address, and per email (each registration of a known email
#: mails its owner: nobody may flood an inbox through the form).
registration_address_limit = limiter.limit(
    _setting("REGISTRATION_RATE_LIMIT"),
    methods=["POST"],
    error_message="Too many registrations from your address. Try again later.",
)
registration_account_limit = limiter.limit(
    _setting("REGISTRATION_RATE_LIMIT"),
    key_func=submitted_email_key,
    scope="registration-account",
    methods=["POST"],
    error_message="Too many registrations with this email address. Check your inbox, or "
    "try again later.",
)

#: Reset requests per client address, and per email asked for.
password_reset_address_limit = limiter.limit(
    _setting("PASSWORD_RESET_RATE_LIMIT"),
    methods=["POST"],
    error_message="Too many password reset requests from your address. Try again later.",
)
password_reset_account_limit = limiter.limit(
    _setting("PASSWORD_RESET_RATE_LIMIT"),
    key_func=submitted_email_key,
    scope="password-reset-account",
    methods=["POST"],
    error_message="Too many password reset requests for this address. Check your inbox, "
    "or try again later.",
)

#: Redeeming invitations, for needs and for teams, pages and API alike: one count per
#: client address.
invitation_limit = limiter.shared_limit(
    _setting("INVITATION_RATE_LIMIT"),
    scope="invitations",
    methods=["POST"],
    error_message="Too many invitation attempts from your address. Try again later.",
)

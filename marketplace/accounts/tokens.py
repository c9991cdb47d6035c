"""Personal API tokens: a secret shown once, stored only as its SHA-256.

A token authenticates API requests as its owner (``Authorization: Bearer cct_...``) until it
expires, is revoked or the owner is deactivated, and only for its scopes
(marketplace.accounts.scopes; enforced for every API operation in marketplace.auth). The first
characters are kept in clear so people can tell their tokens apart.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from ledger import utcnow
from marketplace.accounts import scopes as token_scopes
from marketplace.accounts.models import ApiToken, User
from marketplace.accounts.second_factor import has_second_factor
from marketplace.audit.log import record
from marketplace.db import command, transaction
from marketplace.errors import Invalid, NotFound, Unauthorized
from marketplace.extensions import db

SECRET_PREFIX = "cct_"
PREFIX_LENGTH = 12  # "cct_" and the first 8 random characters: what lists show
MAX_NAME = 80
#: last_used_at is written at most this often per token, so a busy client does not take the
#: database's write lock on every request.
USAGE_RESOLUTION = timedelta(minutes=1)
#: Longer strings are not ours (a secret is 4 + 43 characters); no need to hash them.
MAX_SECRET = 200
#: The longest client address stored (an IPv6 address with an IPv4 tail).
MAX_ADDRESS = 45
UNKNOWN_TOKEN = (
    "Send a valid API token as 'Authorization: Bearer <token>'; "
    "this one is unknown, revoked or malformed."
)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def latest_expiry(now: datetime) -> datetime:
    """The latest expiry a token made at ``now`` may have: the same moment a year later (28
    February for 29 February)."""
    try:
        return now.replace(year=now.year + 1)
    except ValueError:
        return now.replace(year=now.year + 1, day=28)


def _check_new_token(
    name: str,
    scopes: frozenset[str],
    expires_at: datetime | None,
    granted_by: frozenset[str] | None,
    now: datetime,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        errors["name"] = [f"Name the token in 1 to {MAX_NAME} printable characters."]
    if not scopes:
        errors["scopes"] = ["Choose at least one scope: what the token may read or change."]
    elif unknown := token_scopes.unknown(scopes):
        errors["scopes"] = [f"Unknown scope: {', '.join(unknown)}."]
    elif granted_by is not None and not scopes <= granted_by:
        missing = token_scopes.serialise(scopes - granted_by).replace(" ", ", ")
        errors["scopes"] = [
            f"A token can only make tokens with its own scopes; this one lacks {missing}."
        ]
    if expires_at is None:
        errors["expires_at"] = ["Choose when the token expires: at most one year ahead."]
    elif expires_at <= now:
        errors["expires_at"] = ["The expiry must be in the future."]
    elif expires_at > latest_expiry(now):
        errors["expires_at"] = [
            f"A token lasts at most one year: choose {latest_expiry(now):%d %B %Y} or earlier."
        ]
    return errors


@command
def create_token(
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    *,
    granted_by: frozenset[str] | None = None,
) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it and its secret, which is not stored and not shown
    again. ``granted_by``: the scopes of the token asking (through the API), which the new
    token may not exceed, so a read-only token cannot mint a writing one."""
    name = (name or "").strip()
    chosen = frozenset(scopes or ())
    errors = _check_new_token(name, chosen, expires_at, granted_by, utcnow())
    money = token_scopes.money_scopes(chosen)
    if money and "scopes" not in errors and not has_second_factor(user):
        errors["scopes"] = [
            f"{', '.join(money)} move money: set up a second factor on your account page "
            "before making a token with them."
        ]
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        token_sha256=_digest(secret),
        scopes=token_scopes.serialise(chosen),
        expires_at=expires_at,
    )
    db.session.add(token)
    db.session.flush()
    record(
        "token.create",
        obj=token,
        actor=user,
        details={"name": name, "scopes": token.scopes, "expires_at": expires_at.isoformat()},
    )
    return token, secret


@command
def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (again is harmless). Anyone else's: NotFound."""
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if token is None:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record("token.revoke", obj=token, actor=user, details={"name": token.name})
    return token


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def check_token(secret: str | None, address: str | None = None) -> ApiToken:
    """The usable token with this secret, its ``user`` loaded; notes the use and its address.
    Unauthorized for an unknown, revoked or expired token, or one of a deactivated user (an
    expired token is told apart: its owner should make a new one)."""
    if not secret or not secret.startswith(SECRET_PREFIX) or len(secret) > MAX_SECRET:
        raise Unauthorized(UNKNOWN_TOKEN)
    row = db.session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_sha256 == _digest(secret),
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    ).first()
    if row is None:
        raise Unauthorized(UNKNOWN_TOKEN)
    token, _user = row
    now = utcnow()
    if token.expires_at <= now:
        raise Unauthorized(
            f"This API token expired on {token.expires_at:%d %B %Y at %H:%M} UTC; "
            "make a new one on your account page."
        )
    note_use(token.id, token.last_used_at, now, address)
    return token


def note_use(
    token_id: int,
    last_used_at: datetime | None,
    now: datetime | None = None,
    address: str | None = None,
) -> bool:
    """Record that the token was used, and from which address, unless that was recorded less
    than ``USAGE_RESOLUTION`` ago; True when this call wrote.

    ``last_used_at`` is what the caller read: a recent one means no write at all. Otherwise a
    short transaction of its own updates the row only if it is still stale, so of several
    requests (in any number of processes) in the same minute, one writes.
    """
    now = now or utcnow()
    stale_before = now - USAGE_RESOLUTION
    if last_used_at is not None and last_used_at > stale_before:
        return False
    with transaction():
        result = db.session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= stale_before),
            )
            .values(last_used_at=now, last_used_address=(address or None) and address[:MAX_ADDRESS])
            .execution_options(synchronize_session=False)
        )
    return result.rowcount == 1

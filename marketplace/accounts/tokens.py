"""Personal API tokens: a secret shown once, stored only as its SHA-256.

A token authenticates API requests as its owner (``Authorization: Bearer cct_...``) until it is
revoked or the owner is deactivated. The first characters are kept in clear so people can tell
their tokens apart.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from ledger import utcnow
from marketplace.accounts.models import ApiToken, User
from marketplace.audit.log import record
from marketplace.db import command, transaction
from marketplace.errors import Invalid, NotFound
from marketplace.extensions import db

SECRET_PREFIX = "cct_"
PREFIX_LENGTH = 12  # "cct_" and the first 8 random characters: what lists show
MAX_NAME = 80
#: last_used_at is written at most this often per token, so a busy client does not take the
#: database's write lock on every request.
USAGE_RESOLUTION = timedelta(minutes=1)
#: Longer strings are not ours (a secret is 4 + 43 characters); no need to hash them.
MAX_SECRET = 200


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@command
def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it and its secret, which is not stored and not shown
    again."""
    name = (name or "").strip()
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise Invalid(
            "Please correct the highlighted fields.",
            {"name": [f"Name the token in 1 to {MAX_NAME} printable characters."]},
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, prefix=secret[:PREFIX_LENGTH], token_sha256=_digest(secret)
    )
    db.session.add(token)
    record("token.create", obj=token, actor=user, details={"name": name})
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
        record("token.revoke", obj=token, actor=user)
    return token


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def user_for_token(secret: str | None) -> User | None:
    """The active owner of this unrevoked token, or None. Notes when it was last used."""
    if not secret or not secret.startswith(SECRET_PREFIX) or len(secret) > MAX_SECRET:
        return None
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
        return None
    token, user = row
    note_use(token.id, token.last_used_at)
    return user


def note_use(token_id: int, last_used_at: datetime | None, now: datetime | None = None) -> bool:
    """Record that the token was used, unless that was recorded less than
    ``USAGE_RESOLUTION`` ago; True when this call wrote.

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
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    return result.rowcount == 1

"""Server-side sessions: every sign-in is a ``UserSession`` row, and ending the row signs out.

Flask-Login keeps one string per signed-in browser, in the session cookie and, for "Keep me
signed in", in the remember cookie: ``User.get_id()``. Here that string is the random key of
the browser's ``UserSession`` (only the key's SHA-256 is stored), never the user id. Every
request loads its user through that row (``load_user``), so a row that is ended, idle longer
than ``SESSION_IDLE_TIMEOUT`` or older than its absolute timeout (``SESSION_ABSOLUTE_TIMEOUT``;
``REMEMBER_COOKIE_DURATION`` for remembered sessions, which have no idle timeout) signs out
both cookies at once, copies included.

- ``start_session(user, remember=...)`` is the one way to sign someone in (the login and
  registration pages; a second-factor step calls it once the second factor is checked).
- ``end_current_session()`` is signing out.
- ``end_sessions(user, keep=..., reason=...)`` ends all of a user's sessions but ``keep``
  (a password change keeps the current one; a password reset keeps none).
- A remember cookie that restores a session rotates its key: the cookie it came with stops
  working. Two requests racing with the same old cookie: the second is signed out.
- ``last_seen_at`` is written at most once a minute per session, as tokens do.

Audit events: ``session.sign_out``, ``session.end`` (by the user; refused for someone else's
session), ``session.end_all`` (a password change or reset, or "sign out all others"). Sign-ins
and failed ones are recorded by ``services.authenticate``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import Flask, current_app, g, request, session
from flask_login import current_user, login_user, logout_user, user_loaded_from_cookie
from flask_login.utils import decode_cookie
from sqlalchemy import ColumnElement, and_, delete, or_, select, update

from ledger import as_utc, utcnow
from marketplace.accounts.models import SessionEnd, User, UserSession
from marketplace.audit import log as audit
from marketplace.db import command, transaction
from marketplace.errors import NotFound
from marketplace.extensions import db

#: last_seen_at is written at most this often per session.
SEEN_RESOLUTION = timedelta(minutes=1)
#: Keys are 43 characters; longer strings are not ours (no need to hash them).
MAX_KEY = 100
MAX_USER_AGENT = 255
MAX_ADDRESS = 45
#: Flask-Login's keys in the Flask session that name the signed-in user.
_LOGIN_KEYS = ("_user_id", "_fresh", "_id", "_remember_seconds")


def init_app(app: Flask) -> None:
    """Cookie rules that follow from other settings: the remember cookie is Secure whenever
    the session cookie is, HttpOnly and SameSite=Lax, and lasts as long as a remembered
    session."""
    app.config["REMEMBER_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.config["REMEMBER_COOKIE_REFRESH_EACH_REQUEST"] = False
    user_loaded_from_cookie.connect(_rotate_key, app)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def lifetime(remembered: bool) -> timedelta:
    """How long after signing in a session ends, whatever happens."""
    config = current_app.config
    return config["REMEMBER_COOKIE_DURATION"] if remembered else config["SESSION_ABSOLUTE_TIMEOUT"]


def expires_at(record: UserSession) -> datetime:
    return as_utc(record.created_at) + lifetime(record.remembered)


def _timed_out(record: UserSession, now: datetime) -> SessionEnd | None:
    if now >= expires_at(record):
        return SessionEnd.EXPIRED
    idle = current_app.config["SESSION_IDLE_TIMEOUT"]
    if not record.remembered and now >= as_utc(record.last_seen_at) + idle:
        return SessionEnd.IDLE
    return None


def _live(now: datetime) -> ColumnElement[bool]:
    """SQL: the session is neither ended nor past a timeout."""
    config = current_app.config
    return and_(
        UserSession.ended_at.is_(None),
        or_(
            and_(
                UserSession.remembered.is_(True),
                UserSession.created_at > now - config["REMEMBER_COOKIE_DURATION"],
            ),
            and_(
                UserSession.remembered.is_(False),
                UserSession.created_at > now - config["SESSION_ABSOLUTE_TIMEOUT"],
                UserSession.last_seen_at > now - config["SESSION_IDLE_TIMEOUT"],
            ),
        ),
    )


def _end(session_ids: ColumnElement[bool], reason: SessionEnd, now: datetime) -> int:
    """End the unended sessions the condition picks; how many it ended."""
    result = db.session.execute(
        update(UserSession)
        .where(session_ids, UserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=SessionEnd(reason).value)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _sign_in(user: User, record: UserSession, key: str) -> None:
    user.session_key = key
    g.user_session = record


def start_session(user: User, *, remember: bool = False) -> UserSession:
    """Sign ``user`` in on this browser: a new session row and the cookies that name it.

    Call once the credentials are checked (all factors). A session this browser had before
    (someone else's included) ends. Returns the new row.
    """
    previous = current_session()
    now = utcnow()
    key = secrets.token_urlsafe(32)
    with transaction():
        if previous is not None:
            _end(UserSession.id == previous.id, SessionEnd.SIGNED_IN_AGAIN, now)
        record = UserSession(
            user_id=user.id,
            key_sha256=_digest(key),
            created_at=now,
            last_seen_at=now,
            ip_address=(request.remote_addr or "")[:MAX_ADDRESS],
            user_agent=request.headers.get("User-Agent", "")[:MAX_USER_AGENT],
            remembered=remember,
        )
        db.session.add(record)
        db.session.flush()
    _sign_in(user, record, key)
    login_user(user, remember=remember, duration=lifetime(True) if remember else None)
    if not remember and _remember_cookie():
        session["_remember"] = "clear"  # an earlier sign-in's cookie: deleted in the answer
    return record


def current_session() -> UserSession | None:
    """The session row of this request's browser; None when signed out or signed in by an
    API token."""
    if not current_user.is_authenticated:
        return None
    return g.get("user_session")


def end_current_session() -> None:
    """Sign this browser out: its session row ends, and both cookies with it."""
    ending = current_session()
    if ending is not None:
        with transaction():
            if _end(UserSession.id == ending.id, SessionEnd.LOGOUT, utcnow()):
                audit.record("session.sign_out", obj=ending)
    logout_user()
    g.pop("user_session", None)


@command
def end_sessions(user: User, *, keep: UserSession | None = None, reason: SessionEnd) -> int:
    """End every live session of ``user`` except ``keep``; returns how many ended.

    A stable entry point for other parts: a password change passes the current session as
    ``keep`` and ``SessionEnd.PASSWORD_CHANGED``; a password reset passes no ``keep`` and
    ``SessionEnd.PASSWORD_RESET``. API tokens are not touched: the user sees and revokes them
    on the account page.
    """
    now = utcnow()
    which = and_(UserSession.user_id == user.id, _live(now))
    if keep is not None:
        which = and_(which, UserSession.id != keep.id)
    ended = _end(which, reason, now)
    facts = {"reason": SessionEnd(reason).value, "ended": ended, "kept": keep and keep.id}
    audit.record("session.end_all", obj=user, details=facts)
    return ended


@command
def end_session(
    user: User, session_id: int, *, reason: SessionEnd = SessionEnd.ENDED_BY_USER
) -> UserSession:
    """End one of the user's own sessions (again is harmless). Anyone else's: NotFound."""
    found = db.session.scalar(
        select(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
    )
    if found is None:
        audit.record(
            "session.end",
            object_type="user_session",
            object_id=session_id,
            outcome="refused",
            actor=user,
            apart=True,
        )
        raise NotFound("No such session.")
    if found.ended_at is None:
        found.ended_at = utcnow()
        found.end_reason = SessionEnd(reason).value
        audit.record("session.end", obj=found, actor=user, details={"reason": found.end_reason})
    return found


def sessions_of(user: User) -> list[UserSession]:
    """The user's live sessions, most recently seen first."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, _live(utcnow()))
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def load_user(key: str) -> User | None:
    """Flask-Login's user loader: the active user of the live session with this key, or None
    (and the cookies naming it are forgotten). Ends a session found past a timeout."""
    if not key or len(key) > MAX_KEY:
        return None
    row = db.session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.key_sha256 == _digest(key),
            UserSession.ended_at.is_(None),
            User.active.is_(True),
        )
    ).first()
    if row is None:
        _forget(key)
        return None
    record, user = row
    now = utcnow()
    timed_out = _timed_out(record, now)
    if timed_out is not None:
        with transaction():
            _end(UserSession.id == record.id, timed_out, now)
        _forget(key)
        return None
    _note_seen(record, now)
    _sign_in(user, record, key)
    return user


def _forget(key: str) -> None:
    """Drop a refused key from this browser: from the session, and the remember cookie if it
    holds the same key (Flask-Login then does not try it, and deletes it in the answer)."""
    if session.get("_user_id") == key:
        for name in _LOGIN_KEYS:
            session.pop(name, None)
    cookie = _remember_cookie()
    if cookie and decode_cookie(cookie) == key:
        session["_remember"] = "clear"


def _remember_cookie() -> str | None:
    return request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))


def _note_seen(record: UserSession, now: datetime) -> None:
    """Write last_seen_at unless it was written less than SEEN_RESOLUTION ago; of several
    requests in the same minute, one writes."""
    stale_before = now - SEEN_RESOLUTION
    if as_utc(record.last_seen_at) > stale_before:
        return
    with transaction():
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == record.id, UserSession.last_seen_at <= stale_before)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )


def _rotate_key(_app: Flask, user: User, **_extra: object) -> None:
    """A remember cookie restored the session: give it a new key, in the session and in a new
    remember cookie that expires with the session. The old cookie no longer works."""
    record = g.get("user_session")
    if record is None:
        return
    old_key = user.session_key
    key = secrets.token_urlsafe(32)
    with transaction():
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == record.id, UserSession.key_sha256 == _digest(old_key))
            .values(key_sha256=_digest(key))
            .execution_options(synchronize_session=False)
        )
    user.session_key = key
    session["_user_id"] = key
    session["_remember"] = "set"
    session["_remember_seconds"] = max(0, (expires_at(record) - utcnow()).total_seconds())


#: How long a session's row is kept after the longest a session can last (for the account page
#: and inquiries); the daily ``purge_old_sessions`` job deletes older rows.
KEEP_AFTER_END = timedelta(days=30)


def purge_old_sessions(now: datetime | None = None) -> int:
    """Delete the rows of sessions that ended (or could last no longer) more than
    ``KEEP_AFTER_END`` ago; returns how many."""
    now = now or utcnow()
    config = current_app.config
    longest = max(config["REMEMBER_COOKIE_DURATION"], config["SESSION_ABSOLUTE_TIMEOUT"])
    with transaction():
        result = db.session.execute(
            delete(UserSession)
            .where(UserSession.created_at < now - longest - KEEP_AFTER_END)
            .execution_options(synchronize_session=False)
        )
    return result.rowcount

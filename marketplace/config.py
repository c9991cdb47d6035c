"""Settings from environment variables, with embedded defaults that run on one machine."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from typing import Any


def normalise_database_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def instance_secret_key(instance_path: str) -> str:
    """A random key kept in the instance folder, so the embedded default keeps its sessions
    across restarts. Production sets SECRET_KEY, the same for every worker."""
    path = os.path.join(instance_path, "secret_key")
    os.makedirs(instance_path, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path) as existing:
            return existing.read().strip()
    with os.fdopen(descriptor, "w") as new:
        key = secrets.token_hex(32)
        new.write(key)
    return key


def from_environment(instance_path: str) -> dict[str, Any]:
    """Read every setting the app knows from the environment."""
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path}/marketplace.db"
    redis_url = os.environ.get("REDIS_URL") or None
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or instance_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        # Prepended to every rq queue name: several installations (or test runs) can share
        # one Redis without taking each other's jobs.
        "QUEUE_PREFIX": os.environ.get("QUEUE_PREFIX", ""),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # A Redis that does not answer costs a request at most this long before the limiter
        # falls back to memory (marketplace.extensions.limiter).
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        "RATELIMIT_HEADERS_ENABLED": True,
        # Header names of the IETF draft (RateLimit-Reset: seconds; marketplace.rate_limits).
        "RATELIMIT_HEADER_LIMIT": "RateLimit-Limit",
        "RATELIMIT_HEADER_REMAINING": "RateLimit-Remaining",
        "RATELIMIT_HEADER_RESET": "RateLimit-Reset",
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Content-Security-Policy violation reports accepted per client address.
        "CSP_REPORT_RATE_LIMIT": os.environ.get("CSP_REPORT_RATE_LIMIT", "30 per minute"),
        # Failed sign-ins to one account (the submitted email), from any number of addresses.
        "LOGIN_ACCOUNT_RATE_LIMIT": os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT", "20 per hour"),
        "REGISTRATION_RATE_LIMIT": os.environ.get("REGISTRATION_RATE_LIMIT", "10 per hour"),
        # Per client address, and per email asked for (so nobody's inbox is flooded).
        "PASSWORD_RESET_RATE_LIMIT": os.environ.get("PASSWORD_RESET_RATE_LIMIT", "5 per hour"),
        # Redeeming need and team invitations (pages and API), per client address.
        "INVITATION_RATE_LIMIT": os.environ.get("INVITATION_RATE_LIMIT", "20 per hour"),
        # Seconds a password reset link and an email change link work.
        "PASSWORD_RESET_MAX_AGE": int(os.environ.get("PASSWORD_RESET_MAX_AGE") or 3600),
        "EMAIL_CHANGE_MAX_AGE": int(os.environ.get("EMAIL_CHANGE_MAX_AGE") or 86400),
        # Every API request per user (or address), API writes per user, answers 401 to a bad
        # token per address, export requests per user (marketplace.rate_limits).
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "600 per minute"),
        "API_WRITE_RATE_LIMIT": os.environ.get("API_WRITE_RATE_LIMIT", "120 per minute"),
        "TOKEN_FAILURE_RATE_LIMIT": os.environ.get("TOKEN_FAILURE_RATE_LIMIT", "20 per minute"),
        "EXPORT_RATE_LIMIT": os.environ.get("EXPORT_RATE_LIMIT", "20 per hour"),
        # Wrong second-factor codes per account, whatever the address (the sign-in's code step).
        "SECOND_FACTOR_RATE_LIMIT": os.environ.get("SECOND_FACTOR_RATE_LIMIT", "10 per 15 minutes"),
        # How long a sign-in or a confirmation (password or code) counts as recent for
        # creating API tokens and changing members or roles.
        "REAUTH_MINUTES": int(os.environ.get("REAUTH_MINUTES") or 10),
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE") or None,
        # Seconds to wait for one Stripe answer; no answer in time is an unknown outcome.
        "STRIPE_TIMEOUT": float(os.environ.get("STRIPE_TIMEOUT") or 30),
        # Payout requests to the provider a second, shared by every worker (Stripe: 25 a
        # second per endpoint by default; marketplace.payouts.rate).
        "PAYOUT_RATE_PER_SECOND": float(os.environ.get("PAYOUT_RATE_PER_SECOND") or 25),
        # A request holding an Idempotency-Key (marketplace.idempotency) holds it at most this
        # long: a worker killed mid-request leaves it held until then, then a retry takes it.
        # Keep it above the longest request (gunicorn's timeout, STRIPE_TIMEOUT).
        "IDEMPOTENCY_LOCK_SECONDS": int(os.environ.get("IDEMPOTENCY_LOCK_SECONDS") or 120),
        "PLATFORM_CURRENCY": os.environ.get("PLATFORM_CURRENCY", "USD"),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "587")),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS", True),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Co-create <no-reply@cocreate.example>"),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER") or os.path.join(instance_path, "uploads"),
        "EXPORT_FOLDER": os.environ.get("EXPORT_FOLDER") or os.path.join(instance_path, "exports"),
        # ClamAV's clamd unix socket: every upload is scanned (INSTREAM) before it is stored;
        # a configured scanner that does not answer refuses the upload (marketplace.uploads).
        "CLAMD_SOCKET": os.environ.get("CLAMD_SOCKET") or None,
        "CLAMD_TIMEOUT": float(os.environ.get("CLAMD_TIMEOUT") or 10),
        "ATTACHMENT_MAX_BYTES": int(os.environ.get("ATTACHMENT_MAX_MB") or 10) * 1024 * 1024,
        # A request body larger than the largest attachment plus its form is refused (413).
        "MAX_CONTENT_LENGTH": (int(os.environ.get("ATTACHMENT_MAX_MB") or 10) + 1) * 1024 * 1024,
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Server-side sessions (marketplace.accounts.sessions): signed out after this long
        # without a request, and this long after signing in whatever happens. "Keep me signed
        # in" sessions have no idle timeout and end REMEMBER_ME_DAYS after signing in (the
        # remember cookie lasts as long; it is Secure whenever the session cookie is).
        "SESSION_IDLE_TIMEOUT": timedelta(minutes=_number("SESSION_IDLE_MINUTES", 60)),
        "SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=_number("SESSION_MAX_HOURS", 12)),
        "REMEMBER_COOKIE_DURATION": timedelta(days=_number("REMEMBER_ME_DAYS", 30)),
        "WTF_CSRF_TIME_LIMIT": None,
        "API_TITLE": "Co-creation marketplace API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": None,
    }

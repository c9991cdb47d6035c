"""Rate limits of the API and of exports, counted by Flask-Limiter (marketplace.extensions).

- Every API request: ``API_RATE_LIMIT`` per user (token or session), or per address when
  anonymous. It gives every API answer its ``RateLimit-*`` headers.
- API writes (POST, PUT, PATCH, DELETE): ``API_WRITE_RATE_LIMIT`` per user, on top.
- Failed token authentication: ``TOKEN_FAILURE_RATE_LIMIT`` per address. Only answers 401 to
  a request with an ``Authorization`` header count; once they reach the limit, every request
  with a token from that address gets 429 until the window ends, valid tokens included, so
  guessing tokens gets nowhere.
- Export requests (book exports, earnings CSV, API and pages alike): ``EXPORT_RATE_LIMIT`` per
  user.

All limits are shared (one count across the endpoints they cover). A 429 is a JSON problem under
/api/ (an HTML page elsewhere) with ``Retry-After``. The headers are named as in the IETF draft
(``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset``: seconds until the window
resets; config ``RATELIMIT_HEADER_*``).
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, request
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_smorest import Blueprint

from marketplace.auth import record_failed_authentication, token_user
from marketplace.errors import wants_json
from marketplace.extensions import limiter

UNSAFE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


def client_key() -> str:
    """Whom a request counts against: its user (by bearer token under /api/, else the session),
    or its address when nobody is signed in (or the token is no good)."""
    if wants_json() and "Authorization" in request.headers:
        user = token_user()
    else:
        user = current_user if current_user.is_authenticated else None
    return f"user:{user.id}" if user is not None else f"address:{get_remote_address()}"


def _failed_token_authentication(response: Response) -> bool:
    return response.status_code == 401 and "Authorization" in request.headers


def _token_failures_breached(_limit: RequestLimit) -> None:
    record_failed_authentication("too many failed token authentications from this address")


def _no_token() -> bool:
    return "Authorization" not in request.headers


def _setting(name: str):  # noqa: ANN202 (a limit provider for Flask-Limiter)
    return lambda: current_app.config[name]


# Created once: applying the same limit to a blueprint again (one more app) adds nothing.
_API_LIMITS = (
    # Writes first: the headers of a write show the write limit (the first that applies).
    limiter.shared_limit(
        _setting("API_WRITE_RATE_LIMIT"),
        scope="api-writes",
        key_func=client_key,
        methods=UNSAFE_METHODS,
        error_message="Too many API changes; wait for the time in Retry-After.",
    ),
    limiter.shared_limit(
        _setting("API_RATE_LIMIT"),
        scope="api",
        key_func=client_key,
        error_message="Too many API requests; wait for the time in Retry-After.",
    ),
    limiter.shared_limit(
        _setting("TOKEN_FAILURE_RATE_LIMIT"),
        scope="token-failures",
        key_func=get_remote_address,
        exempt_when=_no_token,
        deduct_when=_failed_token_authentication,
        on_breach=_token_failures_breached,
        error_message="Too many requests with an invalid API token from your address; "
        "wait for the time in Retry-After.",
    ),
)

#: For views that start an export or build a download from the book or earnings.
export_limit = limiter.shared_limit(
    _setting("EXPORT_RATE_LIMIT"),
    scope="exports",
    key_func=client_key,
    error_message="Too many export requests; wait for the time in Retry-After.",
)


def limit_api(blueprints: list[Blueprint]) -> None:
    """Apply the API's limits to each of its blueprints."""
    for blueprint in blueprints:
        for limit in _API_LIMITS:
            limit(blueprint)


def register_rate_limit_headers(app: Flask) -> None:
    """``RateLimit-Reset`` in seconds from now (Flask-Limiter writes a Unix time). Call before
    ``limiter.init_app``: after-request functions run last-registered first, so this one runs
    after the limiter has written its headers."""

    @app.after_request
    def reset_in_seconds(response: Response) -> Response:
        name = current_app.config.get("RATELIMIT_HEADER_RESET")
        reset_at = response.headers.get(name) if name else None
        if reset_at and reset_at.isdigit():
            response.headers[name] = str(max(0, int(reset_at) - int(time.time())))
        return response

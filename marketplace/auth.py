"""Who is asking: the signed-in user for pages; for the API, a bearer token or the session.

The API's rule, kept here in one place (``api_viewer``):

- ``Authorization: Bearer <token>`` authenticates any API request as the token's owner. A request
  that sends an ``Authorization`` header that is not a valid, unrevoked token gets 401, even if
  it also carries a session cookie.
- The API is exempt from CSRF checks (its blueprints are ``csrf.exempt``), so a session cookie,
  which a browser attaches to any site's forged request, authenticates only safe methods
  (GET, HEAD, OPTIONS). POST, PUT, PATCH and DELETE under /api/ need a bearer token.
- Tokens authenticate API requests only; HTML pages go by the session.
"""

from __future__ import annotations

from flask import Flask, Request, current_app, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_smorest import Api

from marketplace.accounts.models import User
from marketplace.accounts.services import get_user
from marketplace.accounts.tokens import user_for_token
from marketplace.errors import Unauthorized, problem, wants_json
from marketplace.extensions import login_manager

login_manager.login_view = "accounts.login"
login_manager.login_message_category = "info"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: OpenAPI security schemes, and the requirements that operations declare with ``@blp.doc``.
SECURITY_SCHEMES = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token (cct_...), created on the account page or with "
        "POST /api/v1/me/tokens. Required for POST, PUT, PATCH and DELETE.",
    },
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "The web session after signing in. Read-only: GET requests only.",
    },
}
#: Reads of public data: anonymous, a token or the session.
READ_OPTIONAL_AUTH: list[dict[str, list]] = [{}, {"bearerToken": []}, {"sessionCookie": []}]
#: Reads of one's own data: a token or the session.
READ_AUTH: list[dict[str, list]] = [{"bearerToken": []}, {"sessionCookie": []}]
#: Writes: a token only.
WRITE_AUTH: list[dict[str, list]] = [{"bearerToken": []}]


def protect_api(app: Flask, api: Api) -> None:
    """Authenticate API writes before anything else, and declare the security schemes in the
    OpenAPI document. Call after the API's blueprints are registered."""
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    app.before_request(_authenticate_api_writes)


def _authenticate_api_writes() -> None:
    """A write to an API endpoint is refused (401) before its input is even parsed unless it
    carries a valid token: input validation errors are for authenticated callers."""
    if (
        request.method not in SAFE_METHODS
        and request.routing_exception is None  # unknown paths and methods: 404 and 405 first
        and request.blueprint in current_app.extensions["flask-smorest"]["blp_name_to_api"]
    ):
        api_user()


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return get_user(int(user_id)) if user_id.isdigit() else None


@login_manager.request_loader
def load_user_from_request(_request: Request) -> User | None:
    """Flask-Login asks this when the session names nobody: a bearer token, API paths only."""
    return _token_user() if wants_json() else None


@login_manager.unauthorized_handler
def unauthorized() -> ResponseReturnValue:
    if wants_json():
        return problem(401, "Unauthorized", "Sign in to use this endpoint.")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for any other header."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _token_user() -> User | None:
    """The owner of the request's bearer token, looked up once per request."""
    if "token_user" not in g:
        token = bearer_token()
        g.token_user = user_for_token(token) if token else None
    return g.token_user


def api_viewer() -> User | None:
    """The user an API request is from, or None (anonymous). See the module's docstring."""
    if "Authorization" in request.headers:
        user = _token_user()
        if user is None:
            raise Unauthorized(
                "Send a valid API token as 'Authorization: Bearer <token>'; "
                "this one is unknown, revoked or malformed."
            )
        return user
    if request.method not in SAFE_METHODS:
        return None  # a session cookie alone does not authenticate writes
    return current_user._get_current_object() if current_user.is_authenticated else None


def api_user() -> User:
    """The authenticated user of an API request, or a 401 problem."""
    user = api_viewer()
    if user is None:
        if request.method in SAFE_METHODS:
            raise Unauthorized("Sign in, or send an API token, to use this endpoint.")
        if current_user.is_authenticated:
            raise Unauthorized(
                "The session cookie does not authenticate API changes; "
                "send an API token as 'Authorization: Bearer <token>'."
            )
        raise Unauthorized(
            "API changes need an API token (made on your account page), "
            "sent as 'Authorization: Bearer <token>'."
        )
    return user

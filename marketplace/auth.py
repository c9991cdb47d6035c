"""Who is asking: the signed-in user for pages; for the API, a bearer token or the session.

The API's rule, kept here in one place (``api_viewer``):

- ``Authorization: Bearer <token>`` authenticates any API request as the token's owner. A request
  that sends an ``Authorization`` header that is not a valid, unrevoked token gets 401, even if
  it also carries a session cookie.
- The API is exempt from CSRF checks (its blueprints are ``csrf.exempt``), so a session cookie,
  which a browser attaches to any site's forged request, authenticates only safe methods
  (GET, HEAD, OPTIONS). POST, PUT, PATCH and DELETE under /api/ need a bearer token.
- Tokens authenticate API requests only; HTML pages go by the session.
- A token is good for its scopes only (marketplace.accounts.scopes). Every API blueprint
  declares its area (``token_area``), an operation may declare another (``token_scope``), and
  ``protect_api`` checks the scope before any API view runs: 403 naming the missing scope. A
  session cookie is the whole user: its reads are not limited by scopes.
- An unknown, revoked or expired token gets 401 (an expired one is told so); too many of those
  from one address get 429 (marketplace.rate_limits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, Request, current_app, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_smorest import Api, Blueprint

from marketplace.accounts import scopes, sessions
from marketplace.accounts.models import ApiToken, User
from marketplace.accounts.second_factor import has_second_factor
from marketplace.accounts.tokens import PREFIX_LENGTH, SECRET_PREFIX, check_token
from marketplace.audit.log import record
from marketplace.audit.models import Outcome
from marketplace.errors import DomainError, Forbidden, Unauthorized, problem, wants_json
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


#: An operation on the caller's own account: any valid token may do it, whatever its scopes.
ACCOUNT = "account"
#: The area each API blueprint's operations belong to, by blueprint name (``token_area``).
_AREAS: dict[str, str] = {}
F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class TokenScope:
    """What one operation declares: its area (ACCOUNT for none), the access it needs (None:
    by its method) and whether it moves money (its service then asks for a second factor,
    whatever the scope; tests check the two agree)."""

    area: str | None = None
    access: str | None = None
    money: bool = False


def token_area(blp: Blueprint, area: str) -> None:
    """Declare the area of every operation of ``blp`` (an area of scopes.AREAS, or ACCOUNT)."""
    if area not in (*scopes.AREAS, ACCOUNT):
        raise ValueError(f"Unknown token area {area!r}")
    _AREAS[blp.name] = area


def token_scope(
    area: str | None = None, access: str | None = None, *, money: bool = False
) -> Callable[[F], F]:
    """Declare what one operation needs where it differs from its blueprint's area: another
    area, a fixed access (an export reads, though it is a POST), or that it moves money."""
    if area is not None and area not in (*scopes.AREAS, ACCOUNT):
        raise ValueError(f"Unknown token area {area!r}")
    if access not in (None, scopes.READ, scopes.WRITE):
        raise ValueError(f"Unknown access {access!r}")

    def declare(function: F) -> F:
        function.token_scope = TokenScope(area, access, money)  # type: ignore[attr-defined]
        return function

    return declare


def protect_api(app: Flask, api: Api) -> None:
    """Authenticate API requests and check their token's scope before anything else, and
    declare the security schemes in the OpenAPI document. Call after the API's blueprints are
    registered: each must have declared its area, so no operation goes unchecked."""
    undeclared = set(app.extensions["flask-smorest"]["blp_name_to_api"]) - set(_AREAS)
    if undeclared:
        raise RuntimeError(f"API blueprints without a token area: {sorted(undeclared)}")
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    app.before_request(_authenticate_api_request)


def _authenticate_api_request() -> None:
    """An API write is refused (401) before its input is even parsed unless it carries a valid
    token: input validation errors are for authenticated callers. Any request with a token is
    refused (403) before its view runs if the token lacks the operation's scope."""
    if (
        request.routing_exception is not None  # unknown paths and methods: 404 and 405 first
        or request.blueprint not in current_app.extensions["flask-smorest"]["blp_name_to_api"]
    ):
        return
    if request.method not in SAFE_METHODS:
        api_user()
    elif "Authorization" in request.headers:
        api_viewer()
    token = g.get("api_token")
    if token is not None:
        _check_scope(token)


def _declared_scope() -> TokenScope:
    """What the requested operation declared with ``token_scope``, if anything."""
    view = current_app.view_functions[request.endpoint]
    view_class = getattr(view, "view_class", None)
    method = request.method.lower()
    if view_class is not None:
        view = getattr(view_class, method, None) or getattr(view_class, "get", None)
    return getattr(view, "token_scope", None) or TokenScope()


def required_scope() -> tuple[str | None, bool]:
    """The scope the current API request needs (None: an operation on one's own account) and
    whether it moves money."""
    declared = _declared_scope()
    area = declared.area or _AREAS[request.blueprint]
    if area == ACCOUNT:
        return None, declared.money
    access = declared.access or (scopes.READ if request.method in SAFE_METHODS else scopes.WRITE)
    needed = scopes.scope(area, access)
    return needed, declared.money or needed in scopes.MONEY_SCOPES


def _check_scope(token: ApiToken) -> None:
    needed, _money = required_scope()
    if needed is not None and needed not in token.scope_set:
        _refuse_token(
            token,
            needed,
            "scope",
            f"This API token lacks the scope {needed}, which {request.method} {request.path} "
            f"needs; its scopes: {token.scopes}. Make a token with {needed} on your account "
            "page.",
        )
    if needed in scopes.MONEY_SCOPES and not has_second_factor(token.user):
        # made while its owner had a second factor, which has since been turned off
        _refuse_token(
            token,
            needed,
            "second_factor",
            f"{needed} moves money: this token works for it only while its owner has a second "
            "factor. Set one up again on your account page.",
        )


def _refuse_token(token: ApiToken, needed: str, reason: str, message: str) -> None:
    record(
        "token.use",
        obj=token,
        actor=token.user,
        outcome=Outcome.REFUSED,
        details={"reason": reason, "scope": needed, "request": _request_line()},
        apart=True,
    )
    raise Forbidden(message)


@login_manager.user_loader
def load_user(session_key: str) -> User | None:
    """Flask-Login keeps a server-side session's key, not a user id (accounts.sessions)."""
    return sessions.load_user(session_key)


@login_manager.request_loader
def load_user_from_request(_request: Request) -> User | None:
    """Flask-Login asks this when the session names nobody: a bearer token, API paths only."""
    return token_user() if wants_json() else None


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


def token_user() -> User | None:
    """The owner of the request's usable bearer token, looked up once per request; None for
    no token or an unusable one (``api_viewer`` says why)."""
    if "api_token" not in g:
        g.api_token, g.api_token_error = None, None
        try:
            g.api_token = check_token(bearer_token(), request.remote_addr)
            g.api_token_id = g.api_token.id  # for the audit log
        except DomainError as error:
            g.api_token_error = error
    return g.api_token.user if g.api_token is not None else None


def _request_line() -> str:
    return f"{request.method} {request.path}"


def record_failed_authentication(reason: str) -> None:
    """Audit a request refused for its token: unknown, revoked or expired ("refused"), or
    one of too many such from its address ("throttled"). A guessed token's first characters
    are kept, as the token list shows a real one's."""
    token = bearer_token() or ""
    record(
        "token.authenticate",
        object_type="api_token",
        outcome=Outcome.REFUSED,
        details={
            "reason": reason,
            "prefix": token[:PREFIX_LENGTH] if token.startswith(SECRET_PREFIX) else None,
            "request": _request_line(),
        },
        apart=True,
    )


def api_viewer() -> User | None:
    """The user an API request is from, or None (anonymous). See the module's docstring."""
    if "Authorization" in request.headers:
        user = token_user()
        if user is None:
            if not g.get("api_token_failure_recorded"):
                g.api_token_failure_recorded = True
                record_failed_authentication(g.api_token_error.message)
            raise g.api_token_error
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


def api_token() -> ApiToken:
    """The token of the current API request, which must have come with one (any write)."""
    api_user()
    token = g.get("api_token")
    if token is None:
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
    return token

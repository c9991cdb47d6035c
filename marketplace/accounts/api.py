"""JSON API for accounts: who you are, your personal API tokens and your signed-in sessions.

Tokens: the first one is created on the account page (a CSRF-protected form, signed in with the
session, after a recent re-authentication). Creating or revoking one through the API is a
write, and API writes authenticate by bearer token only (marketplace.auth), so a client with a
token can revoke any of its owner's tokens, the one it is using included, and mint more (to
rotate) if it also sends the owner's password or a current second-factor code: a stolen token
alone cannot make more tokens. A session cookie cannot do either.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate

from marketplace.accounts import scopes, services, sessions, tokens
from marketplace.accounts.models import ApiToken, UserSession
from marketplace.accounts.reauth import confirmed
from marketplace.accounts.schemas import MeSchema
from marketplace.api import ProblemSchema
from marketplace.auth import ACCOUNT, READ_AUTH, WRITE_AUTH, api_token, api_user, token_area

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="Your account")
token_area(blp, ACCOUNT)

UNAUTHORIZED = (
    "Not authenticated: no credentials, an unknown or revoked token, or a write sent with only "
    "the session cookie (writes need a bearer token)"
)


SCOPES_DESCRIPTION = (
    "what the token may do: `<area>:read` for GET requests, `<area>:write` for the others; "
    + "; ".join(f"{area}: {text}" for area, text in scopes.DESCRIPTIONS.items())
    + ". value:write, payouts:write and finance:write need a second factor."
)


class NewTokenSchema(ma.Schema):
    name = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=tokens.MAX_NAME),
        metadata={"description": "what the token is for, e.g. the client using it"},
    )
    scopes = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(scopes.ALL_SCOPES)),
        required=True,
        validate=validate.Length(min=1, max=len(scopes.ALL_SCOPES)),
        error_messages={"required": "Choose at least one scope."},
        metadata={
            "description": SCOPES_DESCRIPTION + " A token made through the API gets no scope "
            "the token asking lacks."
        },
    )
    expires_at = ma.fields.AwareDateTime(
        required=True,
        error_messages={"required": "Choose when the token expires: at most one year ahead."},
        metadata={"description": "when the token stops working: in the future, at most one "
                  "year ahead"},
    )
    password = ma.fields.String(
        load_only=True,
        validate=validate.Length(max=256),
        metadata={"description": "your password: a new token needs `password` or `code`"},
    )
    code = ma.fields.String(
        load_only=True,
        validate=validate.Length(max=40),
        metadata={
            "description": "instead of `password`: a current code of your authenticator app, "
            "or an unused recovery code (if you have a second factor)"
        },
    )


class TokenSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "the token's first characters"})
    scopes = ma.fields.Function(
        lambda token: token.scopes.split(),
        metadata={"type": "array", "items": {"type": "string"}},
    )
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)
    last_used_address = ma.fields.String(
        allow_none=True, metadata={"description": "the client address of that last use"}
    )
    revoked_at = ma.fields.DateTime(allow_none=True)


class CreatedTokenSchema(TokenSchema):
    token = ma.fields.String(
        metadata={"description": "the secret: shown in this answer only, never again"}
    )


class SessionSchema(ma.Schema):
    id = ma.fields.Integer()
    user_agent = ma.fields.String(metadata={"description": "the browser's, cut at 255 characters"})
    ip_address = ma.fields.String(metadata={"description": "the address it signed in from"})
    created_at = ma.fields.DateTime(metadata={"description": "when it signed in"})
    last_seen_at = ma.fields.DateTime(metadata={"description": "to the minute"})
    remembered = ma.fields.Boolean(metadata={"description": "signed in with 'Keep me signed in'"})
    expires_at = ma.fields.Method("_expires_at", metadata={"type": "string", "format": "date-time"})
    current = ma.fields.Method(
        "_current",
        metadata={"type": "boolean", "description": "the session this request came with"},
    )

    def _expires_at(self, record: UserSession) -> str:
        return sessions.expires_at(record).isoformat()

    def _current(self, record: UserSession) -> bool:
        current = sessions.current_session()
        return current is not None and current.id == record.id


class _Created:
    """A new token as CreatedTokenSchema sees it: the row, and the secret it was made from."""

    def __init__(self, row: ApiToken, secret: str) -> None:
        self._row = row
        self.token = secret

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


@blp.route("/me")
class Me(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, MeSchema)
    @blp.alt_response(401, schema=ProblemSchema, description=UNAUTHORIZED)
    def get(self) -> dict:
        """The signed-in user and the organizations they belong to."""
        user = api_user()
        return {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "is_platform_finance": user.is_platform_finance,
            "is_admin": user.is_admin,
            "organizations": services.organizations_of(user),
        }


@blp.route("/me/tokens")
class Tokens(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, TokenSchema(many=True))
    @blp.alt_response(401, schema=ProblemSchema, description=UNAUTHORIZED)
    def get(self) -> Any:
        """Your API tokens, newest first, revoked ones included (never their secrets)."""
        return tokens.tokens_of(api_user())

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(NewTokenSchema)
    @blp.response(201, CreatedTokenSchema)
    @blp.alt_response(401, schema=ProblemSchema, description=UNAUTHORIZED)
    @blp.alt_response(
        422,
        schema=ProblemSchema,
        description="Invalid name, an unknown scope or one the token asking lacks, an "
        "expiry in the past or more than a year ahead, or no (or a wrong) `password` or `code`",
    )
    def post(self, data: dict) -> Any:
        """Create another token (needs a token: the first one comes from the account page),
        with at most the scopes of the token asking, confirming it is you with your
        `password` or a second-factor `code`. The secret is in this answer only."""
        user = api_user()
        token, secret = confirmed(
            user,
            lambda: tokens.create_token(
                user,
                data["name"],
                data["scopes"],
                data["expires_at"],
                granted_by=api_token().scope_set,
            ),
            password=data.get("password"),
            code=data.get("code"),
        )
        return _Created(token, secret)


@blp.route("/me/tokens/<int(max=9223372036854775807):token_id>")
class TokenItem(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(204)
    @blp.alt_response(401, schema=ProblemSchema, description=UNAUTHORIZED)
    @blp.alt_response(404, schema=ProblemSchema, description="None of your tokens has this id")
    def delete(self, token_id: int) -> None:
        """Revoke one of your tokens (again: no change). It stops working at once."""
        tokens.revoke_token(api_user(), token_id)


@blp.route("/me/sessions")
class Sessions(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, SessionSchema(many=True))
    @blp.alt_response(401, schema=ProblemSchema, description=UNAUTHORIZED)
    def get(self) -> Any:
        """Your signed-in browsers that have not ended, most recently seen first. API tokens are
        not sessions (see /me/tokens)."""
        return sessions.sessions_of(api_user())


@blp.route("/me/sessions/<int(max=9223372036854775807):session_id>")
class SessionItem(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(204)
    @blp.alt_response(401, schema=ProblemSchema, description=UNAUTHORIZED)
    @blp.alt_response(404, schema=ProblemSchema, description="None of your sessions has this id")
    def delete(self, session_id: int) -> None:
        """Sign out one of your sessions (again: no change): its cookies stop working at once."""
        sessions.end_session(api_user(), session_id)

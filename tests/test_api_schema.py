"""The JSON API against its own OpenAPI document, with schemathesis 4, in process.

Schemathesis reads /api/openapi.json from the app and sends generated requests to every
operation: valid and invalid query values, bodies and path ids, unexpected query parameters
and headers, methods the operation does not have. ``call_and_validate`` runs all its default
checks on each answer: no 5xx, status codes and content types the document lists, bodies
(errors included) that match the documented schemas, schema-valid input not rejected, invalid
input not accepted, 405 answers with an ``Allow`` header, and authentication that the document
declares (``security``) really enforced.

It runs anonymously, as a plain user with a bearer token of every scope and with one token per
area (its read and write scopes: operations of other areas answer 403 naming the scope they
need), and as a plain user and as platform
finance staff with the session cookie (which authenticates reads only), on SQLite and on
PostgreSQL: requests go to the per-test ``app`` fixture, inside the transaction that is rolled
back after the test. No need exists there, so operations on one answer 404 (or refuse the
caller first); tests/challenges/test_api.py walks the needs' rules through the API.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from flask import Flask, request
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.accounts.scopes import ALL_SCOPES, AREAS
from marketplace.accounts.sessions import start_session
from marketplace.auth import required_scope
from marketplace.extensions import db
from tests.conftest import AuthActions
from tests.conftest import test_config as config_for  # renamed, or pytest collects it as a test
from tests.factories import UserFactory, make_token

# The document does not depend on the database, so it is read once, at import, from an app that
# never connects. Each test sends its requests to the ``app`` fixture instead (``app=`` below).
# (``schemathesis.pytest.from_fixture`` would be the other way, but in schemathesis 4.32.5 it
# sets ``request.node._nodeid``, which pytest 9 no longer has: such tests fail with an
# AttributeError before sending anything.)
_DOCUMENT_APP = create_app(config_for("sqlite://"))
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", _DOCUMENT_APP)
# The same document without the coverage phase (boundary and negative values of every
# constraint: dozens of requests per operation) for the identities whose writes never get past
# authentication: keeps the file short. The bearer-token run has every phase.
fuzz_only_schema = schemathesis.openapi.from_wsgi("/api/openapi.json", _DOCUMENT_APP)
fuzz_only_schema.config.phases.coverage.enabled = False

# Every example of one operation shares the test's transaction. Few examples per operation:
# the file runs 4 identities x ~25 operations on two databases (about 90 s in all).
FEW_EXAMPLES = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)



def scopes_by_operation(app: Flask) -> dict[tuple[str, str], str | None]:
    """The scope each operation needs, by method and the document's path ("/x/{id}")."""
    api_blueprints = app.extensions["flask-smorest"]["blp_name_to_api"]
    needed = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in api_blueprints:
            continue
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            with app.test_request_context("/api/v1/", method=method):
                request.url_rule = rule
                needed[(method, path)] = required_scope()[0]
    return needed


SCOPE_NEEDED = scopes_by_operation(_DOCUMENT_APP)
TRIAL_BALANCE = "/api/v1/ledger/trial-balance"
FINANCE_DESK = "/api/v1/finance/"
PAYOUT_BATCHES = "/api/v1/payout-batches"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def public_read(case) -> bool:
    """A GET the document says anyone may send (its security allows no credentials)."""
    return case.method == "GET" and {} in case.operation.definition.raw.get("security", [])


def sends_authorization(case) -> bool:
    return any(name.lower() == "authorization" for name in case.headers or {})


#: Queries with a rule the document cannot state (a period's cross-field rule; a cursor is
#: opaque: only one the API handed out decodes): a field error (422) is right for these.
CROSS_FIELD_QUERIES = frozenset(
    {
        "/api/v1/finance/reconciliation",
        "/api/v1/finance/transfers",
        "/api/v1/finance/accounts",
        "/api/v1/finance/provider-discrepancies",
        "/api/v1/finance/statement",
        "/api/v1/ledger/trial-balance/accounts",
        "/api/v1/notifications",
        "/api/v1/me/proposals",
    }
)


def excluded_checks(case, *, cookie: bool = False) -> list:
    excluded = []
    if case.method in WRITES:
        # A schema-valid body can still break a rule OpenAPI cannot state (criteria weights
        # that add up to 100, a deadline an hour ahead, a slug that exists, amendments that
        # only favour solvers): the API answers those 422, as documented.
        excluded.append(positive_data_acceptance)
    elif case.path in CROSS_FIELD_QUERIES:
        # Each date is schema-valid alone; the pair must make a period of 1 to 366 days, and a
        # cursor must be one the API handed out: rules OpenAPI cannot state, answered 422.
        excluded.append(positive_data_acceptance)
    if cookie:
        # The session cookie is passed with ``cookies=``; schemathesis then takes it for a
        # value it generated itself and calls a 200 "invalid authentication accepted".
        excluded.append(ignored_auth)
    return excluded


@fuzz_only_schema.parametrize()
@FEW_EXAMPLES
def test_api_as_anonymous_conforms_to_schema(case, app: Flask) -> None:
    response = case.call_and_validate(app=app, excluded_checks=excluded_checks(case))
    if not case.meta.generation.mode.is_positive:
        return
    if case.method in WRITES or sends_authorization(case):
        # Writes need a token: refused before the body is even read. A generated
        # Authorization header is no valid token: refused, whatever the operation.
        assert response.status_code == 401, response.text
    elif public_read(case):
        assert response.status_code in (200, 404), response.text  # no need exists: 404
    else:
        assert response.status_code == 401, response.text


def sign_in(
    app: Flask,
    client: FlaskClient,
    kind: str,
    credential: str,
    scopes: tuple[str, ...] = ALL_SCOPES,
) -> dict:
    """A signed-in user: what they are, and how they authenticate.

    A bearer token is made when needed (``credentials()``), and again after a generated
    DELETE /api/v1/me/tokens/{id} revoked it (``forget_token()``). The cookie goes to
    schemathesis as ``cookies=``: a ``Cookie`` header would be lost, since the werkzeug client
    it uses writes that header from its own (empty) cookie jar.
    """
    with app.app_context():
        # a second factor: platform finance staff need one, and so does a token with a money
        # scope, whoever holds it
        finance = kind == "finance"
        email = UserFactory(is_platform_finance=finance, second_factor=True).email
    token: dict[str, str] = {}
    if credential == "bearer":

        def credentials() -> dict:
            if not token:
                with app.app_context():
                    user = db.session.scalar(db.select(User).where(User.email == email))
                    token["secret"] = make_token(user, "schemathesis", scopes)[1]
            return {"headers": {"Authorization": f"Bearer {token['secret']}"}}

    else:
        # What logging in through the form leaves in the session (the form's argon2 check
        # costs a quarter second per test; tests/accounts test the form itself).
        with app.test_request_context():
            user = db.session.scalar(db.select(User).where(User.email == email))
            start_session(user)
            session_key = user.get_id()
        with client.session_transaction() as session:
            session["_user_id"] = session_key
            session["_fresh"] = True
        cookie = client.get_cookie("session")
        assert cookie is not None

        def credentials() -> dict:
            return {"cookies": {"session": cookie.value}}

    return {
        "kind": kind,
        "credential": credential,
        "email": email,
        "credentials": credentials,
        "forget_token": token.clear,
        "scopes": frozenset(scopes) if credential == "bearer" else None,
    }


def call_signed_in(case, app: Flask, signed_in: dict) -> None:
    cookie = signed_in["credential"] == "cookie"
    response = case.call_and_validate(
        app=app, excluded_checks=excluded_checks(case, cookie=cookie), **signed_in["credentials"]()
    )
    if case.method == "DELETE" and response.status_code == 204:
        signed_in["forget_token"]()  # it revoked the only token there is: ours
    if not case.meta.generation.mode.is_positive:
        return
    if cookie and sends_authorization(case):  # a generated token beats the session: refused
        assert response.status_code == 401, response.text
        return
    needed = SCOPE_NEEDED[(case.method, case.path)]
    if not cookie and needed is not None and needed not in signed_in["scopes"]:
        # Refused before anything else, whatever the input: the token lacks the scope.
        assert response.status_code == 403, response.text
        assert needed in response.json()["detail"]
        return
    if case.method in WRITES:
        if cookie:  # a session cookie alone never authenticates a write
            assert response.status_code == 401, response.text
        else:
            assert response.status_code != 401, response.text
        return
    if case.path.startswith(FINANCE_DESK):  # tests/finance walk its rules with a real book
        expected = (200, 404) if signed_in["kind"] == "finance" else (403,)
        if signed_in["kind"] == "finance" and case.path in CROSS_FIELD_QUERIES:
            expected = (200, 404, 422)  # a period the rules refuse: a field error, not a 500
        assert response.status_code in expected, response.text
        return
    if case.path.startswith(PAYOUT_BATCHES):  # tests/payouts walk the four-eyes rules
        expected = (200, 404) if signed_in["kind"] == "finance" else (403,)
        assert response.status_code in expected, response.text
        return
    if case.path.startswith(TRIAL_BALANCE):  # totals per kind of account, then its accounts
        finance = signed_in["kind"] == "finance"
        expected = (
            ((200, 422) if case.path in CROSS_FIELD_QUERIES else (200,)) if finance else (403,)
        )
        assert response.status_code in expected, response.text
        return
    if "{" in case.path:  # one need, its terms or dialogue: none exists
        assert response.status_code == 404, response.text
        return
    if case.path in CROSS_FIELD_QUERIES and response.status_code == 422:
        return  # a cursor the API never handed out
    assert response.status_code == 200, response.text
    if case.path.endswith(".csv"):  # a download (text/csv, checked against the document)
        assert response.text.startswith("date,"), response.text
        return
    if case.path == "/api/v1/me":
        me = response.json()
        assert me["email"] == signed_in["email"]
        assert me["is_platform_finance"] is (signed_in["kind"] == "finance")
    elif case.path == "/api/v1/me/payout-account":  # a new user has none yet
        assert response.json() == {"account": None}
    elif case.path == "/api/v1/challenges":
        assert set(response.json()) == {"items", "total", "capped", "page", "per_page", "pages"}
    elif case.path == "/api/v1/me/proposals":  # the solver's home: a new user has nothing
        home = response.json()
        assert isinstance(home.pop("per_page"), int)
        assert home == {
            "next_cursor": None,
            "proposals": [],
            "invitations": [],
            "to_confirm": [],
            "decisions": [],
            "awards": [],
            "owed": {},
        }
    elif case.path == "/api/v1/notifications":  # a keyset page
        assert set(response.json()) == {"items", "per_page", "next_cursor"}
    else:
        assert isinstance(response.json(), list)


@pytest.fixture
def with_token(app: Flask, client: FlaskClient) -> dict:
    return sign_in(app, client, "member", "bearer")


@schema.parametrize()
@FEW_EXAMPLES
def test_api_with_a_bearer_token_conforms_to_schema(case, app: Flask, with_token: dict) -> None:
    """A token with every scope: the operations' own rules answer."""
    call_signed_in(case, app, with_token)


@pytest.fixture(params=AREAS)
def with_area_token(request: pytest.FixtureRequest, app: Flask, client: FlaskClient) -> dict:
    area = request.param
    return sign_in(app, client, "member", "bearer", (f"{area}:read", f"{area}:write"))


@fuzz_only_schema.parametrize()
@FEW_EXAMPLES
def test_api_with_a_token_of_one_area_conforms_to_schema(
    case, app: Flask, with_area_token: dict
) -> None:
    """A token of one area's scopes: 403 naming the scope elsewhere, never a server error."""
    call_signed_in(case, app, with_area_token)


@pytest.fixture(
    params=[("member", "cookie"), ("finance", "cookie")],
    ids=lambda p: "-".join(p),
)
def signed_in(request: pytest.FixtureRequest, app: Flask, client: FlaskClient) -> dict:
    return sign_in(app, client, *request.param)


@fuzz_only_schema.parametrize()
@FEW_EXAMPLES
def test_api_as_signed_in_user_conforms_to_schema(case, app: Flask, signed_in: dict) -> None:
    call_signed_in(case, app, signed_in)


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_trial_balance_as_of_at_the_ends_of_time(
    app: Flask, client: FlaskClient, as_of: str
) -> None:
    """Schema-valid date-times that schemathesis may draw: the answer is a trial balance."""
    with app.app_context():
        email = UserFactory(is_platform_finance=True, second_factor=True).email
    AuthActions(client).login(email)
    response = client.get(TRIAL_BALANCE, query_string={"as_of": as_of})
    assert response.status_code == 200
    assert response.get_json()["balanced"] is True


@pytest.mark.parametrize("bound", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_searching_needs_by_deadline_at_the_ends_of_time(client: FlaskClient, bound: str) -> None:
    for name in ("deadline_after", "deadline_before"):
        response = client.get("/api/v1/challenges", query_string={name: bound, "status": "any"})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["total"] == 0


def test_text_a_database_cannot_store_gets_a_field_error(client: FlaskClient) -> None:
    """PostgreSQL refuses NUL characters; the API says so instead of failing."""
    response = client.get("/api/v1/challenges", query_string={"q": "a\x00b", "category": "\x00"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"q", "category"}

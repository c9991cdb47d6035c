"""The JSON API against its own OpenAPI document, with schemathesis 4, in process.

Schemathesis reads /api/openapi.json from the app and sends generated requests to every
operation: valid and invalid query values, unexpected query parameters and headers, methods
the operation does not have. ``call_and_validate`` runs all its default checks on each answer:
no 5xx, status codes and content types the document lists, bodies (errors included) that
match the documented schemas, schema-valid input not rejected, invalid input not accepted,
405 answers with an ``Allow`` header.

It runs anonymously, as a plain user and as platform finance staff, on SQLite and on
PostgreSQL: requests go to the per-test ``app`` fixture, inside the transaction that is rolled
back after the test.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from marketplace import create_app
from tests.conftest import AuthActions
from tests.conftest import test_config as config_for  # renamed, or pytest collects it as a test
from tests.factories import UserFactory

# The document does not depend on the database, so it is read once, at import, from an app that
# never connects. Each test sends its requests to the ``app`` fixture instead (``app=`` below).
# (``schemathesis.pytest.from_fixture`` would be the other way, but in schemathesis 4.32.5 it
# sets ``request.node._nodeid``, which pytest 9 no longer has: such tests fail with an
# AttributeError before sending anything.)
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", create_app(config_for("sqlite://")))

# Every example of one operation shares the test's transaction: the API only reads.
FEW_EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TRIAL_BALANCE = "/api/v1/ledger/trial-balance"


@schema.parametrize()
@FEW_EXAMPLES
def test_api_as_anonymous_conforms_to_schema(case, app: Flask) -> None:
    response = case.call_and_validate(app=app)
    if case.method == "GET" and case.meta.generation.mode.is_positive:
        assert response.status_code == 401, response.text


@pytest.fixture(params=["member", "finance"])
def signed_in(request: pytest.FixtureRequest, app: Flask, client: FlaskClient) -> dict:
    """A user signed in through the login form: what they are, and their session cookie.

    The cookie goes to schemathesis as ``cookies=``: a ``Cookie`` header would be lost, since the
    werkzeug client it uses writes that header from its own (empty) cookie jar.
    """
    with app.app_context():
        email = UserFactory(is_platform_finance=request.param == "finance").email
    response = AuthActions(client).login(email)
    assert response.status_code == 302, response.get_data(as_text=True)
    cookie = client.get_cookie("session")
    assert cookie is not None
    return {"kind": request.param, "email": email, "cookies": {"session": cookie.value}}


@schema.parametrize()
@FEW_EXAMPLES
def test_api_as_signed_in_user_conforms_to_schema(case, app: Flask, signed_in: dict) -> None:
    response = case.call_and_validate(app=app, cookies=signed_in["cookies"])
    if case.method != "GET" or not case.meta.generation.mode.is_positive:
        return
    if case.path == TRIAL_BALANCE and signed_in["kind"] != "finance":
        assert response.status_code == 403, response.text
        return
    assert response.status_code == 200, response.text
    if case.path == "/api/v1/me":
        me = response.json()
        assert me["email"] == signed_in["email"]
        assert me["is_platform_finance"] is (signed_in["kind"] == "finance")
    else:
        assert isinstance(response.json(), list)


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_trial_balance_as_of_at_the_ends_of_time(
    app: Flask, client: FlaskClient, as_of: str
) -> None:
    """Schema-valid date-times that schemathesis may draw: the answer is a trial balance."""
    with app.app_context():
        email = UserFactory(is_platform_finance=True).email
    AuthActions(client).login(email)
    response = client.get(TRIAL_BALANCE, query_string={"as_of": as_of})
    assert response.status_code == 200
    assert isinstance(response.get_json(), list)

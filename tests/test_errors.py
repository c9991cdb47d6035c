"""Errors: HTML pages for people, JSON problems for API clients, never a bare 500."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Organization, User
from marketplace.challenges import services as needs
from marketplace.challenges.models import Challenge
from marketplace.dialogue.models import ProgressUpdate
from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.input_guards import MAX_JSON_BYTES, json_depth
from marketplace.notifications.mail import send_email
from marketplace.notifications.models import Notification
from marketplace.proposals import services as proposals
from marketplace.proposals.models import Proposal
from tests.challenges.conftest import opened, people, user  # noqa: F401
from tests.factories import UserFactory, make_token
from tests.local_servers import SMTPServer


def test_unknown_page_is_an_html_404(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not Found" in response.get_data(as_text=True)


def test_unknown_api_path_is_a_json_problem(client) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json == {
        "type": "about:blank", "title": "Not Found", "status": 404,
        "detail": response.json["detail"],
    }  # fmt: skip


def test_wrong_method_keeps_the_allow_header(client) -> None:
    api = client.post("/api/v1/me")
    assert api.status_code == 405
    assert "GET" in api.headers["Allow"]
    page = client.delete("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


def test_health_and_openapi_document(client) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    spec = client.get("/api/openapi.json").json
    assert "/api/v1/me" in spec["paths"]
    assert "/api/v1/ledger/trial-balance" in spec["paths"]


def test_ids_beyond_64_bits_are_404_not_500(client, auth, app) -> None:
    with app.app_context():
        email = UserFactory().email
    auth.login(email)
    for path in ("/challenges/99999999999999999999", "/payments/99999999999999999999/done"):
        assert client.get(path).status_code == 404


def test_a_nul_character_in_a_form_is_a_clear_400(client) -> None:
    response = client.post("/login", data={"email": "a\x00@example.com", "password": "x"})
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    assert client.get("/challenges", query_string={"q": "a\x00b"}).status_code == 400


# -- odd input that used to be a 500 --------------------------------------------------------


def bearer_of(app, email: str) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {make_token(user(email))[1]}"}


def test_json_nested_5000_arrays_deep_is_a_400_problem(app, client, people) -> None:  # noqa: F811
    body = "[" * 5000 + "]" * 5000
    for headers in ({}, bearer_of(app, people.manager)):
        response = client.post(
            "/api/v1/challenges", data=body, content_type="application/json", headers=headers
        )
        assert response.status_code == 400
        assert response.mimetype == "application/json"
        assert "more than 64 levels deep" in response.get_json()["detail"]
    assert json_depth(b'{"a": [[1, "[[[[[["], {"b": {}}]}') == 4  # brackets in strings skipped


def test_a_json_body_larger_than_the_bound_is_a_413_problem(app, client, people) -> None:  # noqa: F811
    body = json.dumps({"title": "x" * (MAX_JSON_BYTES + 1)})
    response = client.post("/api/v1/challenges", data=body, content_type="application/json",
                           headers=bearer_of(app, people.manager))  # fmt: skip
    assert response.status_code == 413 and response.get_json()["status"] == 413


def test_a_nul_byte_in_the_path_is_a_404_before_any_query(app, client, auth, people) -> None:  # noqa: F811
    """On PostgreSQL a NUL in ``/o/<slug>`` reached the query and failed with a 500."""
    for path in ("/o/%00", "/o/acme%00/logo", "/organizations/%00/members",
                 "/api/v1/organizations/%00/insight", "/o/%00/insight"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 404, path
    auth.login(people.owner)
    assert client.get("/o/ac%00me").status_code == 404
    assert client.get("/o/acme", query_string={"p\x00ge": "1"}).status_code == 400


def test_a_colour_with_a_trailing_newline_is_a_field_error(app, client, auth, people) -> None:  # noqa: F811
    auth.login(people.owner)
    response = client.post("/o/acme/settings", data={
        "tagline": "", "about": "", "primary_color": "#123456\n", "accent_color": "#111111",
        "email_domains": "acme.example\n",
    })  # fmt: skip
    assert response.status_code == 422 and "Use a colour" in response.get_data(as_text=True)
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        assert acme.primary_color != "#123456\n"


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/api/v1/challenges", "currency", "USD\n"),
        ("/api/v1/challenges", "tags", ["tag\n"]),
        ("/api/v1/challenges", "excluded_countries", ["NL\n"]),
        ("/api/v1/challenges", "title", "A need\nBcc: everyone@example.com"),
        ("/api/v1/challenges", "title", "A need \u202e"),
    ],
)
def test_patterns_match_in_full_in_the_api(app, client, people, path, field, value) -> None:  # noqa: F811
    need = {"title": "A need", "summary": "s", "looking_for": ["x"], "maturity": "idea",
            "category": "c", "organization": "acme",
            "terms": {"currency": "USD", "prizes": [100], "ip_terms": "license",
                      "criteria": [{"name": "fit", "weight": 100}],
                      "deadline": "2099-01-01T00:00:00+00:00"}}  # fmt: skip
    target = need["terms"] if field in ("currency", "excluded_countries") else need
    target[field] = value
    response = client.post(path, json=need, headers=bearer_of(app, people.manager))
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    assert field in errors or field in errors.get("terms", {}), errors
    with app.app_context():
        assert db.session.scalar(select(func.count(Challenge.id))) == 0


def test_a_newline_in_an_update_title_is_a_field_error_and_sends_nothing(
    app, client, auth, people, opened  # noqa: F811
) -> None:
    url = f"/api/v1/challenges/{opened}/updates"
    body = {"title": "Shortlist\nBcc: everyone@example.com", "body": "Soon."}
    response = client.post(url, json=body, headers=bearer_of(app, people.manager))
    assert response.status_code == 422
    assert "U+000A" in response.get_json()["errors"]["title"][0]
    auth.login(people.manager)
    page = client.post(f"/challenges/{opened}/updates", data={
        "title": "Shortlist\u202e", "body": "Soon."}, follow_redirects=True)  # fmt: skip
    assert "U+202E (RIGHT-TO-LEFT OVERRIDE)" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(ProgressUpdate.id))) == 0
        assert db.session.scalar(
            select(func.count(Notification.id)).where(Notification.kind == "update")
        ) == 0


def test_a_newline_in_a_proposal_title_is_a_field_error(app, client, auth, people, opened) -> None:  # noqa: F811
    with app.app_context():
        needs.accept_terms(user(people.solver), opened)
        with pytest.raises(Invalid) as error:
            proposals.create_proposal(user(people.solver), opened, {"title": "Liner\r\nX: y"})
        assert "U+000D" in error.value.errors["title"][0]
    response = client.post(f"/api/v1/challenges/{opened}/proposals",
                           json={"title": "Liner\nBcc: x@example.com"},
                           headers=bearer_of(app, people.solver))  # fmt: skip
    assert response.status_code == 422 and "title" in response.get_json()["errors"]
    auth.login(people.solver)
    page = client.post(f"/challenges/{opened}/proposals/new",
                       data={"title": "Liner\u2066", "summary": "s"})  # fmt: skip
    assert "U+2066" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Proposal.id))) == 0


def test_an_email_subject_never_becomes_two_header_lines(app) -> None:
    server = SMTPServer()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=False)
    try:
        with app.app_context():
            send_email("solver@example.com", "Update\r\nBcc: all@example.com\u202e", "Body")
    finally:
        server.stop()
        app.config["MAIL_SERVER"] = None
    [message] = server.messages
    assert [r.lower() for r in message["rcpt"]] == ["rcpt to:<solver@example.com>"]
    headers = message["data"].split("\r\n\r\n", 1)[0]
    assert "Subject: Update Bcc: all@example.com\r\n" in headers + "\r\n"
    assert "\r\nBcc:" not in headers


@pytest.mark.parametrize("name", ["Ann\nBcc: all@example.com", "Ann \u202eevil", "Ann\x7f"])
def test_a_name_with_control_or_direction_characters_is_a_field_error(app, people, name) -> None:  # noqa: F811
    """A person's name appears in email subjects ("Ann invites you to co-create ...")."""
    with app.app_context():
        with pytest.raises(Invalid) as error:
            accounts.sign_up("new@example.com", name, "a long enough passphrase 42")
        assert "may not contain line breaks" in error.value.errors["name"][0]
        solver = user(people.solver)
        with pytest.raises(Invalid) as error:
            accounts.update_profile(solver, name=name, country="", timezone="UTC")
        assert list(error.value.errors) == ["name"]
        registered = select(func.count(User.id)).where(User.email == "new@example.com")
        assert db.session.scalar(registered) == 0

"""The security header set on each kind of response (public page, signed-in page, API with a
token or a session, 404 and 500 pages, static files), HSTS and Stripe's form targets by
setting, the templates' inline code (none without the nonce), brand colours, and the
violation report endpoint (bounded, rate-limited, no 500 on junk)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from marketplace import create_app
from marketplace.extensions import db, limiter
from marketplace.headers.policy import css_color
from tests.conftest import ROOT, test_config
from tests.crawl import missing_security_headers
from tests.factories import MembershipFactory, UserFactory, make_token

TEMPLATES = ROOT / "templates"


def policy_of(response) -> dict[str, str]:
    directives = (
        d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";")
    )
    return {name: value for name, value in directives}


def assert_header_set(response, *, signed_in: bool, path: str) -> None:
    assert missing_security_headers(response.headers, signed_in=signed_in, path=path) == []


@pytest.fixture
def member(app) -> str:
    with app.app_context():
        return MembershipFactory().user.email


def test_a_public_page_has_the_header_set_and_stays_cacheable(client) -> None:
    response = client.get("/challenges")
    assert response.status_code == 200
    assert_header_set(response, signed_in=False, path="/challenges")
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert "Strict-Transport-Security" not in response.headers  # not on HTTPS
    policy = policy_of(response)
    assert policy["default-src"] == "'self'" and policy["img-src"] == "'self'"
    assert policy["form-action"] == "'self'"  # the sandbox: every form posts here
    assert policy["report-to"] == "csp"
    assert response.headers["Reporting-Endpoints"] == 'csp="/csp-reports"'


def test_a_signed_in_page_is_never_stored(client, auth, member) -> None:
    auth.login(member)
    for path in ("/", "/challenges", "/account", "/me/proposals", "/notifications"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_header_set(response, signed_in=True, path=path)
        assert response.headers["Cache-Control"] == "no-store"


def test_static_files_keep_their_caching_but_get_the_headers(client, auth, member) -> None:
    auth.login(member)
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert_header_set(response, signed_in=False, path="/static/app.css")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers.get("Cache-Control") != "no-store"


def test_api_answers_with_a_token_or_a_session_are_never_stored(app, client, auth, member) -> None:
    with app.app_context():
        secret = make_token(UserFactory(), "headers")[1]
    anonymous = client.get("/api/v1/challenges")
    assert anonymous.status_code == 200
    assert_header_set(anonymous, signed_in=False, path="/api/v1/challenges")
    assert anonymous.headers.get("Cache-Control") != "no-store"

    with_token = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert with_token.status_code == 200
    assert_header_set(with_token, signed_in=True, path="/api/v1/me")
    bad_token = client.get("/api/v1/challenges", headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401 and bad_token.headers["Cache-Control"] == "no-store"

    auth.login(member)
    with_session = client.get("/api/v1/me")
    assert with_session.status_code == 200
    assert_header_set(with_session, signed_in=True, path="/api/v1/me")


def test_finance_pages_are_never_stored_even_when_refused(client) -> None:
    response = client.get("/finance/")
    assert response.status_code in (302, 401, 403, 404)
    assert response.headers["Cache-Control"] == "no-store"


def test_error_pages_have_the_header_set(client, auth, member) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert_header_set(missing, signed_in=False, path="/no/such/page")
    api_missing = client.get("/api/v1/nothing-here")
    assert api_missing.status_code == 404
    assert_header_set(api_missing, signed_in=False, path="/api/v1/nothing-here")
    auth.login(member)
    signed_in = client.get("/no/such/page")
    assert_header_set(signed_in, signed_in=True, path="/no/such/page")


@pytest.fixture
def fresh_app(database, base_app: Flask) -> Iterator[Callable[..., Flask]]:
    """Apps of their own, for settings and routes a test adds before the first request.
    Flask-Limiter keeps its storage on the one global Limiter: it is given back to the
    suite's app afterwards."""

    def make(**settings: object) -> Flask:
        made = create_app(test_config(database.url, **settings))
        made_apps.append(made)
        return made

    made_apps: list[Flask] = []
    yield make
    for made in made_apps:
        with made.app_context():
            db.engine.dispose()
    limiter.init_app(base_app)


def test_a_server_error_page_has_the_header_set(fresh_app) -> None:
    app = fresh_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert_header_set(response, signed_in=False, path="/boom")


def test_hsts_only_when_the_session_cookie_is_secure(fresh_app) -> None:
    secure = fresh_app(SESSION_COOKIE_SECURE=True).test_client().get("/challenges")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = fresh_app(SESSION_COOKIE_SECURE=False).test_client().get("/challenges")
    assert "Strict-Transport-Security" not in plain.headers


def test_with_stripe_forms_may_redirect_to_its_checkout_and_onboarding(fresh_app) -> None:
    response = fresh_app(STRIPE_SECRET_KEY="sk_test_x").test_client().get("/challenges")
    assert policy_of(response)["form-action"] == (
        "'self' https://checkout.stripe.com https://connect.stripe.com"
    )


def test_each_response_has_a_new_nonce_and_inline_code_carries_it(client, auth, app) -> None:
    first, second = client.get("/"), client.get("/")
    nonce = re.search(r"'nonce-([^']+)'", first.headers["Content-Security-Policy"]).group(1)
    assert nonce not in second.headers["Content-Security-Policy"]
    assert len(nonce) >= 22  # 128 bits or more


def template_files() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_inline_code_the_policy_refuses(path: Path) -> None:
    """No style attribute, no inline event handler, no javascript: URL, and every <script> and
    <style> element carries the nonce."""
    text = re.sub(r"{#.*?#}", "", path.read_text(), flags=re.S)  # not comments
    assert not re.search(r"\sstyle\s*=", text), "a style attribute"
    assert not re.search(r"\son[a-z]+\s*=", text), "an inline event handler"
    assert "javascript:" not in text.lower()
    for element in re.findall(r"<(?:script|style)\b[^>]*>", text):
        assert 'nonce="{{ csp_nonce() }}"' in element, element


def test_brand_colours_go_in_a_style_element_with_the_nonce(app, client) -> None:
    with app.app_context():
        organization = MembershipFactory().organization
        organization.primary_color = "#aa0000"
        db.session.commit()
        slug = organization.slug
    response = client.get(f"/o/{slug}")
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    style = re.search(r'<style nonce="([^"]+)">([^<]*)</style>', response.text)
    assert style and style.group(1) == nonce
    assert "--brand: #aa0000" in style.group(2)


def test_only_a_colour_goes_into_a_style_element() -> None:
    assert css_color("#A0b1C2", "#000000") == "#A0b1C2"
    for junk in ("#123456\n", "red; } body { display: none", "#12345", "", None, "</style>"):
        assert css_color(junk, "#2456d6") == "#2456d6"


REPORT_URI_BODY = {
    "csp-report": {
        "document-uri": "http://127.0.0.1/proposals/10",
        "violated-directive": "img-src",
        "effective-directive": "img-src",
        "blocked-uri": "https://tracker.example/pixel.gif",
    }
}
REPORTING_API_BODY = [
    {
        "type": "csp-violation",
        "url": "http://127.0.0.1/",
        "body": {
            "documentURL": "http://127.0.0.1/\r\nforged log line",
            "effectiveDirective": "script-src-elem",
            "blockedURL": "inline",
            "sample": "alert(1)",
        },
    },
    {"type": "deprecation", "body": {"id": "x"}},
]


def test_violation_reports_are_logged_in_either_format(client, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="marketplace.headers.views")
    answer = client.post(
        "/csp-reports", json=REPORT_URI_BODY, headers={"Content-Type": "application/csp-report"}
    )
    assert answer.status_code == 204
    answer = client.post(
        "/csp-reports",
        data=json.dumps(REPORTING_API_BODY),
        headers={"Content-Type": "application/reports+json"},
    )
    assert answer.status_code == 204
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2
    assert (
        "directive=img-src" in logged[0]
        and "blocked=https://tracker.example/pixel.gif" in logged[0]
    )
    assert "directive=script-src-elem" in logged[1] and "sample=alert(1)" in logged[1]
    assert "\n" not in logged[1] and "\r" not in logged[1]  # no forged log lines


@pytest.mark.parametrize(
    "body",
    [b"", b"junk", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b"{}", b"[1, 2]", b'"text"',
     b'{"csp-report": "no"}', b'[{"type": "csp-violation", "body": 3}]'],
    ids=["empty", "junk", "not-utf8", "deep", "empty-object", "list", "string", "bad-report",
         "bad-body"],
)  # fmt: skip
def test_junk_is_a_400_never_a_500(client, body: bytes) -> None:
    response = client.post("/csp-reports", data=body, content_type="application/csp-report")
    assert response.status_code == 400


def test_a_large_report_is_refused_unread(client, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="marketplace.headers.views")
    huge = b'{"csp-report": {"blocked-uri": "' + b"x" * 40_000 + b'"}}'
    response = client.post("/csp-reports", data=huge, content_type="application/csp-report")
    assert response.status_code == 413 and caplog.records == []


def test_reports_are_rate_limited_per_address(fresh_app) -> None:
    app = fresh_app(CSP_REPORT_RATE_LIMIT="3 per minute")
    client = app.test_client()
    address = {"REMOTE_ADDR": "203.0.113.77"}
    statuses = [
        client.post("/csp-reports", json=REPORT_URI_BODY, environ_base=address).status_code
        for _ in range(5)
    ]
    assert statuses == [204, 204, 204, 429, 429]
    other = client.post(
        "/csp-reports", json=REPORT_URI_BODY, environ_base={"REMOTE_ADDR": "203.0.113.78"}
    )
    assert other.status_code == 204


def test_reports_need_no_csrf_token(fresh_app) -> None:
    app = fresh_app(WTF_CSRF_ENABLED=True)
    response = app.test_client().post("/csp-reports", json=REPORT_URI_BODY)
    assert response.status_code == 204

"""Every page of the demo, as each demo person and anonymously, reached by following links from
the front page: none is a server error, and every response carries the security header set
(Content-Security-Policy, frame and sniffing protection, Referrer-Policy, and no-store for a
signed-in person). The Chromium crawl (tests/browser/test_demo_crawl.py) checks that no page
breaks the policy."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.crawl import DEMO_VISITORS, PASSWORD, crawl, demo_code, missing_security_headers


def crawl_as(client: FlaskClient, email: str | None) -> dict[str, int]:
    if email is not None:
        signed_in = client.post("/login", data={"email": email, "password": PASSWORD})
        if signed_in.location.endswith("/login/second-factor"):
            signed_in = client.post("/login/second-factor", data={"code": demo_code()})
        assert signed_in.status_code == 302, f"{email} could not sign in"
    lacking: dict[str, list[str]] = {}

    def fetch(path: str) -> tuple[int, str, str]:
        response = client.get(path)
        missing = missing_security_headers(response.headers, signed_in=email is not None, path=path)
        if missing:
            lacking[path] = missing
        body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        return response.status_code, response.content_type or "", body

    statuses = dict(crawl(fetch))
    assert lacking == {}, f"as {email}: responses without the header set"
    return statuses


def test_every_demo_page_as_every_demo_person_has_the_header_set(app, runner) -> None:
    loaded = runner.invoke(args=["demo"])
    assert loaded.exit_code == 0, loaded.output
    pages = 0
    for email in DEMO_VISITORS:
        statuses = crawl_as(app.test_client(), email)
        errors = {path: status for path, status in statuses.items() if status >= 500}
        assert errors == {}, f"as {email}"
        pages += len(statuses)
        assert len(statuses) > (5 if email is None else 10), f"as {email}: {sorted(statuses)}"
    assert pages > 300

"""Every page of the demo in Chromium, as each demo person and anonymously: no page breaks the
Content-Security-Policy (0 ``securitypolicyviolation`` events), and each carries the header
set. The pages are found by following links from the front page, as in the test-client crawl
(tests/test_demo_crawl.py); a link to a download (a CSV) is fetched, not opened."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page, expect
from werkzeug.datastructures import Headers

from tests.browser.conftest import (
    TIMEOUT_MS,
    LiveServer,
    document_violations,
    watch_csp,
)
from tests.crawl import (
    DEMO_VISITORS,
    PASSWORD,
    crawl,
    demo_code,
    missing_security_headers,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser: Browser, demo_server: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=demo_server.url, accept_downloads=False)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Sign in").click()
    if page.url.endswith("/login/second-factor"):
        page.get_by_label("Code").fill(demo_code())
        page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page.locator("[data-test=signed-in-as]")).to_have_text(email)


def crawl_in_chromium(page: Page, email: str | None) -> tuple[dict, dict, int]:
    """Every page as ``email``: the violations and the missing headers per path, and the
    number of pages opened."""
    violations: dict[str, list[dict]] = {}
    lacking: dict[str, list[str]] = {}
    opened = 0

    def fetch(path: str) -> tuple[int, str, str]:
        nonlocal opened
        try:
            response = page.goto(path)
        except Error as error:  # a download: Chromium does not open it
            if "Download is starting" not in error.message:
                raise
            response = page.request.get(path)
            return response.status, response.headers.get("content-type", ""), ""
        assert response is not None
        opened += 1
        headers = Headers(response.all_headers())
        missing = missing_security_headers(headers, signed_in=email is not None, path=path)
        if missing:
            lacking[path] = missing
        content_type = headers.get("Content-Type", "")
        if not content_type.startswith("text/html"):
            return response.status, content_type, ""
        found = document_violations(page)
        if found:
            violations[path] = found
        return response.status, content_type, page.content()

    if email is not None:
        sign_in(page, email)
    statuses = dict(crawl(fetch))
    assert not [p for p, status in statuses.items() if status >= 500], f"as {email}"
    return violations, lacking, opened


@pytest.mark.parametrize("email", DEMO_VISITORS, ids=lambda e: e or "anonymous")
def test_no_demo_page_breaks_the_content_security_policy(
    context: BrowserContext, email: str | None
) -> None:
    everywhere = watch_csp(context)
    page = context.new_page()
    violations, lacking, opened = crawl_in_chromium(page, email)
    assert violations == {}, f"as {email}"
    assert everywhere == [], f"as {email}"
    assert lacking == {}, f"as {email}"
    assert opened > (5 if email is None else 10)


def test_the_watch_sees_a_violation(context: BrowserContext) -> None:
    """The crawl's zero means something: an inline script and a style attribute put into a
    page (as an injection would) are refused and counted."""
    everywhere = watch_csp(context)
    page = context.new_page()
    page.goto("/")
    page.evaluate(
        """() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.appendChild(script);
        document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>');
    }"""
    )
    found = document_violations(page)
    assert {v["directive"] for v in found} == {"script-src-elem", "style-src-attr"}
    assert page.evaluate("() => window.injected") is None  # the script did not run
    page.wait_for_timeout(200)
    assert len(everywhere) == 2 and re.match(r"http://127\.0\.0\.1:\d+/", everywhere[0]["document"])

"""A real browser against a real server: Debian's Chromium driven by Playwright (sync API).

The app runs in werkzeug's threaded HTTP server on 127.0.0.1 (a free port), in a background
thread, on a SQLite file database of its own, migrated to head. The server commits, so these
tests cannot use the per-test rollback fixtures; CSRF protection is on, as in production.

Every page a test opens is watched for Content-Security-Policy violations (an init script
listens for ``securitypolicyviolation`` events): a test that caused one fails at teardown.

Without Chromium (``/usr/bin/chromium``, or the path or name in ``CHROMIUM_PATH``) the tests
are skipped with the reason shown, or fail when REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from marketplace import create_app
from marketplace.demo import load_demo
from marketplace.extensions import db
from tests.conftest import ROOT, migrate_to_head, services_required, test_config

ARTIFACTS = ROOT / "test-artifacts"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
]
TIMEOUT_MS = 15_000
#: Runs in every document before its own scripts: keeps the document's policy violations in
#: ``window.__cspViolations`` and hands each to the test (``cspViolation`` binding).
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  var seen = {directive: event.effectiveDirective, blocked: event.blockedURI,
              document: event.documentURI, source: event.sourceFile + ":" + event.lineNumber,
              sample: event.sample};
  window.__cspViolations.push(seen);
  if (window.cspViolation) { window.cspViolation(seen); }
});
"""


def chromium_executable() -> str:
    """Chromium's path; skip (or fail under REQUIRE_SERVICES=1) when there is none."""
    wanted = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
    found = shutil.which(wanted)
    if found is None:
        message = f"no Chromium at {wanted!r} (set CHROMIUM_PATH): the browser tests not run"
        if services_required():
            pytest.fail(message + " (REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return found


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def browser_app(url: str) -> Flask:
    """The app on a migrated database, as in production: CSRF on, no rate limits."""
    return create_app(
        test_config(
            url, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False, SESSION_COOKIE_SECURE=False
        )
    )


@contextlib.contextmanager
def serving(app: Flask) -> Iterator[LiveServer]:
    """``app`` behind a real HTTP server in a background thread; stopped at the end."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()  # returns once serve_forever has left its loop
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()
        assert not thread.is_alive(), "the live server thread did not stop"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app behind a real HTTP server, on a fresh database; stopped at the end."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'browser.db'}"
    migrate_to_head(url)
    with serving(browser_app(url)) as server:
        yield server


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app with the demo loaded (``flask demo``), a fresh one for each test module."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    migrate_to_head(url)
    app = browser_app(url)
    with app.app_context():
        load_demo()
    with serving(app) as server:
        yield server


def watch_csp(context: BrowserContext) -> list[dict]:
    """Every Content-Security-Policy violation in the context's pages, as they happen."""
    violations: list[dict] = []
    context.expose_binding("cspViolation", lambda _source, seen: violations.append(seen))
    context.add_init_script(WATCH_CSP)
    return violations


def document_violations(page: Page) -> list[dict]:
    """The violations of the page's current document, once its queued events have run."""
    return page.evaluate(
        "() => new Promise(done => setTimeout(() => done(window.__cspViolations || []), 50))"
    )


@contextlib.contextmanager
def watched_context(browser: Browser, base_url: str) -> Iterator[BrowserContext]:
    """A fresh browser context (no cookies) whose pages must break no Content-Security-Policy
    rule: the violations are checked when the block ends without an error."""
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    violations = watch_csp(context)
    try:
        yield context
        for opened in context.pages:
            violations.extend(document_violations(opened))
        assert violations == [], f"Content-Security-Policy violations: {violations}"
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, with the server as its base URL."""
    with watched_context(browser, live_server.url) as context:
        yield context.new_page()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class Mailbox:
    """The emails the live server sent (logged by ``marketplace.mail``: no MAIL_SERVER), read
    from the log records of every thread; the inline jobs run in the server's thread."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def link(self, to: str, path: str, wait_s: float = 10.0) -> str:
        """The path of the link to ``path`` in the latest email to ``to``."""
        deadline = time.monotonic() + wait_s
        while True:
            emails = [
                record.getMessage()
                for record in self._caplog.records
                if record.name == "marketplace.mail" and f"to={to} " in record.getMessage()
            ]
            links = re.findall(rf"https?://[^/\s]+({re.escape(path)}\S+)", "\n".join(emails))
            if links:
                return links[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no email to {to} with a {path} link")
            time.sleep(0.1)


@pytest.fixture
def mailbox(caplog: pytest.LogCaptureFixture) -> Mailbox:
    caplog.set_level(logging.INFO, logger="marketplace.mail")
    return Mailbox(caplog)

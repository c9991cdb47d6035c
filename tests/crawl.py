"""Crawling the demo: every page reachable by links from the front page, as each demo person
(and anonymously), and the security headers each response must carry.

Used by the test-client crawl (``tests/test_demo_crawl.py``, both databases) and the Chromium
crawl (``tests/browser/test_demo_crawl.py``, CSP violations).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import pyotp

from marketplace.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, PEOPLE

#: Every demo person's email, and None for an anonymous visitor.
DEMO_VISITORS: list[str | None] = [None, *(email for email, *_ in PEOPLE)]
PASSWORD = DEMO_PASSWORD


def demo_code() -> str:
    """A code for the demo people's second factor: the next 30 s step's (accepted one step
    early), so it is later than the one the demo's own payout approval used."""
    totp = pyotp.TOTP(DEMO_TOTP_SECRET)
    return totp.at(time.time() + totp.interval)
#: A bound, far above what the demo has, so a link loop cannot make the crawl endless.
MAX_PAGES = 400


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.pages: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.pages.append(found["href"])  # type: ignore[arg-type]
        elif tag in ("img", "script") and found.get("src"):
            self.resources.append(found["src"])  # type: ignore[arg-type]
        elif tag == "link" and found.get("href"):
            self.resources.append(found["href"])  # type: ignore[arg-type]


def links(html: str, base: str) -> tuple[list[str], list[str]]:
    """The same-site pages linked from ``html`` and the resources it loads (absolute paths
    with their query, no fragment)."""
    parser = _Links()
    parser.feed(html)

    def local(hrefs: list[str]) -> list[str]:
        kept = []
        for href in hrefs:
            url = urldefrag(urljoin(base, href)).url
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc == urlsplit(base).netloc:
                kept.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        return kept

    return local(parser.pages), local(parser.resources)


def crawl(
    fetch: Callable[[str], tuple[int, str, str]], start: str = "/", limit: int = MAX_PAGES
) -> Iterator[tuple[str, int]]:
    """Breadth-first over same-site links: ``fetch(path)`` returns the status, the content
    type and the body text (HTML pages only are searched for links). Yields each path and its
    status, resources (stylesheet, scripts, images) too."""
    seen = {start}
    todo = deque([start])
    count = 0
    while todo and count < limit:
        path = todo.popleft()
        status, content_type, body = fetch(path)
        count += 1
        yield path, status
        if not content_type.startswith("text/html"):
            continue
        pages, resources = links(body, "http://localhost" + path)
        for found in resources + pages:
            if found not in seen:
                seen.add(found)
                todo.append(found)


def missing_security_headers(
    headers: Mapping[str, str], *, signed_in: bool, path: str
) -> list[str]:
    """What a response lacks of the header set (empty when it has all of it)."""
    lacking = []
    policy = headers.get("Content-Security-Policy", "")
    for directive in (
        "default-src 'self'", "object-src 'none'", "base-uri 'self'",
        "frame-ancestors 'none'", "script-src 'nonce-", "report-uri /csp-reports",
    ):  # fmt: skip
        if directive not in policy:
            lacking.append(f"CSP {directive}")
    if "unsafe-inline" in policy or "unsafe-eval" in policy:
        lacking.append("CSP without unsafe-inline / unsafe-eval")
    expected = {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    lacking += [f"{k}: {v}" for k, v in expected.items() if headers.get(k) != v]
    confidential = (signed_in or path.startswith("/finance")) and not path.startswith("/static/")
    if confidential and headers.get("Cache-Control") != "no-store":
        lacking.append("Cache-Control: no-store")
    return lacking

"""Markdown: images only from this site (a tracking pixel in a confidential text loads nothing),
and people's links marked as theirs (rel="nofollow ugc noopener"), on a need's page too."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from marketplace.markdown import render_markdown
from tests.challenges.conftest import create, people  # noqa: F401  (the fixture)


@pytest.fixture
def site(app: Flask, monkeypatch: pytest.MonkeyPatch):
    """A request on this site's own address (BASE_URL's host), as when a page renders."""
    monkeypatch.setitem(app.config, "BASE_URL", "https://cocreate.example.com")
    with app.test_request_context("/", base_url="https://cocreate.example.com"):
        yield


@pytest.mark.parametrize(
    "src",
    [
        "http://tracker.example/pixel.gif",
        "https://tracker.example/pixel.gif?who=reader",
        "//tracker.example/pixel.gif",
        "data:image/png;base64,iVBORw0KGgo=",
        "https://cocreate.example.com.tracker.example/pixel.gif",
        "http://cocreate.example.com/pixel.gif",  # another origin: http, not https
        "ftp://cocreate.example.com/pixel.gif",
    ],
)
def test_an_image_from_elsewhere_is_shown_as_its_alt_text(site, src: str) -> None:
    html = render_markdown(f"Look: ![the chart]({src}) and ![]({src})")
    assert "<img" not in html
    assert '<span class="external-image"' in html and "the chart</span>" in html
    assert "tracker" not in html and "data:" not in html


@pytest.mark.parametrize(
    "src",
    [
        "/proposals/10/attachments/3",
        "chart.png",
        "../static/app.css",
        "https://cocreate.example.com/proposals/10/attachments/3",
    ],
)
def test_an_image_from_this_site_is_kept(site, src: str) -> None:
    html = render_markdown(f"![the chart]({src})")
    assert re.search(r'<img src="[^"]+" alt="the chart" />', html)
    assert "external-image" not in html


def test_a_backslash_cannot_make_a_path_another_host(site) -> None:
    html = render_markdown(r"![x](/\tracker.example/pixel.gif)")
    assert "//" not in html and "/\\" not in html


def test_links_are_marked_as_the_writers_and_open_here(site) -> None:
    html = render_markdown(
        "[a site](https://example.org/page) <https://example.net> [ours](/challenges)"
    )
    links = re.findall(r"<a [^>]*>", html)
    assert len(links) == 3
    for link in links:
        assert 'rel="nofollow ugc noopener"' in link
        assert "target=" not in link


def test_a_needs_page_drops_a_tracking_pixel_and_marks_links(app, client, auth, people):  # noqa: F811 -> None:
    challenge_id = create(
        app,
        people,
        background="![](https://tracker.example/p.gif) ![plan](/static/app.css) "
        "[spec](https://example.org/spec)",
    )
    auth.login(people.manager)
    page = client.get(f"/challenges/{challenge_id}").get_data(as_text=True)
    assert "tracker.example" not in page
    assert '<img src="/static/app.css" alt="plan" />' in page
    assert '<a href="https://example.org/spec" rel="nofollow ugc noopener">spec</a>' in page

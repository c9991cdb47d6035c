"""Markdown for long fields, rendered safely: raw HTML is escaped, never passed through, and
markdown-it's link validation drops javascript:, vbscript: and data: links.

Images come only from this site (a relative path, or an absolute URL on this site's origin):
an image from anywhere else would tell that host who reads a confidential proposal and when
(a tracking pixel), so it is shown as its alt text instead. Links people write carry
``rel="nofollow ugc noopener"`` and open in the same tab.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_app_context, has_request_context, request
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markupsafe import Markup

USER_LINK_REL = "nofollow ugc noopener"

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_renderer.enable("table").enable("strikethrough")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _own_origins() -> set[str]:
    origins = set()
    if has_app_context() and current_app.config.get("BASE_URL"):
        origins.add(_origin(current_app.config["BASE_URL"]))
    if has_request_context():
        origins.add(_origin(request.host_url))
    return origins


def is_own_url(url: str | None) -> bool:
    """Whether ``url`` points at this site: a path with neither scheme nor host, or an
    http(s) URL on this site's origin (BASE_URL's, or the request's)."""
    if not url or url.startswith(("//", "\\", "/\\")):  # //host and /\host are other hosts
        return False
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return True
    return parts.scheme.lower() in ("http", "https") and _origin(url) in _own_origins()


def _image(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    token = tokens[idx]
    if is_own_url(token.attrGet("src")):  # type: ignore[arg-type]
        return renderer.image(tokens, idx, options, env)
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    if not alt:
        return ""  # a pixel: nothing to show
    return (
        '<span class="external-image" title="An image from another site, not shown">'
        f"{escapeHtml(alt)}</span>"
    )


def _link_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    tokens[idx].attrSet("rel", USER_LINK_REL)
    return renderer.renderToken(tokens, idx, options, env)


_renderer.add_render_rule("image", _image)
_renderer.add_render_rule("link_open", _link_open)


def render_markdown(text: str | None) -> Markup:
    return Markup(_renderer.render(text or ""))  # noqa: S704 - html is off: output is escaped

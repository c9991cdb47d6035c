"""Markdown for long fields, rendered safely: raw HTML is escaped, never passed through, and
markdown-it's link validation drops javascript:, vbscript: and data: links."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_renderer.enable("table").enable("strikethrough")


def render_markdown(text: str | None) -> Markup:
    return Markup(_renderer.render(text or ""))  # noqa: S704 - html is off: output is escaped

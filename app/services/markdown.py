"""Markdown to safe HTML: CommonMark parsing, then an allowlist sanitizer."""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML in Markdown is not rendered at all; the sanitizer is the second line of defence.
_parser = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable(
    "strikethrough"
)

_ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
_URL_SCHEMES = {"http", "https", "mailto"}
_TAGS = re.compile(r"<[^>]+>")


def render_markdown(text: str | None) -> Markup:
    if not text:
        return Markup("")
    html = _parser.render(text)
    cleaned = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener nofollow",
    )
    return Markup(cleaned)  # noqa: S704 - sanitized by nh3 just above


def plain_excerpt(text: str | None, length: int = 180) -> str:
    """A one-line plain-text preview of Markdown (escaped later by the template)."""
    if not text:
        return ""
    plain = _TAGS.sub(" ", _parser.render(text))
    plain = " ".join(html.unescape(plain).split())
    return plain if len(plain) <= length else plain[: length - 1].rstrip() + "…"

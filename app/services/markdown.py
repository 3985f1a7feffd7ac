"""Markdown to safe HTML: CommonMark parsing, then an allowlist sanitizer."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

# Raw HTML in Markdown is not rendered at all; the sanitizer is the second line of defence.
_parser = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable(
    "strikethrough"
)

_ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
# Citation markup is made here, never from the author's text (raw HTML is off), so it may carry
# a class; the sanitizer still sees it.
_CITATION_TAGS = _ALLOWED_TAGS | {"span"}
_CITATION_ATTRIBUTES = {**_ALLOWED_ATTRIBUTES, "a": {"href", "title", "class"}, "span": {"class", "title"}}
CITATION = re.compile(r"\[#(\d{1,10})\]")
_URL_SCHEMES = {"http", "https", "mailto"}
_TAGS = re.compile(r"<[^>]+>")


def render_markdown(text: str | None) -> Markup:
    if not text:
        return Markup("")
    return _clean(_parser.render(text), _ALLOWED_TAGS, _ALLOWED_ATTRIBUTES)


def render_with_citations(text: str | None, link_for: Callable[[int], str | None],
                          unverified_title: str) -> Markup:
    """Markdown where each `[#123]` in running text becomes a link when `link_for(123)` gives
    one, and a marked, unlinked "#123?" otherwise (an id the model invented, or one the reader
    may not see). Citations inside code and inside links stay as written."""
    if not text:
        return Markup("")
    tokens = _parser.parse(text)
    for block in tokens:
        if block.type == "inline" and block.children:
            block.children = _cite_children(block.children, link_for, unverified_title)
    rendered = _parser.renderer.render(tokens, _parser.options, {})
    return _clean(rendered, _CITATION_TAGS, _CITATION_ATTRIBUTES)


def cited_ids(text: str | None) -> list[int]:
    """The entry ids cited in `text`, in order of first appearance."""
    seen: dict[int, None] = {}
    for match in CITATION.finditer(text or ""):
        seen.setdefault(int(match.group(1)), None)
    return list(seen)


def _cite_children(children: list[Token], link_for: Callable[[int], str | None],
                   unverified_title: str) -> list[Token]:
    out: list[Token] = []
    in_link = 0
    for token in children:
        if token.type == "link_open":
            in_link += 1
        elif token.type == "link_close":
            in_link -= 1
        if token.type != "text" or in_link or not CITATION.search(token.content):
            out.append(token)
            continue
        position = 0
        for match in CITATION.finditer(token.content):
            if match.start() > position:
                out.append(_text(token.content[position:match.start()]))
            entry_id = int(match.group(1))
            href = link_for(entry_id)
            if href:
                markup = f'<a class="citation" href="{escape(href)}">#{entry_id}</a>'
            else:
                markup = (f'<span class="citation-unverified" title="{escape(unverified_title)}">'
                          f"#{entry_id}?</span>")
            html_token = Token("html_inline", "", 0)
            html_token.content = markup
            out.append(html_token)
            position = match.end()
        if position < len(token.content):
            out.append(_text(token.content[position:]))
    return out


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _clean(rendered: str, tags: set[str], attributes: dict[str, set[str]]) -> Markup:
    cleaned = nh3.clean(
        rendered,
        tags=tags,
        attributes=attributes,
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

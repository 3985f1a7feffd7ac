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
# A link to an entry, relative or absolute on any host (the app's own host is not known here).
_ENTRY_PATH = re.compile(r"(?:^|/)log/entries/(\d{1,10})(?:[/?#]|$)", re.IGNORECASE)
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*:")


def render_markdown(text: str | None) -> Markup:
    if not text:
        return Markup("")
    return _clean(_parser.render(text), _ALLOWED_TAGS, _ALLOWED_ATTRIBUTES)


def render_with_citations(text: str | None, link_for: Callable[[int], str | None],
                          unverified_title: str) -> Markup:
    """Model output (or text that may hold it) as Markdown, where the only live links are
    verified citations.

    Each `[#123]` in running text becomes a link when `link_for(123)` gives one, and a marked,
    unlinked "#123?" otherwise (an id the model invented, or one the reader may not see).
    Citations inside code stay as written. No other link stays live: a link to an entry
    (`[see](/log/entries/139)`) keeps its text and is marked like an unverified citation
    ("#139?"), a link to any other page of Worklog keeps its text, and an external link keeps its
    text followed by its address as plain text, so nothing in the output can lead a reader
    where the model chose."""
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


def output_checks(text: str | None, given_ids: set[int] | frozenset[int]) -> tuple[int, int]:
    """(unverified citations, links) in model output: how many distinct ids it cites, as
    `[#id]` in running text, that are not among `given_ids`, and how many Markdown links it
    wrote (none of which is rendered live). For the LLM ledger."""
    unverified: set[int] = set()
    links = 0
    for block in _parser.parse(text or ""):
        for token in block.children or []:
            if token.type == "link_open":
                links += 1
            elif token.type == "text":
                unverified.update(int(m.group(1)) for m in CITATION.finditer(token.content)
                                  if int(m.group(1)) not in given_ids)
    return len(unverified), links


def link_target(href: str) -> tuple[str, int | None]:
    """What a link in model output points at: ("entry", id), ("internal", None) for any other
    address without a scheme or host (a page of Worklog), or ("external", None)."""
    href = (href or "").strip()
    entry = _ENTRY_PATH.search(href)
    if entry:
        return "entry", int(entry.group(1))
    lowered = href.lower()
    if _SCHEME.match(lowered) or lowered.startswith("//") or lowered.startswith("\\\\"):
        return "external", None
    return "internal", None


def _cite_children(children: list[Token], link_for: Callable[[int], str | None],
                   unverified_title: str) -> list[Token]:
    out: list[Token] = []
    closing: list[Token | None] = []  # what replaces each open link's link_close
    for token in children:
        if token.type == "link_open":
            closing.append(_neutral_link_end(token, unverified_title))
            continue
        if token.type == "link_close":
            end = closing.pop() if closing else None
            if end is not None:
                out.append(end)
            continue
        if token.type != "text" or not CITATION.search(token.content):
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
                markup = _unverified(entry_id, unverified_title)
            out.append(_html(markup))
            position = match.end()
        if position < len(token.content):
            out.append(_text(token.content[position:]))
    return out


def _neutral_link_end(link_open: Token, unverified_title: str) -> Token | None:
    """What follows a link's text once the link itself is dropped: the unverified mark of the
    entry it pointed at, the external address as plain text, or nothing (another Worklog page,
    or an autolink, whose text is its address already)."""
    href = str(link_open.attrs.get("href") or "")
    kind, entry_id = link_target(href)
    if kind == "entry" and entry_id is not None:
        return _html(" " + _unverified(entry_id, unverified_title))
    if kind == "external" and link_open.markup != "autolink":
        return _html(f' <span class="link-stripped">({escape(href)})</span>')
    return None


def _unverified(entry_id: int, title: str) -> str:
    return f'<span class="citation-unverified" title="{escape(title)}">#{entry_id}?</span>'


def _html(markup: str) -> Token:
    token = Token("html_inline", "", 0)
    token.content = markup
    return token


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

"""Text from outside, made safe to store and to search with."""

from __future__ import annotations

import re

from markupsafe import Markup

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str | None) -> str:
    """Drop NUL and other control characters (PostgreSQL refuses NUL) and lone surrogates;
    keep newlines and tabs."""
    if not value:
        return ""
    value = value.encode("utf-8", "ignore").decode("utf-8")
    return _CONTROL.sub("", value).replace("\r\n", "\n")


def one_line(value: str | None) -> str:
    """A single-line value (title, category, tag, filter): any run of whitespace is one space."""
    return " ".join(clean_text(value).split())


def filter_text(value: str | None, limit: int) -> str:
    """A search or filter value as typed, on one line, at most `limit` characters."""
    return one_line(value)[:limit].strip()


def like_pattern(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its wildcards escaped (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def highlight(text: str | None, terms: list[str] | None) -> Markup:
    """`text` escaped, with each case-insensitive occurrence of `terms` in <mark>.

    The text is split on the raw terms first and every piece is escaped on its own, so
    neither the text nor a term can inject markup (a term like "<b" marks "&lt;b")."""
    text = text or ""
    wanted = sorted({t for t in (terms or []) if t}, key=len, reverse=True)
    if not wanted:
        return Markup.escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)
    out: list[Markup] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(Markup.escape(text[last:match.start()]))
        out.append(Markup("<mark>{}</mark>").format(match.group(0)))  # format() escapes
        last = match.end()
    out.append(Markup.escape(text[last:]))
    return Markup("").join(out)

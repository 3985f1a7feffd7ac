"""Text from outside, made safe to store and to search with."""

from __future__ import annotations

import re

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

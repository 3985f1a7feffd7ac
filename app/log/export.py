"""Streaming exports: rows are written as they are read, so a large log never sits in memory."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Response, stream_with_context
from flask_babel import gettext as _
from markdown_it import MarkdownIt

from app.extensions import db
from app.i18n import field_label, impact_label
from app.models.log import STAR_PARTS, LogEntry

BATCH = 500
CSV_COLUMNS = ("id", "work_date", "title", *STAR_PARTS, "category", "impact", "tags",
               "created_at", "updated_at")
MIME = {"md": "text/markdown", "csv": "text/csv", "json": "application/json"}
# Excel reads a CSV file as the system's legacy code page (Korean turns to mojibake) unless it
# starts with a UTF-8 byte order mark; other tools skip it.
BOM = "\ufeff"
# A spreadsheet would run a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Markdown exports must show raw HTML as text, as the app does, in any viewer.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&~|!#])")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_md_as_shown = MarkdownIt("commonmark", {"html": False})
_md_with_html = MarkdownIt("commonmark", {"html": True})


def _entries(stmt: sa.Select[Any]) -> Iterator[LogEntry]:
    stmt = stmt.options(so.selectinload(LogEntry.tag_rows)).execution_options(
        yield_per=BATCH, stream_results=True
    )
    yield from db.session.scalars(stmt)


def _as_dict(entry: LogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "work_date": entry.work_date.isoformat(),
        "title": entry.title,
        **{part: getattr(entry, part) for part in STAR_PARTS},
        "category": entry.category,
        "impact": entry.impact,
        "tags": entry.tags,
        "created_at": entry.created_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
    }


def _safe_cell(value: Any) -> str:
    text = ", ".join(value) if isinstance(value, list) else ("" if value is None else str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(stmt: sa.Select[Any]) -> Iterator[str]:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in _entries(stmt):
        data = _as_dict(entry)
        writer.writerow([_safe_cell(data[c]) for c in CSV_COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json(stmt: sa.Select[Any]) -> Iterator[str]:
    yield "["
    first = True
    for entry in _entries(stmt):
        yield ("\n" if first else ",\n") + json.dumps(_as_dict(entry), ensure_ascii=False)
        first = False
    yield "\n]\n"


def _md_plain(text: str) -> str:
    """A plain-text field (title, category, tag) as Markdown that shows exactly that text."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _has_raw_html(markdown: str) -> bool:
    for token in _md_with_html.parse(markdown):
        if token.type == "html_block" or any(
                child.type == "html_inline" for child in token.children or ()):
            return True
    return False


def _md_inert(text: str) -> str:
    """A STAR part as the app shows it (raw HTML as text) in any CommonMark viewer.

    Tag starts outside code become `&lt;`; code keeps its `<`. A code fence left open is
    closed, so it cannot swallow the following sections and change how they parse.
    """
    lines = text.split("\n")
    code: set[int] = set()
    closer = ""
    for token in _md_as_shown.parse(text):
        if token.type in ("fence", "code_block") and token.map:
            start, end = token.map
            code.update(range(start + 1 if token.type == "fence" else start, end))
            last = lines[end - 1].strip()
            if (token.type == "fence" and token.level == 0
                    and (end - 1 == start or last.strip(token.markup[0]) or len(last) < len(token.markup))):
                closer = "\n" + token.markup
    escaped = "\n".join(line if i in code else _TAG_START.sub("&lt;", line)
                        for i, line in enumerate(lines)) + closer
    if _has_raw_html(escaped):  # a construct the line-wise pass got wrong: no tags at all
        escaped = text.replace("<", "&lt;") + closer
    return escaped


def _markdown(stmt: sa.Select[Any]) -> Iterator[str]:
    # Headings in the reader's language; the STAR section names are the ones the API parses.
    yield f"# {_('Work log')}\n"
    for entry in _entries(stmt):
        meta = [f"{field_label('impact')}: {impact_label(entry.impact)}"]
        if entry.category:
            meta.append(f"{field_label('category')}: {_md_plain(entry.category)}")
        if entry.tags:
            meta.append(f"{field_label('tags')}: " + ", ".join(_md_plain(t) for t in entry.tags))
        parts = [f"\n## {entry.work_date.isoformat()} — {_md_plain(entry.title)}\n",
                 " · ".join(meta) + "\n"]
        for part in STAR_PARTS:
            text = getattr(entry, part)
            if text:
                parts.append(f"\n### {field_label(part)}\n\n{_md_inert(text)}\n")
        yield "".join(parts)


def export_response(stmt: sa.Select[Any], fmt: str, today: date) -> Response:
    body = {"md": _markdown, "csv": _csv, "json": _json}[fmt](stmt)
    response = Response(stream_with_context(body), mimetype=MIME[fmt])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="worklog-{today.isoformat()}.{fmt}"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response

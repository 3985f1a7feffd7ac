"""The seed's daily-log payload, turned into what the work-log service validates and saves.

`{"title", "context", "category", "impact_level", "tech_stack", "date"}` where `context` is
Markdown with `### Situation` / `### Task` / `### Action` / `### Result` sections (or the
Korean `### 상황` / `### 과제` / `### 행동` / `### 결과`). The rules for the values themselves
are the web form's (app/services/log/entries.py validate_entry); this module only maps field names,
checks JSON types and splits the context.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.models.log import STAR_PARTS, LogEntry
from app.services.validation import FieldError, FieldErrors, Problem

HEADINGS = {
    "situation": "situation", "상황": "situation",
    "task": "task", "과제": "task",
    "action": "action", "행동": "action",
    "result": "result", "결과": "result",
}
# A line that is only a heading naming a STAR part: "### Situation", "  ##  결과 :", "#### task".
_HEADING = re.compile(
    r"^[ \t]{0,3}#{1,6}[ \t]*(situation|task|action|result|상황|과제|행동|결과)[ \t]*:?[ \t]*#*[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# API field name for each name the web form's validation reports.
API_FIELD = {
    "title": "title", "category": "category", "impact": "impact_level", "tags": "tech_stack",
    "work_date": "date", **{part: "context" for part in STAR_PARTS},
}
TEXT_FIELDS = ("title", "context", "category", "impact_level", "date")


def split_context(context: str) -> dict[str, str]:
    """The four STAR parts of a Markdown `context`.

    Text before the first heading, or a context without headings, is the situation; a part
    named twice gets both texts, in order.
    """
    parts: dict[str, list[str]] = {part: [] for part in STAR_PARTS}
    text = context.replace("\r\n", "\n")
    matches = list(_HEADING.finditer(text))
    lead = text[: matches[0].start()] if matches else text
    if lead.strip():
        parts["situation"].append(lead.strip())
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[match.end():end].strip()
        if body:
            parts[HEADINGS[match.group(1).lower()]].append(body)
    return {part: "\n\n".join(chunks) for part, chunks in parts.items()}


def join_context(entry: LogEntry) -> str:
    """The entry's STAR parts as one Markdown context, the way the seed's clients write it."""
    sections = []
    for part in STAR_PARTS:
        text = getattr(entry, part) or ""
        if text:
            sections.append(f"### {part.capitalize()}\n{text}")
    return "\n\n".join(sections)


def form_values(payload: Mapping[str, Any]) -> tuple[dict[str, Any], FieldErrors]:
    """The payload as the web form's fields, or type errors (API field name → code)."""
    errors: FieldErrors = {}
    for name in TEXT_FIELDS:
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            errors[name] = FieldError(Problem.STRING)
    stack = payload.get("tech_stack")
    if stack is not None and (
        not isinstance(stack, list) or not all(isinstance(item, str) for item in stack)
    ):
        errors["tech_stack"] = FieldError(Problem.STRING_LIST)
    raw_date = payload.get("date")
    if isinstance(raw_date, str) and raw_date and not _DATE.match(raw_date):
        errors["date"] = FieldError(Problem.DATE)
    if errors:
        return {}, errors
    values: dict[str, Any] = {
        "title": payload.get("title") or "",
        "category": payload.get("category") or "",
        "tags": stack or [],
        "work_date": raw_date or "",
        **split_context(payload.get("context") or ""),
    }
    if payload.get("impact_level") is not None:
        values["impact"] = payload["impact_level"]
    return values, {}


def api_errors(form_errors: FieldErrors) -> dict[str, tuple[str, FieldError]]:
    """The web form's errors keyed by API field: {api_field: (form_field, code)}."""
    found: dict[str, tuple[str, FieldError]] = {}
    for name, code in form_errors.items():
        found.setdefault(API_FIELD.get(name, name), (name, code))
    return found

"""Readable differences between kept versions of an entry."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models.log import LogEntry, LogEntryVersion

FIELDS = ("work_date", "title", "situation", "task", "action", "result", "category", "impact", "tags")


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "remove" or "same"
    text: str


@dataclass(frozen=True)
class FieldChange:
    field: str
    lines: list[DiffLine]


def _as_lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [", ".join(str(v) for v in value)] if value else []
    return str(value).splitlines() or [""]


def diff_snapshots(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    changes = []
    for field in FIELDS:
        before, after = _as_lines(old.get(field)), _as_lines(new.get(field))
        if before == after:
            continue
        lines = []
        for line in difflib.ndiff(before, after):
            tag, text = line[:2], line[2:]
            if tag == "? ":
                continue
            lines.append(DiffLine({"+ ": "add", "- ": "remove"}.get(tag, "same"), text))
        changes.append(FieldChange(field, lines))
    return changes


def version_history(entry: LogEntry) -> list[dict[str, Any]]:
    """Every kept version of `entry`, newest first, each with what changed after it."""
    versions = db.session.scalars(
        sa.select(LogEntryVersion).where(LogEntryVersion.entry_id == entry.id)
        .order_by(LogEntryVersion.version.desc())
    ).all()
    later = entry.snapshot()
    rows = []
    for version in versions:  # each diff goes from this version to the next one
        rows.append({"version": version, "changes": diff_snapshots(version.data, later)})
        later = version.data
    return rows

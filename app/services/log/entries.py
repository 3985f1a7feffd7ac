"""Work-log use cases: validate, create, edit with versions, trash, restore, purge.

Plain values in, models out; the caller decides how to answer over HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from app.models.base import utcnow
from app.models.log import (
    CATEGORY_MAX,
    PART_MAX,
    STAR_PARTS,
    TAG_MAX,
    TAGS_MAX,
    TITLE_MAX,
    Impact,
    LogEntry,
    LogEntryVersion,
)
from app.services.audit import record_event
from app.services.context import NO_REQUEST, RequestContext
from app.services.text import clean_text, one_line
from app.services.validation import FieldError, FieldErrors, Problem


class StaleEntryError(Exception):
    """The entry changed since the editor loaded it."""

    def __init__(self, entry: LogEntry) -> None:
        super().__init__(f"entry {entry.id} is at version {entry.version}")
        self.entry = entry


@dataclass
class EntryData:
    work_date: date
    title: str
    situation: str = ""
    task: str = ""
    action: str = ""
    result: str = ""
    category: str | None = None
    impact: str = Impact.MEDIUM.value
    tags: list[str] = field(default_factory=list)


def parse_tags(raw: str | list[str] | None) -> list[str]:
    items = raw if isinstance(raw, list) else (raw or "").split(",")
    seen: set[str] = set()
    tags: list[str] = []
    for item in items:
        tag = one_line(str(item)).lstrip("#").strip()
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    return tags


def validate_entry(values: Mapping[str, object], today: date) -> tuple[EntryData | None, FieldErrors]:
    """Check submitted fields; returns the data, or an error per invalid field."""
    errors: FieldErrors = {}
    title = one_line(str(values.get("title") or ""))
    if not title:
        errors["title"] = FieldError(Problem.REQUIRED)
    elif len(title) > TITLE_MAX:
        errors["title"] = FieldError(Problem.MAX_LENGTH, TITLE_MAX)
    parts = {}
    for part in STAR_PARTS:
        text = clean_text(str(values.get(part) or "")).strip()
        if len(text) > PART_MAX:
            errors[part] = FieldError(Problem.MAX_LENGTH, PART_MAX)
        parts[part] = text
    category = one_line(str(values.get("category") or "")) or None
    if category and len(category) > CATEGORY_MAX:
        errors["category"] = FieldError(Problem.MAX_LENGTH, CATEGORY_MAX)
    impact = str(values.get("impact") or Impact.MEDIUM.value)
    impact = {i.value.lower(): i.value for i in Impact}.get(impact.strip().lower(), "")
    if not impact:
        errors["impact"] = FieldError(Problem.CHOICE)
    raw_tags = values.get("tags")
    tags = parse_tags(raw_tags if isinstance(raw_tags, list | str) else None)
    if len(tags) > TAGS_MAX:
        errors["tags"] = FieldError(Problem.MAX_ITEMS, TAGS_MAX)
    elif any(len(t) > TAG_MAX for t in tags):
        errors["tags"] = FieldError(Problem.ITEM_MAX_LENGTH, TAG_MAX)
    work_date = today
    raw_date = values.get("work_date")
    if raw_date:
        try:
            work_date = raw_date if isinstance(raw_date, date) else date.fromisoformat(str(raw_date))
        except ValueError:
            errors["work_date"] = FieldError(Problem.DATE)
    if errors:
        return None, errors
    return EntryData(work_date, title, category=category, impact=impact, tags=tags, **parts), {}


def _apply(entry: LogEntry, data: EntryData) -> None:
    entry.work_date = data.work_date
    entry.title = data.title
    for part in STAR_PARTS:
        setattr(entry, part, getattr(data, part))
    entry.category = data.category
    entry.impact = data.impact
    entry.tags = data.tags
    entry.refresh_search_text()


def create_entry(owner: User, data: EntryData, *, ctx: RequestContext = NO_REQUEST) -> LogEntry:
    entry = LogEntry(user_id=owner.id)
    _apply(entry, data)
    db.session.add(entry)
    db.session.flush()
    record_event("log.entry_created", ctx, actor=owner, target_type="log_entry", target_id=entry.id)
    _mirror(entry)
    return entry


def update_entry(editor: User, entry: LogEntry, data: EntryData, expected_version: int, *,
                 ctx: RequestContext = NO_REQUEST) -> LogEntry:
    """Save an edit made from `expected_version`; keeps the previous state as a version.

    The version check is also done in the UPDATE itself, so two concurrent saves from the
    same starting version cannot both win.
    """
    if entry.version != expected_version:
        raise StaleEntryError(entry)
    previous = entry.snapshot()
    if previous == _snapshot_of(entry, data):
        return entry  # nothing changed: no new version
    # Claim the version first: a save that lost the race must see 0 rows here (and answer
    # "stale"), not trip over the winner's kept version in the unique constraint.
    claimed = db.session.execute(
        sa.update(LogEntry)
        .where(LogEntry.id == entry.id, LogEntry.version == expected_version)
        .values(version=expected_version + 1, updated_at=utcnow()),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        fresh = db.session.get(LogEntry, entry.id)
        raise StaleEntryError(fresh or entry)
    db.session.add(LogEntryVersion(entry_id=entry.id, version=expected_version,
                                   data=previous, edited_by_id=editor.id))
    entry.version = expected_version + 1
    _apply(entry, data)
    record_event("log.entry_updated", ctx, actor=editor, target_type="log_entry", target_id=entry.id,
                 details={"version": entry.version})
    _mirror(entry)
    return entry


def _snapshot_of(entry: LogEntry, data: EntryData) -> dict[str, object]:
    return {
        "work_date": data.work_date.isoformat(), "title": data.title,
        **{part: getattr(data, part) for part in STAR_PARTS},
        "category": data.category, "impact": data.impact, "tags": data.tags,
    }


def trash_entry(actor: User, entry: LogEntry, *, ctx: RequestContext = NO_REQUEST) -> None:
    entry.deleted_at = utcnow()
    record_event("log.entry_deleted", ctx, actor=actor, target_type="log_entry", target_id=entry.id)
    _mirror(entry)


def restore_entry(actor: User, entry: LogEntry, *, ctx: RequestContext = NO_REQUEST) -> None:
    entry.deleted_at = None
    record_event("log.entry_restored", ctx, actor=actor, target_type="log_entry", target_id=entry.id)
    _mirror(entry)


def purge_entry(actor: User, entry: LogEntry, *, ctx: RequestContext = NO_REQUEST) -> None:
    record_event("log.entry_purged", ctx, actor=actor, target_type="log_entry", target_id=entry.id,
                 details={"title": entry.title})
    _mirror(entry)
    db.session.delete(entry)


def _mirror(entry: LogEntry) -> None:
    """Optional mirroring to Notion (app/services/publishing/entries.py): a job, if enabled."""
    from app.services.publishing.entries import queue_entry_mirror

    queue_entry_mirror(entry)

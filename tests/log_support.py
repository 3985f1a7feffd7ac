"""Helpers shared by the work-log tests: entries made through the real service, audit reads,
and a SQL statement counter."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import AuditEvent, User
from app.models.log import LogEntry, LogEntryVersion
from app.services.log.entries import create_entry, trash_entry, validate_entry

ROW_ID = re.compile(r'<article class="entry-row" id="entry-(\d+)"')
TRASHED_ID = re.compile(r'id="trashed-(\d+)"')


def make_entry(app: Flask, owner: User, title: str = "Refactored the payment module",
               *, trashed: bool = False, **fields: Any) -> int:
    """An entry as the service creates it (search text, tags, audit); returns its id."""
    fields.setdefault("work_date", date(2026, 11, 20))
    with app.app_context():
        data, errors = validate_entry({"title": title, **fields}, date(2026, 11, 23))
        assert data is not None, errors
        user = db.session.get(User, owner.id)
        entry = create_entry(user, data)
        if trashed:
            trash_entry(user, entry)
        db.session.commit()
        return entry.id


def make_entries(app: Flask, owner: User, count: int, *, start: date = date(2026, 11, 20),
                 **fields: Any) -> list[int]:
    """`count` entries, one per day going back from `start`, each with two tags."""
    ids = []
    for i in range(count):
        fields_i = {"tags": f"python, tag{i % 3}", "category": "Backend", **fields}
        ids.append(make_entry(app, owner, f"Entry {i:03d}", work_date=start - timedelta(days=i),
                              **fields_i))
    return ids


def load_entry(app: Flask, entry_id: int) -> LogEntry | None:
    with app.app_context():
        entry = db.session.get(LogEntry, entry_id)
        if entry is not None:
            entry.tags  # load before detaching  # noqa: B018
            db.session.expunge_all()
        return entry


def versions_of(app: Flask, entry_id: int) -> list[LogEntryVersion]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(LogEntryVersion).where(LogEntryVersion.entry_id == entry_id)
            .order_by(LogEntryVersion.version)
        ).all()
        db.session.expunge_all()
        return list(rows)


def audit_events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return list(events)


def row_ids(html: str) -> list[int]:
    """Ids of the entry rows in a page or fragment, in the order shown."""
    return [int(i) for i in ROW_ID.findall(html)]


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_statements(app: Flask) -> Iterator[StatementCounter]:
    """Every SQL statement sent to the app's database while the block runs."""
    counter = StatementCounter()
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", counter)


class LiveMarkup(HTMLParser):
    """What a browser would run: script elements, images, handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.found.append(f"<img {attrs}>")
        if tag == "script":
            self._in_script = True
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction", "hx-get", "hx-post") and (
                    (value or "").strip().lower().startswith("javascript:")):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "alert" in data:
            self.found.append(f"<script>{data}")


def assert_inert(body: str) -> None:
    parser = LiveMarkup()
    parser.feed(body)
    parser.close()
    assert parser.found == []

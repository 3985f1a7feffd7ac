"""Optional mirroring of work-log entries to a Notion database (seed 001's daily-log
database): creating, editing, trashing, restoring and purging an entry each queue a job
(task `publish.entry`) that brings the entry's page in step — created or updated in place
(page id in `entry_mirrors`), moved to Notion's trash when the entry is trashed or purged.

On when NOTION_ENTRIES_DATABASE_ID is set, or the admin page's "Mirror entries" is ticked
with an entries database id. Same client, limiter, retries and idempotency as reviews.
"""

from __future__ import annotations

import dataclasses
import logging

from flask import current_app
from sqlalchemy import exc as sa_exc

from app import jobs
from app.extensions import db
from app.models import EntryMirror, LogEntry, User
from app.models.base import utcnow
from app.security.secrets import SecretUnreadable
from app.services.publishing import destinations, notion
from app.services.publishing.common import PageRef, PublishError
from app.services.publishing.notion_blocks import markdown_to_blocks

log = logging.getLogger("app.publishing")

TASK = "publish.entry"
ENTRY_PROPERTIES = {"Date": "date", "Author": "rich_text", "Category": "rich_text",
                    "Impact": "rich_text", "Tags": "rich_text", "Worklog link": "url"}
_PARTS = (("situation", "Situation"), ("task", "Task"), ("action", "Action"),
          ("result", "Result"))


def enabled() -> bool:
    if not destinations.configured("notion"):
        return False
    if destinations.env_values("notion").get("entries_database_id"):
        return True
    row = destinations.org_row("notion")
    return bool(row and row.mirror_entries and (row.settings or {}).get("entries_database_id"))


def queue_entry_mirror(entry: LogEntry) -> None:
    """Queue the entry's mirror job (call in the change's transaction, before the commit)."""
    try:
        with db.session.no_autoflush:  # reading a setting must not flush the caller's writes
            if not enabled():
                return
    except sa_exc.SQLAlchemyError:
        # The database itself failed (gone, or this transaction is broken): the write cannot
        # commit either. Swallowed here, it came back as a 500 at the commit; raised, the
        # request gets the 503 a database outage gets.
        raise
    except Exception:  # noqa: BLE001 - mirroring must never break writing the log
        log.exception("could not read the mirroring settings")
        return
    from app.services.publishing import _base_arg

    jobs.enqueue(TASK, entry_id=entry.id, owner_id=entry.user_id, **_base_arg())


def _text(value: str) -> list[dict]:
    value = (value or "")[:2000]
    return [{"type": "text", "text": {"content": value}}] if value else []


def _props(entry: LogEntry, author: User, link: str, title_property: str) -> dict:
    return {
        title_property: {"title": _text(entry.title)},
        "Date": {"date": {"start": entry.work_date.isoformat()}},
        "Author": {"rich_text": _text(author.display_name or author.email)},
        "Category": {"rich_text": _text(entry.category or "")},
        "Impact": {"rich_text": _text(entry.impact or "")},
        "Tags": {"rich_text": _text(", ".join(entry.tags))},
        "Worklog link": {"url": link},
    }


def _blocks(entry: LogEntry) -> list[dict]:
    blocks: list[dict] = []
    for field, label in _PARTS:
        text = getattr(entry, field) or ""
        if text.strip():
            blocks.append({"object": "block", "type": "heading_3",
                           "heading_3": {"rich_text": _text(label)}})
            blocks.extend(markdown_to_blocks(text, lambda _i: None))
    return blocks


@jobs.task(TASK, queue="publishing", max_attempts=6, attempts_setting="PUBLISH_MAX_ATTEMPTS")
def mirror_entry(*, entry_id: int, owner_id: int, base: str | None = None) -> str:
    from app.services.publishing import _exclusive
    from app.urls import external_url

    where = {"entry_id": entry_id}
    owner = db.session.get(User, owner_id)
    try:
        target = destinations.target("notion", owner.team_id if owner else None)
    except (destinations.NotConfigured, SecretUnreadable):
        return "not_configured"
    entries_db = target.get("entries_database_id")
    if not entries_db:
        return "not_configured"
    target = dataclasses.replace(target, values={**target.values, "database_id": entries_db,
                                                 "data_source_id": ""})
    with _exclusive(entry_id, "notion-entry") as mine:
        if not mine:
            raise jobs.RetryLater("another run is mirroring this entry", retry_after=5)
        row = db.session.get(EntryMirror, entry_id)
        if row is None:
            row = EntryMirror(entry_id=entry_id, owner_id=owner_id, state="queued")
            db.session.add(row)
            db.session.commit()

        page = PageRef.over(row)
        entry = db.session.get(LogEntry, entry_id)
        try:
            if entry is None or entry.deleted_at is not None:
                if row.external_id:
                    notion.trash(target, row.external_id)
                row.state = "trashed"
            else:
                cfg = current_app.config
                if cfg.get("BASE_URL") or cfg.get("SERVER_NAME"):
                    link = external_url("log.detail", entry_id=entry.id)
                elif base:
                    with current_app.test_request_context(base_url=base):
                        link = external_url("log.detail", entry_id=entry.id)
                else:
                    raise PublishError("Set BASE_URL: links back to Worklog cannot be built here.")
                author = entry.user if hasattr(entry, "user") and entry.user else owner
                notion.upsert(target, page, lambda title: _props(entry, author, link, title),
                              _blocks(entry), link)
                row.external_id, row.url, row.state = page.external_id, page.url, "published"
        except PublishError as exc:
            db.session.rollback()
            row = db.session.get(EntryMirror, entry_id) or row
            row.last_error = exc.reason
            row.external_id = page.external_id or row.external_id
            if not exc.retryable:
                row.state = "failed"
            db.session.commit()
            log.warning("entry mirror failed: %s", exc.reason, extra=where)
            if exc.retryable:
                raise jobs.RetryLater(exc.reason, exc.retry_after) from None
            raise jobs.GiveUp(exc.reason) from None
        row.last_error = None
        row.updated_at = utcnow()
        db.session.commit()
        return row.state

"""The audit log as admins read it: filters, pages and a streamed CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, User
from app.models.user import normalize_email
from app.services.paging import page_arg_value
from app.services.text import filter_text

CSV_COLUMNS = ("id", "created_at", "action", "actor_id", "actor_email", "target_type", "target_id",
               "ip", "request_id", "details")
BATCH = 500
# A spreadsheet would run a cell starting with one of these as a formula (as in app/log/export.py).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _parse_date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # an email
    action: str = ""  # exact, or a prefix ending in "." such as "admin."
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> AuditFilters:
        return cls(
            actor=normalize_email(filter_text(args.get("actor"), 254)),
            action=filter_text(args.get("action"), 64),
            date_from=_parse_date(args.get("from")),
            date_to=_parse_date(args.get("to")),
            page=page_arg_value(args.get("page")),
        )

    def query_args(self, **changes: Any) -> dict[str, Any]:
        values = {"actor": self.actor, "action": self.action,
                  "from": self.date_from.isoformat() if self.date_from else "",
                  "to": self.date_to.isoformat() if self.date_to else "",
                  "page": self.page if self.page > 1 else ""}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None, 1)}

    @property
    def active(self) -> bool:
        return bool(self.actor or self.action or self.date_from or self.date_to)


def audit_query(filters: AuditFilters) -> sa.Select[Any]:
    """Newest first; each filter is served by an index (actor_id, action, created_at)."""
    stmt = sa.select(AuditEvent)
    if filters.actor:
        stmt = stmt.where(AuditEvent.actor_id.in_(
            sa.select(User.id).where(User.email == filters.actor).scalar_subquery()
        ))
    if filters.action.endswith("."):
        escaped = filters.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(AuditEvent.action.like(escaped + "%", escape="\\"))
    elif filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.date_from:
        stmt = stmt.where(AuditEvent.created_at >= datetime.combine(filters.date_from, time(), UTC))
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), UTC)
        stmt = stmt.where(AuditEvent.created_at < end)
    return stmt.order_by(AuditEvent.id.desc())


def known_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def _safe_cell(value: Any) -> str:
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    else:
        text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def audit_csv(stmt: sa.Select[Any]) -> Iterator[str]:
    """CSV rows streamed in batches, formula-like cells neutralised."""
    buffer = io.StringIO()
    buffer.write("\ufeff")  # a UTF-8 byte order mark: Excel then reads Korean names right
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for event in db.session.scalars(stmt.execution_options(yield_per=BATCH, stream_results=True)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([
            _safe_cell(event.id),
            _safe_cell(event.created_at.isoformat()),
            *(_safe_cell(getattr(event, c)) for c in CSV_COLUMNS[2:]),
        ])
        yield buffer.getvalue()

"""Reading the work log: filters, Korean-aware substring search, activity counts.

Every function returns a `select()` or plain values built from a constant number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.log import Impact, LogEntry, LogEntryTag
from app.services.paging import Page, page_arg_value, paginate
from app.services.text import clean_text, like_pattern, one_line

PAGE_SIZE = 30
MAX_TERMS = 8
MAX_TERM_LENGTH = 100
MAX_QUERY_LENGTH = 500
FTS_MIN_TERM = 3  # the trigram tokenizer indexes runs of three characters


@dataclass(frozen=True)
class LogFilters:
    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    category: str = ""
    impact: str = ""
    tag: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> LogFilters:
        """Parse query-string arguments; anything unusable is ignored rather than an error."""
        def as_date(name: str) -> date | None:
            try:
                return date.fromisoformat((args.get(name) or "").strip()) if args.get(name) else None
            except ValueError:
                return None

        impact = (args.get("impact") or "").strip().capitalize()
        page = page_arg_value(args.get("page"))
        return cls(
            q=clean_text(args.get("q") or "")[:MAX_QUERY_LENGTH].strip(),
            date_from=as_date("from"),
            date_to=as_date("to"),
            category=one_line(args.get("category"))[:80],
            impact=impact if impact in {i.value for i in Impact} else "",
            tag=one_line(args.get("tag")).lstrip("#").strip()[:40],
            page=page,
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.date_from or self.date_to or self.category or self.impact or self.tag)

    def as_args(self, **changes: Any) -> dict[str, str]:
        f = replace(self, **changes)
        args = {
            "q": f.q,
            "from": f.date_from.isoformat() if f.date_from else "",
            "to": f.date_to.isoformat() if f.date_to else "",
            "category": f.category,
            "impact": f.impact,
            "tag": f.tag,
            "page": str(f.page) if f.page > 1 else "",
        }
        return {k: v for k, v in args.items() if v}

    def query_string(self, **changes: Any) -> str:
        return urlencode(self.as_args(**changes))


def search_terms(q: str) -> list[str]:
    return list(_search_terms(q))


@lru_cache(maxsize=256)
def _search_terms(q: str) -> tuple[str, ...]:
    # Cached: the list's highlight filter asks again for every row of the page.
    terms = [t[:MAX_TERM_LENGTH].lower() for t in q.split() if t]
    return tuple(dict.fromkeys(terms))[:MAX_TERMS]


def _fts_phrase(term: str) -> str:
    # A double-quoted FTS5 string is matched literally: operators, *, NEAR, ( ) lose meaning.
    return '"' + term.replace('"', '""') + '"'


def term_condition(term: str, dialect: str) -> sa.ColumnElement[bool]:
    like = LogEntry.search_text.like(like_pattern(term), escape="\\")
    if dialect == "sqlite" and len(term) >= FTS_MIN_TERM:
        fts = sa.text("SELECT rowid FROM log_entry_fts WHERE log_entry_fts MATCH :m").bindparams(
            sa.bindparam("m", _fts_phrase(term), unique=True)
        )
        return LogEntry.id.in_(fts.columns(sa.column("rowid", sa.Integer)))
    return like


def rank_by_terms(terms: list[str]) -> sa.ColumnElement[int]:
    """Title hits count most, then category hits; ties go to the newest."""
    # search_text starts with the title lower-cased by Python; the databases' lower() leaves
    # non-ASCII letters alone (SQLite always, PostgreSQL in the C locale).
    title = sa.func.substr(LogEntry.search_text, 1, sa.func.length(LogEntry.title))
    category = sa.func.lower(sa.func.coalesce(LogEntry.category, ""))
    score: sa.ColumnElement[int] = sa.literal(0)
    for term in terms:
        pattern = like_pattern(term)
        score = score + sa.case((title.like(pattern, escape="\\"), 3), else_=0)
        score = score + sa.case((category.like(pattern, escape="\\"), 1), else_=0)
    return score


def entries_select(owner_ids: list[int], filters: LogFilters, dialect: str) -> sa.Select[Any]:
    """Live entries of `owner_ids` matching `filters`, newest (or most relevant) first."""
    stmt = sa.select(LogEntry).where(LogEntry.user_id.in_(owner_ids), LogEntry.deleted_at.is_(None))
    if filters.date_from:
        stmt = stmt.where(LogEntry.work_date >= filters.date_from)
    if filters.date_to:
        stmt = stmt.where(LogEntry.work_date <= filters.date_to)
    if filters.category:
        stmt = stmt.where(LogEntry.category == filters.category)
    if filters.impact:
        stmt = stmt.where(LogEntry.impact == filters.impact)
    if filters.tag:
        stmt = stmt.where(
            LogEntry.id.in_(sa.select(LogEntryTag.entry_id).where(LogEntryTag.tag == filters.tag))
        )
    terms = search_terms(filters.q)
    for term in terms:
        stmt = stmt.where(term_condition(term, dialect))
    order: list[Any] = [LogEntry.work_date.desc(), LogEntry.id.desc()]
    if terms:
        order.insert(0, rank_by_terms(terms).desc())
    return stmt.order_by(*order)


@dataclass
class ListRow:
    """What a list row shows, read as plain columns: no ORM object, no STAR text."""

    id: int
    user_id: int
    work_date: date
    title: str
    excerpt: str | None
    category: str | None
    impact: str
    tags: list[str] = field(default_factory=list)


LIST_ROW_COLUMNS = (LogEntry.id, LogEntry.user_id, LogEntry.work_date, LogEntry.title,
                    LogEntry.excerpt, LogEntry.category, LogEntry.impact)


def list_rows_page(stmt: sa.Select[Any], page: int, per_page: int = PAGE_SIZE) -> Page:
    """A page of `entries_select()` as ListRows with their tags: two plain queries."""
    found = paginate(stmt.with_only_columns(*LIST_ROW_COLUMNS), page, per_page, rows=True)
    rows = [ListRow(*values) for values in found.items]
    if rows:
        by_id = {row.id: row for row in rows}
        tags = db.session.execute(
            sa.select(LogEntryTag.entry_id, LogEntryTag.tag)
            .where(LogEntryTag.entry_id.in_(by_id))
            .order_by(LogEntryTag.entry_id, LogEntryTag.position)
        ).all()
        for entry_id, tag in tags:
            by_id[entry_id].tags.append(tag)
    return Page(rows, found.page, found.has_next)


def entries_page(stmt: sa.Select[Any], page: int, per_page: int = PAGE_SIZE) -> Page:
    """A page of entries with their tags (one more query for the whole page)."""
    return paginate(stmt.options(so.selectinload(LogEntry.tag_rows)), page, per_page)


def trash_page(owner_id: int, page: int) -> Page:
    """The owner's trashed entries, newest deletion first."""
    return entries_page(
        sa.select(LogEntry)
        .where(LogEntry.user_id == owner_id, LogEntry.deleted_at.is_not(None))
        .order_by(LogEntry.deleted_at.desc(), LogEntry.id.desc()),
        page,
    )


def activity_by_day(owner_id: int, start: date, end: date) -> dict[date, int]:
    rows = db.session.execute(
        sa.select(LogEntry.work_date, sa.func.count())
        .where(LogEntry.user_id == owner_id, LogEntry.deleted_at.is_(None),
               LogEntry.work_date.between(start, end))
        .group_by(LogEntry.work_date)
    ).all()
    return {day: count for day, count in rows}


def categories_of(owner_id: int, limit: int = 50) -> list[str]:
    rows = db.session.execute(
        sa.select(LogEntry.category, sa.func.count().label("n"))
        .where(LogEntry.user_id == owner_id, LogEntry.category.is_not(None),
               LogEntry.deleted_at.is_(None))
        .group_by(LogEntry.category)
        .order_by(sa.desc("n"), LogEntry.category)
        .limit(limit)
    ).all()
    return [category for category, _n in rows]


def year_window(today: date) -> tuple[date, date]:
    """53 full weeks ending with the week of `today` (weeks start on Monday)."""
    end = today + timedelta(days=6 - today.weekday())
    return end - timedelta(days=53 * 7 - 1), end

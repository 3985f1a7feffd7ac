"""Pages of results: one query each, one row more than the page to know if another follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.extensions import db

PAGE_SIZE = 25
MAX_PAGE = 10_000  # deeper than anyone pages; keeps OFFSET bounded


@dataclass
class Page:
    items: list[Any]
    page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def page_arg_value(raw: str | None, maximum: int = MAX_PAGE) -> int:
    """A 1-based page number from a query string value: 1 when missing or not a number."""
    raw = (raw or "").strip()
    if not (raw.isascii() and raw.isdecimal()):  # "²" and "٣" are no page numbers
        return 1
    return min(max(int(raw[:12]) if len(raw) <= 12 else maximum, 1), maximum)


def paginate(stmt: sa.Select[Any], page: int, per_page: int = PAGE_SIZE, *, rows: bool = False) -> Page:
    """Page `page` of `stmt`: ORM objects, or whole rows with `rows=True` (several columns)."""
    stmt = stmt.limit(per_page + 1).offset((page - 1) * per_page)
    found = list(db.session.execute(stmt).all() if rows else db.session.scalars(stmt).all())
    return Page(found[:per_page], page, len(found) > per_page)

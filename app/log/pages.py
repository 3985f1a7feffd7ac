"""What the log's pages are made of, shared by the log's views and Structure with AI."""

from __future__ import annotations

from typing import Any

from flask import request

from app.extensions import db
from app.models import User
from app.models.log import STAR_PARTS, Impact
from app.services.log.heatmap import heatmap_html
from app.services.log.query import (
    LogFilters,
    categories_of,
    entries_page,
    entries_select,
    list_row_columns,
)

FORM_FIELDS = ("work_date", "title", *STAR_PARTS, "category", "impact", "tags")


def submitted_form() -> dict[str, Any]:
    return {name: request.form.get(name, "") for name in FORM_FIELDS}


def list_context(user: User, filters: LogFilters) -> dict[str, Any]:
    stmt = entries_select([user.id], filters, db.engine.dialect.name).options(list_row_columns())
    return {"filters": filters, "page": entries_page(stmt, filters.page), "impacts": list(Impact)}


def page_context(user: User, filters: LogFilters, **extra: Any) -> dict[str, Any]:
    today = user.today()
    return {
        **list_context(user, filters),
        "heatmap_html": heatmap_html(user, today),
        "categories": categories_of(user.id),
        "today": today,
        "form_values": {"work_date": today.isoformat(), "impact": Impact.MEDIUM.value},
        "form_errors": {},
        **extra,
    }



"""What the log's pages are made of, shared by the log's views and Structure with AI."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, g, render_template, request
from markupsafe import Markup, escape

from app.extensions import db
from app.models import User
from app.models.log import STAR_PARTS, Impact
from app.services.log.heatmap import heatmap_html
from app.services.log.query import LogFilters, categories_of, entries_select, list_rows_page


def row_strings() -> dict[str, Any]:
    """What every list row repeats, worked out once per request instead of once per row."""
    cached = g.get("log_row_strings")
    if cached is None:
        from flask import url_for
        from flask_babel import gettext
        from flask_login import current_user
        from flask_wtf.csrf import generate_csrf
        from markupsafe import Markup

        from app.i18n import impact_label

        cached = g.log_row_strings = {
            "entries": url_for("log.index") + "/entries/",
            "me": current_user.id if current_user.is_authenticated else None,
            "csrf": generate_csrf(),
            "edit": gettext("Edit"),
            "delete": gettext("Delete"),
            # Markup: the title filled in with % is escaped, as the template's own _() does.
            "edit_label": Markup(gettext("Edit “%(title)s”")),  # noqa: S704 - a catalog string
            "delete_label": Markup(gettext("Delete “%(title)s”")),  # noqa: S704
            "impacts": {impact.value: impact_label(impact.value) for impact in Impact},
        }
    return cached


FORM_FIELDS = ("work_date", "title", *STAR_PARTS, "category", "impact", "tags")


def submitted_form() -> dict[str, Any]:
    return {name: request.form.get(name, "") for name in FORM_FIELDS}


def list_html(user: User, filters: LogFilters) -> Markup:
    """The rendered list and its pager, kept while the user's data version stays the same.

    Keyed like the heatmap (user, data version, day, language, build) plus the filters and
    page, so any write that changes the list simply stops finding the old copy. The rows'
    delete forms carry the CSRF token; the kept copy has a secret slot in its place, filled
    in for each request.
    """
    from app.services.versioned_cache import cached_text, user_key

    slot = _csrf_slot()
    url = hashlib.blake2b(filters.query_string().encode(), digest_size=12).hexdigest()

    def render() -> str:
        stmt = entries_select([user.id], filters, db.engine.dialect.name)
        return render_template("log/_list.html", filters=filters,
                               page=list_rows_page(stmt, filters.page),
                               rs={**row_strings(), "csrf": slot})

    html = cached_text(user_key("log-list", user, user.today()) + ":" + url, render, ttl=3600)
    return Markup(html.replace(slot, str(escape(row_strings()["csrf"]))))  # noqa: S704 - rendered escaped


def _csrf_slot() -> str:
    """A placeholder no entry text can contain: derived from the secret key."""
    slot = current_app.extensions.get("worklog.list_csrf_slot")
    if slot is None:
        secret = str(current_app.config["SECRET_KEY"]).encode()
        slot = "csrf-" + hashlib.blake2b(b"log-list-csrf-slot", key=secret[-64:]).hexdigest()[:32]
        current_app.extensions["worklog.list_csrf_slot"] = slot
    return slot


def cached_categories(user: User, today: Any) -> list[str]:
    """The filter's category choices: one query per data version, not per page view."""
    import json

    from app.services.versioned_cache import cached_text, user_key

    return json.loads(cached_text(user_key("categories", user, today),
                                  lambda: json.dumps(categories_of(user.id), ensure_ascii=False)))


def page_context(user: User, filters: LogFilters, **extra: Any) -> dict[str, Any]:
    today = user.today()
    return {
        "filters": filters,
        "list_html": list_html(user, filters),
        "impacts": list(Impact),
        "heatmap_html": heatmap_html(user, today),
        "categories": cached_categories(user, today),
        "today": today,
        "form_values": {"work_date": today.isoformat(), "impact": Impact.MEDIUM.value},
        "form_errors": {},
        **extra,
    }



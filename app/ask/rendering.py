"""Ask answers as HTML, under the rule for model output (shared by /ask and /admin/feedback)."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from markupsafe import Markup

from app.access import readable_entry_ids
from app.models import User
from app.models.ask import AskQuestion
from app.services.ask.answer import shown_answer
from app.services.markdown import render_with_citations


def rendered_answers(reader: User, rows: list[AskQuestion]) -> dict[int, Markup]:
    """Each answer as HTML: a citation is a link only when the model was given that entry for
    that answer and `reader` may open it now; no other link the model wrote is live. One query
    for the whole page."""
    cited = {i for row in rows for i in (row.cited_entry_ids or [])}
    readable = readable_entry_ids(reader, cited)
    unverified = _("Not a verified citation: this entry was not among those searched, "
                   "or you cannot open it.")
    rendered = {}
    for row in rows:
        allowed = set(row.cited_entry_ids or []) & readable

        def link_for(entry_id: int, allowed: set[int] = allowed) -> str | None:
            return url_for("log.detail", entry_id=entry_id) if entry_id in allowed else None

        rendered[row.id] = render_with_citations(shown_answer(row.answer), link_for, unverified)
    return rendered

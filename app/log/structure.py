"""Structure with AI: the free text in an entry form becomes a proposed STAR draft in that form.

Nothing is saved here. The proposal is put into the form's fields, the user checks and edits
it, and saves the form as usual. On any failure the form comes back exactly as it was sent,
with a message, so nothing the user typed is lost.
"""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user, login_required

from app.access import Action, get_entry_for
from app.extensions import limiter
from app.log import bp
from app.log.pages import page_context, submitted_form
from app.models.log import Impact
from app.services.log.query import LogFilters, categories_of
from app.services.log.structuring import propose
from app.web import form_int, is_htmx, me

# Each press is one model call; generous for real use, a wall against a script.
DEFAULT_RATE_LIMIT = "10/minute;100/hour"


def _rate_limit() -> str:
    return current_app.config.get("STRUCTURE_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def _user_key() -> str:
    return f"user:{current_user.id}"


@bp.post("/structure")
@login_required
@limiter.limit(_rate_limit, key_func=_user_key, scope="log-structure")
def structure() -> tuple[str, int]:
    """Quick capture's text as a proposed STAR draft, back in the capture form (not saved)."""
    user = me()
    categories = categories_of(user.id)
    values, outcome, status = propose(submitted_form(), categories, user_id=user.id,
                                      locale=str(get_locale() or "en"))
    if is_htmx():
        return render_template("log/_capture_form.html", form_values=values, form_errors={},
                               categories=categories, impacts=list(Impact),
                               structure=outcome), status
    context = page_context(user, LogFilters(), form_values=values, structure=outcome)
    return render_template("log/index.html", **context), status


@bp.post("/entries/<int:entry_id>/structure")
@login_required
@limiter.limit(_rate_limit, key_func=_user_key, scope="log-structure")
def structure_edit(entry_id: int) -> tuple[str, int]:
    """The edit form's text as a proposed STAR draft, back in the edit form (not saved)."""
    user = me()
    entry = get_entry_for(user, entry_id, Action.WRITE)
    version = form_int("version")
    categories = categories_of(user.id)
    values, outcome, status = propose(submitted_form(), categories, user_id=user.id,
                                      locale=str(get_locale() or "en"))
    # With htmx just the form is swapped; the inline editor (in the list) sends inline=1,
    # while the edit page's form must keep posting normally.
    inline = is_htmx() and request.form.get("inline") == "1"
    template = "log/_edit_form.html" if is_htmx() else "log/edit.html"
    return render_template(template, entry=entry, form_values=values, form_errors={},
                           version=version, categories=categories, impacts=list(Impact),
                           inline=inline, structure=outcome), status

"""Structure with AI: the free text in an entry form becomes a proposed STAR draft in that form.

Nothing is saved here. The proposal is put into the form's fields, the user checks and edits
it, and saves the form as usual. On any failure the form comes back exactly as it was sent,
with a message, so nothing the user typed is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.access import Action, get_entry_for
from app.extensions import limiter
from app.log import bp
from app.log.pages import page_context, submitted_form
from app.models.log import STAR_PARTS, TAGS_MAX, Impact
from app.services.llm import LLMError, propose_structure
from app.services.log.entries import parse_tags
from app.services.log.query import LogFilters, categories_of
from app.web import form_int, is_htmx, me

STRUCTURE_TEXT_MAX = 10_000
# Each press is one model call; generous for real use, a wall against a script.
DEFAULT_RATE_LIMIT = "10/minute;100/hour"


def _rate_limit() -> str:
    return current_app.config.get("STRUCTURE_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def _user_key() -> str:
    return f"user:{current_user.id}"


def source_text(values: Mapping[str, str]) -> str:
    """What the model reads: the STAR boxes the user wrote in (quick capture's notes are the
    first), or the title alone when they are all empty."""
    parts = [(values.get(part) or "").strip() for part in STAR_PARTS]
    return "\n\n".join(p for p in parts if p) or (values.get("title") or "").strip()


def apply_proposal(values: Mapping[str, str], proposal: Mapping[str, Any]) -> dict[str, str]:
    """The form values with the proposal put in.

    The STAR parts and the impact are the proposal (they are rewritten from the whole text);
    a title or category the user already typed stays, and tags are the user's plus the new ones.
    """
    merged = dict(values)
    for part in STAR_PARTS:
        merged[part] = proposal.get(part) or ""
    if not (values.get("title") or "").strip():
        merged["title"] = proposal.get("title") or ""
    if not (values.get("category") or "").strip():
        merged["category"] = proposal.get("category") or ""
    merged["impact"] = proposal.get("impact") or values.get("impact") or Impact.MEDIUM.value
    tags = parse_tags([*parse_tags(values.get("tags") or ""), *(proposal.get("tags") or [])])
    merged["tags"] = ", ".join(tags[:TAGS_MAX])
    return merged


def _propose(values: dict[str, str], categories: list[str]) -> tuple[dict[str, str], dict, int]:
    """(form values, what to tell the user, status). Failures keep `values` untouched."""
    text = source_text(values)
    if not text:
        return values, {"error": _("Write what you did first (a title or notes), then press "
                                   "Structure with AI.")}, 422
    if len(text) > STRUCTURE_TEXT_MAX:
        return values, {"error": _("Structure with AI reads at most %(n)s characters. Shorten "
                                   "the text and try again.", n=f"{STRUCTURE_TEXT_MAX:,}")}, 422
    try:
        proposal = propose_structure(text, user_id=current_user.id, categories=categories,
                                     locale=str(get_locale() or "en"))
    except LLMError as exc:
        return values, {"error": str(exc.user_message)}, 503
    return apply_proposal(values, proposal), {"proposed": True, "source": text}, 200


@bp.post("/structure")
@login_required
@limiter.limit(_rate_limit, key_func=_user_key, scope="log-structure")
def structure() -> tuple[str, int]:
    """Quick capture's text as a proposed STAR draft, back in the capture form (not saved)."""
    user = me()
    categories = categories_of(user.id)
    values, outcome, status = _propose(submitted_form(), categories)
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
    values, outcome, status = _propose(submitted_form(), categories)
    # With htmx just the form is swapped; the inline editor (in the list) sends inline=1,
    # while the edit page's form must keep posting normally.
    inline = is_htmx() and request.form.get("inline") == "1"
    template = "log/_edit_form.html" if is_htmx() else "log/edit.html"
    return render_template(template, entry=entry, form_values=values, form_errors={},
                           version=version, categories=categories, impacts=list(Impact),
                           inline=inline, structure=outcome), status

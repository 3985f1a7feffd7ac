"""The suggestion tray on /log: merged PRs/MRs and closed issues proposed as entries.

The tray is its own fragment (GET /log/suggestions), loaded after the page so /log stays
cacheable. Accept makes an entry and opens it for editing; Edit opens the draft in the entry
form first; Dismiss hides it for good.
"""

from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from app.extensions import db
from app.i18n import field_label
from app.models import Impact, Suggestion
from app.services import repos as service
from app.services.log.entries import create_entry, validate_entry
from app.services.log.query import categories_of
from app.suggestions import bp
from app.web import audit, is_htmx, me, redirect_for, request_context


def _mine(suggestion_id: int) -> Suggestion:
    row = service.get_suggestion_for(me(), suggestion_id)
    if row is None:
        abort(404)
    return row


@bp.get("", strict_slashes=False)
@login_required
def tray() -> Response:
    """The tray (a fragment for htmx; without htmx the same list as a small page)."""
    user = me()
    template = "suggestions/_tray.html" if is_htmx() else "suggestions/index.html"
    response = Response(render_template(template, suggestions=service.suggestions_for(user)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:suggestion_id>/edit", methods=["GET"])
@login_required
def edit(suggestion_id: int) -> str:
    """The draft in the entry form; saving it accepts the suggestion."""
    user = me()
    row = _mine(suggestion_id)
    return render_template("suggestions/edit.html", suggestion=row, form_errors={},
                           form_values=service.entry_values(row, user.today().isoformat()),
                           impacts=list(Impact), categories=categories_of(user.id))


@bp.post("/<int:suggestion_id>/accept")
@login_required
def accept(suggestion_id: int) -> str | Response | tuple[str, int]:
    """Make the entry (from the edited form, or the draft as it is) and open it for editing."""
    user = me()
    row = _mine(suggestion_id)
    edited = "title" in request.form
    values = request.form.to_dict() if edited else service.entry_values(row, user.today().isoformat())
    data, errors = validate_entry(values, user.today())
    if data is None:
        messages = {name: _("Check %(field)s.", field=field_label(name)) for name in errors}
        return render_template("suggestions/edit.html", suggestion=row, form_errors=messages,
                               form_values=values, impacts=list(Impact),
                               categories=categories_of(user.id)), 422
    entry = create_entry(user, data, ctx=request_context())
    db.session.flush()
    row.status, row.entry_id = "accepted", entry.id
    audit("log.suggestion_accepted", target_type="log_entry", target_id=entry.id,
          details={"suggestion_id": row.id, "edited": edited})
    db.session.commit()
    flash(_("Suggestion saved as an entry."), "success")
    if edited:
        return redirect_for(url_for("log.index") + f"#entry-{entry.id}")
    return redirect_for(url_for("log.edit", entry_id=entry.id))


@bp.post("/<int:suggestion_id>/dismiss")
@login_required
def dismiss(suggestion_id: int) -> str | Response:
    row = _mine(suggestion_id)
    row.status = "dismissed"
    db.session.commit()
    if is_htmx():
        return render_template("suggestions/_tray.html", suggestions=service.suggestions_for(me()))
    flash(_("Suggestion dismissed; it will not come back."), "success")
    return redirect_for(url_for("log.index"))

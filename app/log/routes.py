"""The work log: list, quick capture, inline edit, trash, history, export."""

from __future__ import annotations

from flask import Response, abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.access import Action, get_entry_for
from app.extensions import db
from app.log import bp
from app.log.export import export_response
from app.log.pages import list_html, page_context, submitted_form
from app.models.log import Impact
from app.services.freshness import conditional
from app.services.log import entries as log_service
from app.services.log.history import version_history
from app.services.log.query import (
    LogFilters,
    categories_of,
    entries_select,
    trash_page,
)
from app.web import form_int, is_htmx, me, page_arg, redirect_for, request_context, trigger, wants_fragment
from app.web.validation import field_messages


@bp.get("")
@conditional()
@login_required
def index() -> str:
    """Your log: heatmap, quick capture, filters and the list."""
    user = me()
    filters = LogFilters.from_args(request.args)
    if wants_fragment("entry-list"):
        return list_html(user, filters)
    return render_template("log/index.html", **page_context(user, filters))


@bp.post("/entries")
@login_required
def create() -> str | Response | tuple[str, int]:
    """Save a new entry (quick capture or the full form)."""
    user = me()
    data, errors = log_service.validate_entry(request.form, user.today())
    if data is None:
        values = submitted_form()
        if is_htmx():
            return render_template("log/_capture_form.html", form_values=values,
                                   form_errors=field_messages(errors),
                                   categories=categories_of(user.id), impacts=list(Impact)), 422
        context = page_context(user, LogFilters(), form_values=values,
                                form_errors=field_messages(errors))
        return render_template("log/index.html", **context), 422
    entry = log_service.create_entry(user, data, ctx=request_context())
    db.session.commit()
    flash(_("Entry saved."), "success")
    if is_htmx():
        today = user.today()
        response = Response(render_template(
            "log/_capture_form.html",
            form_values={"work_date": today.isoformat(), "impact": Impact.MEDIUM.value},
            form_errors={}, categories=categories_of(user.id), impacts=list(Impact),
        ))
        return trigger(response, "log-changed")
    return redirect_for(url_for("log.index") + f"#entry-{entry.id}")


@bp.get("/entries/<int:entry_id>")
@login_required
def detail(entry_id: int) -> str:
    """One entry, fully rendered. For htmx (e.g. cancelling an edit) just its row."""
    entry = get_entry_for(me(), entry_id)
    if is_htmx():
        return render_template("log/_row.html", entry=entry)
    return render_template("log/detail.html", entry=entry, can_edit=entry.user_id == current_user.id)


@bp.get("/entries/<int:entry_id>/edit")
@login_required
def edit(entry_id: int) -> str:
    """The edit form: inline in the list for htmx, a page otherwise."""
    user = me()
    entry = get_entry_for(user, entry_id, Action.WRITE)
    values = {**entry.snapshot(), "tags": ", ".join(entry.tags)}
    context = {"entry": entry, "form_values": values, "form_errors": {},
               "version": entry.version, "categories": categories_of(user.id),
               "impacts": list(Impact), "inline": is_htmx()}
    if is_htmx():
        return render_template("log/_edit_form.html", **context)
    return render_template("log/edit.html", **context)


@bp.post("/entries/<int:entry_id>")
@login_required
def save(entry_id: int) -> str | Response | tuple[str, int]:
    """Save an edit; a save based on an old version is refused and the text kept."""
    user = me()
    entry = get_entry_for(user, entry_id, Action.WRITE)
    values = submitted_form()
    expected = form_int("version")
    inline = is_htmx()
    context = {"entry": entry, "form_values": values, "version": expected,
               "categories": categories_of(user.id), "impacts": list(Impact), "inline": inline}
    template = "log/_edit_form.html" if inline else "log/edit.html"
    data, errors = log_service.validate_entry(request.form, user.today())
    if data is None:
        return render_template(template, form_errors=field_messages(errors), **context), 422
    try:
        log_service.update_entry(user, entry, data, expected, ctx=request_context())
        db.session.commit()
    except log_service.StaleEntryError as stale:
        db.session.rollback()
        message = _("This entry was changed elsewhere (it is now at version %(v)d) after you "
                    "opened it, so your edit was not saved. Your text is still below: copy "
                    "what you need, then reload the entry and apply it again.",
                    v=stale.entry.version)
        return render_template(template, form_errors={}, stale_message=message, **context), 409
    flash(_("Entry updated."), "success")
    if inline:
        return render_template("log/_row.html", entry=entry)
    return redirect_for(url_for("log.detail", entry_id=entry.id))


@bp.post("/entries/<int:entry_id>/delete")
@login_required
def delete(entry_id: int) -> str | Response:
    """Move an entry to the trash, with Undo in the message."""
    entry = get_entry_for(me(), entry_id, Action.WRITE)
    log_service.trash_entry(me(), entry, ctx=request_context())
    db.session.commit()
    flash({"text": _("“%(title)s” moved to the trash.", title=entry.title),
           "undo_url": url_for("log.restore", entry_id=entry.id)}, "undo")
    if is_htmx():
        return Response("")  # the row disappears
    return redirect_for(url_for("log.index"))


@bp.post("/entries/<int:entry_id>/restore")
@login_required
def restore(entry_id: int) -> str | Response:
    """Take an entry back out of the trash."""
    entry = get_entry_for(me(), entry_id, Action.WRITE, deleted=True)
    log_service.restore_entry(me(), entry, ctx=request_context())
    db.session.commit()
    flash(_("“%(title)s” restored.", title=entry.title), "success")
    if is_htmx():
        response = Response("")
        return trigger(response, "log-changed")
    return redirect_for(url_for("log.trash") if request.form.get("from") == "trash"
                        else url_for("log.index"))


@bp.post("/entries/<int:entry_id>/purge")
@login_required
def purge(entry_id: int) -> Response:
    """Delete a trashed entry for good."""
    entry = get_entry_for(me(), entry_id, Action.WRITE, deleted=True)
    log_service.purge_entry(me(), entry, ctx=request_context())
    db.session.commit()
    flash(_("Entry deleted for good."), "success")
    if is_htmx():
        return Response("")
    return redirect_for(url_for("log.trash"))


@bp.get("/trash")
@login_required
def trash() -> str:
    """Entries you deleted, newest deletion first."""
    return render_template("log/trash.html", page=trash_page(me().id, page_arg()))


@bp.get("/entries/<int:entry_id>/history")
@login_required
def history(entry_id: int) -> str:
    """Every kept version of an entry, each with what changed after it."""
    entry = get_entry_for(me(), entry_id)
    return render_template("log/history.html", entry=entry, rows=version_history(entry))


@bp.get("/export")
@login_required
def export() -> Response:
    """Your entries as Markdown, CSV or JSON, honouring the list's filters."""
    fmt = request.args.get("format", "md")
    if fmt not in ("md", "csv", "json"):
        abort(400)
    filters = LogFilters.from_args(request.args)
    stmt = entries_select([current_user.id], filters, db.engine.dialect.name)
    return export_response(stmt, fmt, me().today())

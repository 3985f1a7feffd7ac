"""Notification channels per event kind and reminders, on /account (their own form)."""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from app.account import bp
from app.extensions import db
from app.models.base import utcnow
from app.models.notification import CHANNELS, EVENT_KINDS
from app.services import notifications as service
from app.web import audit, me, redirect_for

TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def settings_context(user_id: int) -> dict:
    prefs = service.settings_for(user_id)
    return {"notification_prefs": prefs, "event_kinds": [(k, service.kind_label(k)) for k in EVENT_KINDS],
            "channels": {k: service.channel_for(user_id, k) for k in EVENT_KINDS},
            "channel_labels": {"in_app": _("In the app"), "email": _("E-mail"), "both": _("Both")},
            "weekday_labels": [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
                               _("Saturday"), _("Sunday")]}


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def notification_settings() -> str | Response | tuple[str, int]:
    """How you hear about events, and your reminders."""
    user = me()
    if request.method == "GET":
        return redirect(url_for("account.preferences") + "#notification-settings")
    form = request.form
    errors = []
    times = {}
    for name in ("daily_time", "weekly_time", "leads_time"):
        value = (form.get(name) or "").strip()
        if not TIME.match(value):
            errors.append(name)
        times[name] = value
    try:
        weekly_day = int(form.get("weekly_day", "5"))
    except ValueError:
        weekly_day = 0
    if not 1 <= weekly_day <= 7:
        errors.append("weekly_day")
    channels = {kind: form.get(f"channel_{kind}", "both") for kind in EVENT_KINDS}
    if any(c not in CHANNELS for c in channels.values()):
        errors.append("channels")
    if errors:
        flash(_("Enter times as HH:MM (24-hour clock) and pick a day and channel from the lists."), "error")
        from app.account.forms import PreferencesForm

        form_obj = PreferencesForm(obj=user)
        return render_template("account/preferences.html", form=form_obj, **settings_context(user.id)), 422
    prefs = service.settings_for(user.id, create=True)
    before = {"channels": dict(prefs.channels or {}), "daily": prefs.daily_enabled,
              "weekly": prefs.weekly_enabled, "leads": prefs.leads_enabled}
    prefs.channels = channels
    prefs.daily_enabled = form.get("daily_enabled") == "on"
    prefs.daily_weekends = form.get("daily_weekends") == "on"
    prefs.weekly_enabled = form.get("weekly_enabled") == "on"
    prefs.leads_enabled = form.get("leads_enabled") == "on"
    prefs.reminder_email = form.get("reminder_email") == "on"
    prefs.daily_time, prefs.weekly_time, prefs.leads_time = (
        times["daily_time"], times["weekly_time"], times["leads_time"])
    prefs.weekly_day = weekly_day
    prefs.updated_at = utcnow()
    audit("account.notifications_changed", target_type="user", target_id=user.id,
          details={"before": before, "after": {"channels": channels, "daily": prefs.daily_enabled,
                                               "weekly": prefs.weekly_enabled, "leads": prefs.leads_enabled}})
    db.session.commit()
    flash(_("Notification settings saved."), "success")
    return redirect_for(url_for("account.preferences") + "#notification-settings")

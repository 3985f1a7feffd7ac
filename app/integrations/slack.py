"""The Slack app's endpoints (set these in the app's configuration at api.slack.com):

- POST /integrations/slack/commands      the `/worklog` slash command
- POST /integrations/slack/interactions  the "Save to Worklog" message shortcut
                                         (callback id `save_to_worklog`) and the Undo button
- GET/POST /integrations/slack/link/<token>  the signed one-time link that ties a Slack user to
                                         the signed-in account

Slack's requests carry no CSRF token and no session: each is verified by its signature
(SLACK_SIGNING_SECRET, 5-minute window, each signature once) and answered within 3 seconds.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import abort, jsonify, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import login_required
from werkzeug.wrappers import Response

from app import jobs
from app.access import Action, get_entry_for
from app.extensions import csrf, db, limiter
from app.integrations import bp
from app.services import slack as service
from app.services.log.entries import trash_entry
from app.services.mail import locale_of
from app.web import audit, me, request_context


def _slack_limit() -> str:
    from flask import current_app

    return current_app.config.get("SLACK_RATE_LIMIT") or "120/minute"


def _verified() -> None:
    body = request.get_data(cache=True)
    signature = request.headers.get("X-Slack-Signature")
    if not service.verify(body, request.headers.get("X-Slack-Request-Timestamp"), signature):
        abort(Response("invalid signature", status=401))
    if not service.claim_signature(signature or ""):
        db.session.rollback()
        abort(Response("replayed request", status=401))


def _ephemeral(text: str) -> Response:
    return jsonify({"response_type": "ephemeral", "text": text})


def _start_capture(team_id: str, slack_user_id: str, text: str, response_url: str) -> Response:
    user = service.linked_user(team_id, slack_user_id)
    if user is None:
        response = jsonify(service.link_message(team_id, slack_user_id))
        db.session.commit()
        return response
    with force_locale(locale_of(user)):
        if not text.strip():
            db.session.commit()
            return _ephemeral(_("Write what you did after /worklog, e.g. “/worklog fixed the flaky test”."))
        jobs.enqueue(service.CAPTURE_TASK, user_id=user.id, text=text[:service.TEXT_MAX],
                     response_url=response_url, key=f"slack:capture:{uuid.uuid4().hex}")
        db.session.commit()
        return _ephemeral(_("Saving to Worklog…"))


@bp.post("/slack/commands")
@csrf.exempt
@limiter.limit(_slack_limit, key_func=get_remote_address, scope="slack")
def slack_command() -> Response:
    """The /worklog slash command: answered at once; the entry follows via response_url."""
    _verified()
    form = request.form
    return _start_capture(form.get("team_id", ""), form.get("user_id", ""), form.get("text", ""),
                          form.get("response_url", ""))


@bp.post("/slack/interactions")
@csrf.exempt
@limiter.limit(_slack_limit, key_func=get_remote_address, scope="slack")
def slack_interaction() -> Response | tuple[str, int]:
    """The message shortcut and the Undo button."""
    _verified()
    try:
        payload: dict[str, Any] = json.loads(request.form.get("payload", ""))
    except ValueError:
        db.session.commit()
        return "bad payload", 400
    team_id = (payload.get("team") or {}).get("id", "")
    slack_user_id = (payload.get("user") or {}).get("id", "")
    kind = payload.get("type")
    if kind == "message_action":
        text = (payload.get("message") or {}).get("text", "")
        return _start_capture(team_id, slack_user_id, text, payload.get("response_url", ""))
    if kind == "block_actions":
        for action in payload.get("actions") or []:
            if action.get("action_id") == "worklog_undo":
                return _undo(team_id, slack_user_id, action.get("value", ""),
                             payload.get("response_url", ""))
    db.session.commit()
    return "", 200


def _undo(team_id: str, slack_user_id: str, token: str, response_url: str) -> tuple[str, int]:
    from app.models import LogEntry

    user = service.linked_user(team_id, slack_user_id)
    found = service.read_undo_token(token)
    if user is None or found is None or found[1] != user.id:
        db.session.commit()
        return "", 200
    entry = db.session.get(LogEntry, found[0])
    with force_locale(locale_of(user)):
        if entry is not None and entry.user_id == user.id and entry.deleted_at is None:
            trash_entry(user, get_entry_for(user, entry.id, Action.WRITE), ctx=request_context())
            text = _("Undone: “%(title)s” is in your trash.", title=entry.title)
        else:
            text = _("Nothing to undo.")
        if response_url:
            jobs.enqueue(service.REPLY_TASK, response_url=response_url,
                         message={"response_type": "ephemeral", "replace_original": True, "text": text})
    db.session.commit()
    return "", 200


@bp.route("/slack/link/<token>", methods=["GET", "POST"])
@login_required
def slack_link(token: str) -> str | tuple[str, int]:
    """Tie the Slack user of a signed one-time link to your account."""
    data = service.read_link_token(token)
    if data is None:
        return render_template("integrations/slack_link.html", invalid=True), 404
    if request.method == "POST":
        service.link(me(), data)
        audit("integrations.slack_linked", target_type="user", target_id=me().id,
              details={"slack_team_id": data["t"], "slack_user_id": data["u"]})
        db.session.commit()
        return render_template("integrations/slack_link.html", invalid=False, done=True, data=data)
    return render_template("integrations/slack_link.html", invalid=False, done=False, data=data,
                           token=token)

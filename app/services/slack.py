"""Capture from Slack: the `/worklog <text>` slash command and the "Save to Worklog" message
shortcut, and the signed one-time link that ties a Slack user to a Worklog account.

Requests are verified with slack-sdk's SignatureVerifier (SLACK_SIGNING_SECRET; the timestamp
must be within 5 minutes) and each signature is accepted once (a replay inside the window is
refused: the signature is recorded in job_effects). The endpoint answers at once; structuring
and saving run as the job `slack.capture`, whose result (a link to the entry and an Undo
button) is posted to the request's `response_url` as an ephemeral message.

A Slack user is never matched to an account by e-mail: an unlinked user gets a signed link
(15 minutes, usable once) to open while signed in to Worklog.
"""

from __future__ import annotations

import json
import logging
import secrets
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.models import JobEffect, LogEntry, SlackLink, User
from app.services.outbound import parse_retry_after

log = logging.getLogger("app.slack")

LINK_SALT = "worklog-slack-link"
UNDO_SALT = "worklog-slack-undo"
LINK_MAX_AGE = 15 * 60
CAPTURE_TASK = "slack.capture"
REPLY_TASK = "slack.reply"
TEXT_MAX = 4000


def verify(body: bytes, timestamp: str | None, signature: str | None) -> bool:
    from slack_sdk.signature import SignatureVerifier

    secret = current_app.config.get("SLACK_SIGNING_SECRET")
    if not secret:
        return False
    try:
        return SignatureVerifier(secret).is_valid(body, timestamp, signature)
    except (ValueError, TypeError):
        return False


def claim_signature(signature: str) -> bool:
    """True the first time a signature is seen; a replayed request gets False."""
    try:
        with db.session.begin_nested():
            db.session.add(JobEffect(key=f"slack:request:{signature[-64:]}", task="slack.request"))
            db.session.flush()
    except IntegrityError:
        return False
    return True


def linked_user(team_id: str, slack_user_id: str) -> User | None:
    link = db.session.scalar(sa.select(SlackLink).where(
        SlackLink.slack_team_id == team_id, SlackLink.slack_user_id == slack_user_id))
    if link is None or not link.user.is_active:
        return None
    return link.user


# --- linking ------------------------------------------------------------------------------------


def link_token(team_id: str, slack_user_id: str) -> str:
    serializer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)
    return serializer.dumps({"t": team_id, "u": slack_user_id, "n": secrets.token_hex(8)})


def read_link_token(token: str) -> dict[str, str] | None:
    serializer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)
    try:
        data = serializer.loads(token[:600], max_age=LINK_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("t", "u", "n")):
        return None
    if db.session.get(JobEffect, f"slack:link:{data['n']}") is not None:
        return None  # used already
    return data


def link(user: User, data: dict[str, str]) -> SlackLink:
    """Tie the Slack identity to `user` (moving it from anyone else); the token is spent."""
    db.session.add(JobEffect(key=f"slack:link:{data['n']}", task="slack.link"))
    row = db.session.scalar(sa.select(SlackLink).where(
        SlackLink.slack_team_id == data["t"], SlackLink.slack_user_id == data["u"]))
    if row is None:
        row = SlackLink(user_id=user.id, slack_team_id=data["t"], slack_user_id=data["u"])
        db.session.add(row)
    else:
        row.user_id = user.id
    return row


def link_message(team_id: str, slack_user_id: str) -> dict[str, Any]:
    from app.services.mail import absolute

    url = absolute("integrations.slack_link", token=link_token(team_id, slack_user_id))
    return {"response_type": "ephemeral",
            "text": _("Link your Slack account to Worklog first (the link works once, for 15 "
                      "minutes, while you are signed in): %(url)s", url=url)}


# --- undo ---------------------------------------------------------------------------------------


def undo_token(entry_id: int, user_id: int) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNDO_SALT).dumps(
        {"e": entry_id, "u": user_id})


def read_undo_token(token: str) -> tuple[int, int] | None:
    try:
        data = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNDO_SALT).loads(token[:300])
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("e"), int) or not isinstance(data.get("u"), int):
        return None
    return data["e"], data["u"]


# --- replies ------------------------------------------------------------------------------------


def post_reply(response_url: str, message: dict[str, Any]) -> None:
    """POST to a response_url; RetryLater for 429/5xx/connection errors, GiveUp for others."""
    parts = urlsplit(response_url)
    if parts.scheme not in ("http", "https"):
        raise jobs.GiveUp("invalid response_url")
    host = (parts.hostname or "").lower()
    if current_app.config.get("APP_ENV") == "production" and not (
            parts.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com"))):
        # Only Slack's own reply addresses in production, however the request got signed.
        raise jobs.GiveUp("response_url is not a Slack address")
    request = urllib.request.Request(  # noqa: S310 - http(s) only, given by Slack in a signed request
        response_url, data=json.dumps(message).encode(), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "Worklog"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read(1024)
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise jobs.RetryLater(f"http_{exc.code}", parse_retry_after(
                exc.headers.get("Retry-After") if exc.headers else None, cap=600)) from None
        raise jobs.GiveUp(f"http_{exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise jobs.RetryLater(f"connection_error: {type(exc).__name__}") from None


def saved_message(entry: LogEntry, user: User) -> dict[str, Any]:
    from app.services.mail import absolute

    url = absolute("log.detail", entry_id=entry.id)
    title = entry.title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {
        "response_type": "ephemeral", "replace_original": False,
        "text": _("Saved to Worklog: %(title)s %(url)s", title=entry.title, url=url),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": _(
                "Saved to Worklog: *<%(url)s|%(title)s>*", url=url, title=title)}},
            {"type": "actions", "elements": [{
                "type": "button", "action_id": "worklog_undo", "style": "danger",
                "text": {"type": "plain_text", "text": _("Undo")},
                "value": undo_token(entry.id, user.id)}]},
        ],
    }


# --- jobs ---------------------------------------------------------------------------------------


@jobs.task(CAPTURE_TASK, queue="llm", max_attempts=4)
def capture(*, user_id: int, text: str, response_url: str, key: str) -> str:
    """Structure the text, save the entry, tell the user through response_url."""
    from app.services.capture import draft_from_text
    from app.services.context import NO_REQUEST
    from app.services.log.entries import create_entry, validate_entry
    from app.services.mail import locale_of

    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        return "no_user"
    done = db.session.get(JobEffect, key)
    entry_id = int(done.task.rpartition(":")[2]) if done is not None and ":" in done.task else None
    with force_locale(locale_of(user)):
        if entry_id is None:
            values = draft_from_text(user, text[:TEXT_MAX])
            values["work_date"] = user.today().isoformat()
            data, errors = validate_entry(values, user.today())
            if data is None:
                post_reply(response_url, {"response_type": "ephemeral",
                                          "text": _("That could not be saved: %(fields)s",
                                                    fields=", ".join(errors))})
                return "invalid"
            entry = create_entry(user, data, ctx=NO_REQUEST)
            db.session.flush()
            # The entry and the proof it exists commit together: a re-run only re-sends the reply.
            db.session.add(JobEffect(key=key, task=f"slack.capture:{entry.id}"))
            db.session.commit()
        else:
            entry = db.session.get(LogEntry, entry_id)
            if entry is None:
                return "gone"
        post_reply(response_url, saved_message(entry, user))
    return "saved"


@jobs.task(REPLY_TASK, queue="notifications", max_attempts=4)
def reply(*, response_url: str, message: dict) -> str:
    post_reply(response_url, message)
    return "sent"

"""Slack and Microsoft Teams notifications of weekly-review transitions, as background jobs.

    queue_review_event("approved", review_id=7, actor_id=3, url=..., comment=None)
    db.session.commit()

Called *before* the commit of the change: one job per configured destination
(SLACK_WEBHOOK_URL, TEAMS_WEBHOOK_URL) is enqueued in the same transaction (app.jobs), so a
rolled-back change sends nothing and a committed one is always sent, even if the web process
dies right after. The job (task `notify.review`, queue `notifications`) carries ids and the
event, reads the review when it runs (a deleted review makes it a logged no-op), and POSTs
with a timeout. 429 and 5xx and connection errors are retried by the job engine (exponential
back-off with jitter, never sooner than Retry-After) up to NOTIFY_MAX_ATTEMPTS; other answers
fail the job at once. The webhook URL is a secret: it is read from the configuration when the
job runs (never stored in the job) and only logged masked.

Idempotency: each (event, destination) has a key, sent as the `Idempotency-Key` header and
written to `job_effects` right after a 2xx. A job run again (its worker was killed after the
call, before the job was marked done) finds the key and sends nothing.

The messages are in English on purpose: they go to a shared team channel, not to one reader,
so they do not follow anyone's locale.

Why not a ThreadPoolExecutor: its workers are joined at interpreter exit, so a webhook that
hangs would hold up every CLI command and worker restart. Daemon threads are not; what must be
sent before exiting is flushed explicitly with `wait_for_notifications()`.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.services.outbound import mask_url, parse_retry_after

log = logging.getLogger("app.notify")

EVENTS = ("submitted", "approved", "changes_requested")
TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 5
RETRY_AFTER_MAX_SECONDS = 3600.0
TASK = "notify.review"
SERVICES = (("slack", "SLACK_WEBHOOK_URL"), ("teams", "TEAMS_WEBHOOK_URL"))
COMMENT_MAX = 1000

_HEADLINES = {
    "submitted": "{author} submitted their weekly review for {week}",
    "approved": "{actor} approved {author}'s weekly review for {week}",
    "changes_requested": "{actor} requested changes to {author}'s weekly review for {week}",
}
_SLACK_EMOJI = {"submitted": ":inbox_tray:", "approved": ":white_check_mark:",
                "changes_requested": ":pencil2:"}
_TEAMS_COLOR = {"submitted": "Accent", "approved": "Good", "changes_requested": "Warning"}


# -- payloads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewEvent:
    event: str
    author_name: str
    author_email: str
    week: str
    status: str
    actor_name: str
    url: str
    comment: str | None = None

    def headline(self, name: Any = str) -> str:
        return _HEADLINES[self.event].format(author=name(self.author_name), actor=name(self.actor_name),
                                             week=name(self.week))

    @property
    def short_comment(self) -> str:
        text = (self.comment or "").strip()
        return text if len(text) <= COMMENT_MAX else text[: COMMENT_MAX - 1].rstrip() + "…"


_MENTION_WORD = re.compile(r"@(?=(?:here|channel|everyone|all)\b)", re.IGNORECASE)


def _no_mentions(text: str) -> str:
    # A zero-width space after "@" keeps "@here" readable but never a mention, in either app.
    return _MENTION_WORD.sub("@\u200b", text)


def slack_text(text: str) -> str:
    """User text as Slack mrkdwn: no links, user/channel mentions or markup from it."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _no_mentions(escaped)


def _slack_url(url: str) -> str:
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def slack_payload(e: ReviewEvent) -> dict[str, Any]:
    """An incoming-webhook message: plain `text` (the notification) and Block Kit blocks."""
    headline = e.headline(slack_text)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            f"{_SLACK_EMOJI[e.event]} *{headline}*\n<{_slack_url(e.url)}|Open the review>")}},
    ]
    if e.short_comment:
        quoted = "\n".join("&gt; " + line for line in slack_text(e.short_comment).splitlines())
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": quoted}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        f"Status: {slack_text(e.status)} · Author: {slack_text(e.author_name)} "
        f"({slack_text(e.author_email)})")}]})
    return {"text": f"{headline}: {_slack_url(e.url)}", "blocks": blocks,
            "unfurl_links": False, "unfurl_media": False}


def _run(text: str, **style: Any) -> dict[str, Any]:
    # TextRun: Adaptive Cards never read Markdown in it, so user text stays plain text.
    return {"type": "TextRun", "text": _no_mentions(text), **style}


def teams_payload(e: ReviewEvent) -> dict[str, Any]:
    """A Teams incoming-webhook (or Workflows) message holding one Adaptive Card (1.4)."""
    body: list[dict[str, Any]] = [
        {"type": "RichTextBlock", "inlines": [
            _run(e.headline(), weight="Bolder", size="Medium", color=_TEAMS_COLOR[e.event])]},
    ]
    if e.short_comment:
        body.append({"type": "RichTextBlock", "inlines": [_run(e.short_comment, italic=True)]})
    body.append({"type": "RichTextBlock", "inlines": [_run(
        f"Status: {e.status} · Author: {e.author_name} ({e.author_email})", isSubtle=True,
        size="Small")]})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard", "version": "1.4", "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open the review", "url": e.url}],
        "msteams": {"width": "Full"},
    }
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}


# -- delivery ------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A webhook does not redirect; following one would resend (or drop) the POST elsewhere.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True)
class Outcome:
    sent: bool
    retryable: bool
    retry_after: float | None
    reason: str


def post(url: str, body: bytes, *, timeout: float, key: str) -> Outcome:
    """One POST of a JSON body; never raises for network or HTTP failures."""
    if urlsplit(url).scheme not in ("http", "https"):
        return Outcome(False, False, None, "invalid_url")
    request = urllib.request.Request(  # noqa: S310 - only http(s) gets here
        url, data=body, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "Worklog",
                 "Idempotency-Key": key})
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(1024)
            return Outcome(True, False, None, f"http_{response.status}")
    except urllib.error.HTTPError as exc:
        status = exc.code
        retryable = status == 429 or status >= 500
        wait = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None,
                                 cap=RETRY_AFTER_MAX_SECONDS) \
            if retryable else None
        return Outcome(False, retryable, wait, f"http_{status}")
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        kind = "timeout" if isinstance(reason, TimeoutError) else "connection_error"
        return Outcome(False, True, None, f"{kind}: {type(reason).__name__}")
    except ValueError:  # not a URL urllib can open; its message would contain the secret
        return Outcome(False, False, None, "invalid_url")


# -- queueing (in the caller's transaction) --------------------------------------------------


def destinations() -> list[tuple[str, str]]:
    cfg = current_app.config
    found = [(service, (cfg.get(key) or "").strip()) for service, key in SERVICES]
    return [(service, hook) for service, hook in found if hook]


def queue_review_event(event: str, *, review_id: int, actor_id: int, url: str,
                       comment: str | None = None) -> int:
    """Enqueue one notification job per configured destination; returns how many.

    Call it before committing the transition. `event` is one of EVENTS (anything else is a
    programming error: ValueError); `url` is the absolute link to the review.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown review event {event!r}; one of {', '.join(EVENTS)}")
    event_id = uuid.uuid4().hex
    targets = destinations()
    for service, _hook in targets:
        jobs.enqueue(TASK, review_id=review_id, event=event, actor_id=actor_id, url=url,
                     comment=(comment or None), service=service,
                     key=f"review.{event}:{review_id}:{event_id}:{service}")
    return len(targets)


# -- the job ---------------------------------------------------------------------------------


@jobs.task(TASK, queue="notifications", max_attempts=MAX_ATTEMPTS,
           attempts_setting="NOTIFY_MAX_ATTEMPTS")
def send_review_event(*, review_id: int, event: str, actor_id: int, url: str, service: str,
                      key: str, comment: str | None = None) -> str:
    """The job: POST one review event to one destination, at most one effect per key."""
    from app.models import JobEffect, User, WeeklyReview

    where = {"service": service, "review_event": event, "review_id": review_id}
    if db.session.get(JobEffect, key) is not None:
        log.info("notification already sent; nothing to do", extra=where)
        return "already_sent"
    review = db.session.get(WeeklyReview, review_id)
    if review is None:
        log.info("notification skipped: the review no longer exists", extra=where)
        return "gone"
    hook = dict(destinations()).get(service)
    if not hook:
        log.warning("notification skipped: %s is no longer configured", service, extra=where)
        return "not_configured"
    actor = db.session.get(User, actor_id)
    review_event = ReviewEvent(event, review.user.display_name or "", review.user.email or "",
                               review.week, event, actor.display_name if actor else "someone",
                               url, comment)
    builder = slack_payload if service == "slack" else teams_payload
    body = json.dumps(builder(review_event), ensure_ascii=False).encode()
    timeout = float(current_app.config.get("NOTIFY_TIMEOUT_SECONDS") or TIMEOUT_SECONDS)
    outcome = post(hook, body, timeout=timeout, key=key)
    where["webhook"] = mask_url(hook, secret_path=True)
    if outcome.sent:
        db.session.add(JobEffect(key=key, task=TASK))
        try:
            db.session.commit()
        except IntegrityError:  # a concurrent run of the same job recorded it first
            db.session.rollback()
        log.info("notification sent", extra=where)
        return "sent"
    log.warning("notification attempt failed: %s", outcome.reason, extra=where)
    if outcome.retryable:
        raise jobs.RetryLater(outcome.reason, outcome.retry_after)
    raise jobs.GiveUp(f"{outcome.reason} from {mask_url(hook, secret_path=True)}")

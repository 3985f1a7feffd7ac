"""Slack and Microsoft Teams notifications of weekly-review transitions, sent in the background.

    notify_review_event(current_app._get_current_object(), "approved", author_name=...,
                        author_email=..., week="2026-W47", status="approved",
                        actor_name=..., url=..., comment=None)

Sent when SLACK_WEBHOOK_URL and/or TEAMS_WEBHOOK_URL are set, each in its service's own
format. The caller never waits and never fails for it: messages are queued to a few daemon
worker threads, each POST has a timeout and a few retries with back-off (honouring
Retry-After, capped), and a failure is only logged (logger "app.notify", with the webhook URL
masked: it is a secret). `wait_for_notifications()` flushes the queue (tests, CLI commands).

The messages are in English on purpose: they go to a shared team channel, not to one reader,
so they do not follow anyone's locale.

Why not a ThreadPoolExecutor: its workers are joined at interpreter exit, so a webhook that
hangs would hold up every CLI command and worker restart. Daemon threads are not; what must be
sent before exiting is flushed explicitly with `wait_for_notifications()`.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from app.services.outbound import mask_url, parse_retry_after

log = logging.getLogger("app.notify")

EVENTS = ("submitted", "approved", "changes_requested")
WORKERS = 2
QUEUE_MAX = 200  # beyond this a burst is dropped (and logged) rather than piling up memory
TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 1.0  # 1 s, then 2 s, ...
RETRY_AFTER_MAX_SECONDS = 30.0
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


@dataclass(frozen=True)
class Delivery:
    service: str  # "slack" or "teams"
    event: str
    url: str
    body: bytes
    timeout: float
    attempts: int
    backoff: float
    retry_after_max: float


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A webhook does not redirect; following one would resend (or drop) the POST elsewhere.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(delivery: Delivery) -> tuple[bool, bool, float | None, str]:
    """One attempt: (sent, retryable, retry_after, reason)."""
    request = urllib.request.Request(  # noqa: S310 - deliver() lets only http(s) through
        delivery.url, data=delivery.body, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "Worklog"})
    try:
        with _opener.open(request, timeout=delivery.timeout) as response:
            response.read(1024)
            return True, False, None, f"http_{response.status}"
    except urllib.error.HTTPError as exc:
        status = exc.code
        retryable = status == 429 or status >= 500
        wait = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None,
                                 cap=delivery.retry_after_max) if retryable else None
        return False, retryable, wait, f"http_{status}"
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        kind = "timeout" if isinstance(reason, TimeoutError) else "connection_error"
        return False, True, None, f"{kind}: {type(reason).__name__}"
    except ValueError:  # not a URL urllib can open; its message would contain the secret
        return False, False, None, "invalid_url"


def deliver(delivery: Delivery) -> bool:
    """POST with retries on connection errors, timeouts, 429 and 5xx. Logs; never raises."""
    where = {"service": delivery.service, "review_event": delivery.event,
             "webhook": mask_url(delivery.url, secret_path=True)}
    if urlsplit(delivery.url).scheme not in ("http", "https"):
        log.error("notification not sent: the webhook URL is not http(s)", extra=where)
        return False
    reason = "not_tried"
    for attempt in range(1, delivery.attempts + 1):
        sent, retryable, wait, reason = _post(delivery)
        if sent:
            log.info("notification sent", extra={**where, "attempts": attempt})
            return True
        if not retryable or attempt == delivery.attempts:
            break
        if wait is None:
            wait = delivery.backoff * 2 ** (attempt - 1)
        log.warning("notification attempt %d failed (%s); retrying in %.1f s", attempt, reason,
                    wait, extra=where)
        time.sleep(wait)
    log.error("notification failed after %d attempt(s): %s", attempt, reason,
              extra={**where, "attempts": attempt, "reason": reason})
    return False


# -- the background queue ------------------------------------------------------------------


class _Outbox:
    """A bounded queue served by a few daemon threads, with a count of unfinished sends."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Delivery] = queue.Queue(maxsize=QUEUE_MAX)
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.unfinished = 0
        self.threads: list[threading.Thread] = []

    def put(self, delivery: Delivery) -> bool:
        with self.lock:
            self.threads = [t for t in self.threads if t.is_alive()]
            while len(self.threads) < WORKERS:
                thread = threading.Thread(target=self._work, name="notify", daemon=True)
                thread.start()
                self.threads.append(thread)
            self.unfinished += 1
        try:
            self.queue.put_nowait(delivery)
        except queue.Full:
            self._done()
            log.error("notification dropped: %d are already waiting to be sent", QUEUE_MAX,
                      extra={"service": delivery.service, "review_event": delivery.event})
            return False
        return True

    def _work(self) -> None:
        while True:
            delivery = self.queue.get()
            try:
                deliver(delivery)
            except Exception as exc:  # noqa: BLE001 - a bug here must not kill the worker
                log.error("notification failed unexpectedly: %s", type(exc).__name__,
                          extra={"service": delivery.service, "review_event": delivery.event})
            finally:
                self._done()

    def _done(self) -> None:
        with self.idle:
            self.unfinished -= 1
            if self.unfinished <= 0:
                self.idle.notify_all()

    def wait(self, timeout: float | None) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: self.unfinished <= 0, timeout=timeout)


_outbox = _Outbox()


def _reset_after_fork() -> None:
    # Threads do not survive fork (gunicorn workers); neither may a lock held at that moment.
    global _outbox
    _outbox = _Outbox()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def wait_for_notifications(timeout: float | None = 30.0) -> bool:
    """Block until every queued notification is sent or given up; False if `timeout` ran out."""
    return _outbox.wait(timeout)


def notify_review_event(app: Flask, event: str, *, author_name: str, author_email: str,
                        week: str, status: str, actor_name: str, url: str,
                        comment: str | None = None) -> None:
    """Queue a Slack and/or Teams message about a review transition; returns at once.

    `event` is one of EVENTS (an unknown one is a programming error: ValueError). `url` is the
    absolute link to the review. Nothing is sent when neither webhook is configured.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown review event {event!r}; one of {', '.join(EVENTS)}")
    cfg = app.config
    targets = [(service, cfg.get(key)) for service, key in
               (("slack", "SLACK_WEBHOOK_URL"), ("teams", "TEAMS_WEBHOOK_URL"))]
    targets = [(service, hook.strip()) for service, hook in targets if hook and hook.strip()]
    if not targets:
        return
    review = ReviewEvent(event, author_name or "", author_email or "", week or "", status or "",
                         actor_name or "", url or "", comment)
    builders = {"slack": slack_payload, "teams": teams_payload}
    for service, hook in targets:
        try:
            body = json.dumps(builders[service](review), ensure_ascii=False).encode()
            _outbox.put(Delivery(
                service=service, event=event, url=hook, body=body,
                timeout=float(cfg.get("NOTIFY_TIMEOUT_SECONDS") or TIMEOUT_SECONDS),
                attempts=int(cfg.get("NOTIFY_MAX_ATTEMPTS") or MAX_ATTEMPTS),
                backoff=float(cfg.get("NOTIFY_BACKOFF_SECONDS", BACKOFF_SECONDS)),
                retry_after_max=float(cfg.get("NOTIFY_RETRY_AFTER_MAX_SECONDS",
                                              RETRY_AFTER_MAX_SECONDS)),
            ))
        except Exception as exc:  # noqa: BLE001 - a notification must never fail the action
            log.error("notification not queued: %s", type(exc).__name__,
                      extra={"service": service, "review_event": event})

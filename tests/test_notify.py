"""Slack and Teams notifications of review transitions, against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask

from app.services.reviews.notify import EVENTS, notify_review_event, wait_for_notifications

REVIEW_URL = "https://worklog.example.com/reviews/r/42"


class Receiver:
    """A webhook endpoint: records each POST and answers with scripted statuses (then 200).

    A status of "hang" holds the answer until `release` is set.
    """

    def __init__(self, path: str = "/services/T000/B000/s3cr3t-hook-token") -> None:
        self.path = path
        self.bodies: list[Any] = []
        self.script: deque[int | str] = deque()
        self.retry_after: str | None = None
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.bodies.append(json.loads(raw))
                receiver.arrived.set()
                status = receiver.script.popleft() if receiver.script else 200
                if status == "hang":
                    receiver.release.wait(30)
                    status = 200
                self.send_response(int(status))
                if receiver.retry_after and status != 200:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        return Handler

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def slack() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def teams() -> Iterator[Receiver]:
    with Receiver("/webhookb2/abc@def/IncomingWebhook/s3cr3t/xyz") as receiver:
        yield receiver


def make_app(**config: Any) -> Flask:
    """Only configuration is read, so a bare Flask app is the real thing here."""
    app = Flask("notify-test")
    app.config.update({"NOTIFY_TIMEOUT_SECONDS": 2, "NOTIFY_BACKOFF_SECONDS": 0.05, **config})
    return app


def notify(app: Flask, event: str = "approved", **overrides: Any) -> None:
    fields = {"author_name": "Mina Member", "author_email": "mina@example.com", "week": "2026-W47",
              "status": event, "actor_name": "Lee Lead", "url": REVIEW_URL, "comment": None}
    notify_review_event(app, event, **{**fields, **overrides})


@pytest.fixture(autouse=True)
def flushed() -> Iterator[None]:
    yield
    assert wait_for_notifications(15), "notifications were still being sent after the test"


def all_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_it_posts_a_slack_message_with_text_and_blocks(slack: Receiver) -> None:
    notify(make_app(SLACK_WEBHOOK_URL=slack.url), "approved")
    assert wait_for_notifications(10)
    [body] = slack.bodies
    assert body["text"].startswith("Lee Lead approved Mina Member's weekly review for 2026-W47")
    section = body["blocks"][0]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert f"<{REVIEW_URL}|Open the review>" in section["text"]["text"]
    assert "mina@example.com" in all_text(body["blocks"])


def test_it_posts_a_teams_adaptive_card(teams: Receiver) -> None:
    notify(make_app(TEAMS_WEBHOOK_URL=teams.url), "changes_requested", comment="Add the numbers.")
    assert wait_for_notifications(10)
    [body] = teams.bodies
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and float(card["version"]) >= 1.4
    texts = [run["text"] for block in card["body"] for run in block["inlines"]]
    assert texts[0] == "Lee Lead requested changes to Mina Member's weekly review for 2026-W47"
    assert "Add the numbers." in texts
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the review", "url": REVIEW_URL}]


@pytest.mark.parametrize("event", EVENTS)
def test_it_sends_to_both_when_both_are_set(slack: Receiver, teams: Receiver, event: str) -> None:
    notify(make_app(SLACK_WEBHOOK_URL=slack.url, TEAMS_WEBHOOK_URL=teams.url), event)
    assert wait_for_notifications(10)
    assert len(slack.bodies) == 1 and len(teams.bodies) == 1
    assert "2026-W47" in slack.bodies[0]["text"]
    assert "2026-W47" in all_text(teams.bodies[0])


def test_a_submission_names_the_author(slack: Receiver) -> None:
    notify(make_app(SLACK_WEBHOOK_URL=slack.url), "submitted", actor_name="Mina Member")
    assert wait_for_notifications(10)
    assert slack.bodies[0]["text"].startswith("Mina Member submitted their weekly review for 2026-W47")


def test_nothing_is_sent_when_no_webhook_is_set(slack: Receiver) -> None:
    notify(make_app(SLACK_WEBHOOK_URL="", TEAMS_WEBHOOK_URL=None))
    assert wait_for_notifications(10)
    assert slack.bodies == []


def test_a_500_is_retried_and_then_delivered(slack: Receiver, caplog) -> None:
    slack.script.extend([500, 503])
    with caplog.at_level(logging.INFO, logger="app.notify"):
        notify(make_app(SLACK_WEBHOOK_URL=slack.url))
        assert wait_for_notifications(10)
    assert len(slack.bodies) == 3 and slack.bodies[0] == slack.bodies[2]
    assert any(r.message == "notification sent" and r.attempts == 3 for r in caplog.records)


def test_a_429_waits_for_retry_after(slack: Receiver) -> None:
    slack.script.append(429)
    slack.retry_after = "0"
    notify(make_app(SLACK_WEBHOOK_URL=slack.url, NOTIFY_BACKOFF_SECONDS=60))
    # Retry-After 0 beats a minute's back-off: the retry comes at once.
    assert wait_for_notifications(10)
    assert len(slack.bodies) == 2


def test_it_gives_up_after_the_last_attempt_and_logs_without_the_secret(slack: Receiver,
                                                                         caplog) -> None:
    slack.script.extend([500, 500, 500, 500])
    with caplog.at_level(logging.INFO, logger="app.notify"):
        notify(make_app(SLACK_WEBHOOK_URL=slack.url))  # does not raise
        assert wait_for_notifications(10)
    assert len(slack.bodies) == 3
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "after 3 attempt(s): http_500" in failure.getMessage()
    assert failure.webhook.startswith("http://127.0.0.1:") and failure.webhook.endswith("/******")
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "s3cr3t" not in logged and slack.path not in logged


def test_a_client_error_is_not_retried(slack: Receiver, caplog) -> None:
    slack.script.append(404)
    with caplog.at_level(logging.ERROR, logger="app.notify"):
        notify(make_app(SLACK_WEBHOOK_URL=slack.url))
        assert wait_for_notifications(10)
    assert len(slack.bodies) == 1
    assert "http_404" in caplog.records[-1].getMessage()


def test_an_unreachable_webhook_is_logged_not_raised(caplog) -> None:
    with Receiver() as gone:
        url = gone.url  # a port that nobody listens on once the receiver is closed
    with caplog.at_level(logging.ERROR, logger="app.notify"):
        notify(make_app(TEAMS_WEBHOOK_URL=url))
        assert wait_for_notifications(10)
    [failure] = caplog.records
    assert "connection_error" in failure.getMessage() and failure.service == "teams"
    assert "s3cr3t" not in failure.getMessage()


def test_a_bad_webhook_url_is_logged_without_the_url(caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="app.notify"):
        notify(make_app(SLACK_WEBHOOK_URL="ftp://hooks.example.com/s3cr3t"))
        assert wait_for_notifications(10)
    [failure] = caplog.records
    assert "not http(s)" in failure.getMessage() and "s3cr3t" not in str(vars(failure))


def test_a_hanging_webhook_does_not_hold_up_the_caller(slack: Receiver) -> None:
    slack.script.append("hang")
    notify(make_app(SLACK_WEBHOOK_URL=slack.url, NOTIFY_TIMEOUT_SECONDS=30))
    # The call has returned while its message is still on the way: the receiver holds it.
    assert slack.arrived.wait(10)
    assert wait_for_notifications(0) is False
    slack.release.set()
    assert wait_for_notifications(10)
    assert len(slack.bodies) == 1


def test_an_unknown_event_is_a_programming_error(slack: Receiver) -> None:
    with pytest.raises(ValueError):
        notify(make_app(SLACK_WEBHOOK_URL=slack.url), "deleted")


HOSTILE = "<script>alert(1)</script> <!channel> @here <@U024BE7LH> [click](https://evil.example) &amp;"


def test_hostile_text_is_neutralised_for_slack(slack: Receiver) -> None:
    notify(make_app(SLACK_WEBHOOK_URL=slack.url), "changes_requested",
           author_name="Eve <!everyone>", comment=HOSTILE)
    assert wait_for_notifications(10)
    sent = all_text(slack.bodies[0])
    for live in ("<script>", "<!channel>", "<!everyone>", "<@U024BE7LH>", "@here"):
        assert live not in sent
    assert "&lt;script&gt;" in sent and "&lt;!channel&gt;" in sent
    assert "@\u200bhere" in sent  # still readable, never a mention
    assert "&amp;amp;" in sent  # a literal "&amp;" typed by the user stays literal
    # The only link is ours.
    links = [b["text"]["text"] for b in slack.bodies[0]["blocks"] if b["type"] == "section"]
    assert sum(text.count("<") for text in links) == 1


def test_hostile_text_is_plain_text_for_teams(teams: Receiver) -> None:
    notify(make_app(TEAMS_WEBHOOK_URL=teams.url), "changes_requested", comment=HOSTILE)
    assert wait_for_notifications(10)
    card = teams.bodies[0]["attachments"][0]["content"]
    # Adaptive Cards read no Markdown in a TextRun, and user text is only ever in TextRuns.
    elements = [block["type"] for block in card["body"]]
    assert set(elements) == {"RichTextBlock"}
    runs = [run for block in card["body"] for run in block["inlines"]]
    assert all(run["type"] == "TextRun" for run in runs)
    comment = next(run["text"] for run in runs if "script" in run["text"])
    assert "@\u200bhere" in comment and "@here" not in comment

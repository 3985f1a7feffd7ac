"""Slack and Teams messages (payloads) and one delivery attempt (`post`), against real HTTP
receivers on 127.0.0.1. The job around it (queueing, retries, idempotency) is in test_jobs*.py."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from app.services.outbound import parse_retry_after
from app.services.reviews.notify import ReviewEvent, post, slack_payload, teams_payload
from tests.fake_http import LoopbackServer

REVIEW_URL = "https://worklog.example.com/reviews/r/42"


class Receiver(LoopbackServer):
    """A webhook endpoint: records each POST and answers with scripted statuses (then 200).

    A status of "hang" holds the answer until `release` is set.
    """

    def __init__(self, path: str = "/services/T000/B000/s3cr3t-hook-token") -> None:
        self.path = path
        self.bodies: list[Any] = []
        self.keys: list[str | None] = []  # Idempotency-Key of each request, in order
        self.times: list[float] = []  # time.monotonic() of each arrival
        self.script: deque[int | str] = deque()
        self.retry_after: str | None = None
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._serve_with(self._handler())

    @property
    def url(self) -> str:
        return self.base + self.path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.bodies.append(json.loads(raw))
                receiver.keys.append(self.headers.get("Idempotency-Key"))
                receiver.times.append(time.monotonic())
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

    @property
    def effects(self) -> int:
        """Distinct effects, as a receiver honouring Idempotency-Key counts them."""
        return len(set(self.keys))

    def __exit__(self, *exc: object) -> None:
        self.release.set()  # a "hang" answer must not hold up the shutdown
        super().__exit__(*exc)


@pytest.fixture
def slack() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


EVENT = ReviewEvent("approved", "Mina Member", "mina@example.com", "2026-W47", "approved",
                    "Lee Lead", REVIEW_URL, "Good week")


def send(receiver: Receiver, body: dict | None = None, **kwargs: Any):
    payload = json.dumps(body or slack_payload(EVENT)).encode()
    return post(receiver.url, payload, timeout=kwargs.pop("timeout", 3.0), key="k-1", **kwargs)


def test_a_slack_message_has_text_blocks_and_the_link() -> None:
    body = slack_payload(EVENT)
    assert "Lee Lead approved Mina Member's weekly review for 2026-W47" in body["text"]
    assert REVIEW_URL in json.dumps(body) and body["unfurl_links"] is False
    assert any("Good week" in json.dumps(block) for block in body["blocks"])


def test_a_teams_message_is_an_adaptive_card() -> None:
    body = teams_payload(EVENT)
    card = body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"] == REVIEW_URL


def test_hostile_text_is_neutralised_for_slack() -> None:
    hostile = ReviewEvent("submitted", "<!channel> @here <http://evil|x>", "a@b.c", "2026-W47",
                          "submitted", "x", REVIEW_URL)
    text = json.dumps(slack_payload(hostile))
    assert "<!channel>" not in text and "@here" not in text and "<http://evil" not in text


def test_a_delivery_sends_the_body_and_the_idempotency_key(slack: Receiver) -> None:
    outcome = send(slack)
    assert outcome.sent and outcome.reason == "http_200"
    assert slack.bodies == [slack_payload(EVENT)] and slack.keys == ["k-1"]


def test_a_500_is_retryable(slack: Receiver) -> None:
    slack.script.append(500)
    outcome = send(slack)
    assert not outcome.sent and outcome.retryable and outcome.reason == "http_500"


def test_a_429_carries_its_retry_after(slack: Receiver) -> None:
    slack.script.append(429)
    slack.retry_after = "7"
    outcome = send(slack)
    assert outcome.retryable and outcome.retry_after == 7.0


def test_retry_after_as_an_http_date_and_capped() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("999999", cap=60) == 60
    assert parse_retry_after("soon") is None


def test_a_client_error_is_permanent(slack: Receiver) -> None:
    slack.script.append(404)
    outcome = send(slack)
    assert not outcome.sent and not outcome.retryable


def test_an_unreachable_webhook_is_retryable_and_a_bad_url_is_not() -> None:
    with Receiver() as gone:
        url = gone.url
    down = post(url, b"{}", timeout=2, key="k")
    assert not down.sent and down.retryable and down.reason.startswith("connection_error")
    bad = post("ftp://hooks.example.com/secret", b"{}", timeout=2, key="k")
    assert not bad.sent and not bad.retryable and bad.reason == "invalid_url"

"""Review transitions reach Slack and Teams (a real local receiver), after the change is saved,
and a broken webhook never gets in the user's way."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app import jobs
from tests.llm_server import WEEK
from tests.test_notify import Receiver


@pytest.fixture
def hooks() -> Iterator[tuple[Receiver, Receiver]]:
    """A Slack and a Teams webhook receiver."""
    with Receiver() as slack, Receiver("/webhookb2/abc/IncomingWebhook/s3cr3t") as teams:
        yield slack, teams


@pytest.fixture
def config_overrides(hooks: tuple[Receiver, Receiver]) -> dict:
    slack, teams = hooks
    return {"SLACK_WEBHOOK_URL": slack.url, "TEAMS_WEBHOOK_URL": teams.url,
            "NOTIFY_TIMEOUT_SECONDS": 2, "JOBS_RETRY_BASE_SECONDS": 0.05,
            "LOGIN_RATE_LIMIT": "1000/minute", "SERVER_NAME": "worklog.test"}


def text(receiver: Receiver) -> list[str]:
    return [json.dumps(body, ensure_ascii=False) for body in receiver.bodies]


def test_submit_request_changes_and_approve_are_each_sent_to_both(app, client, auth, actors, hooks):
    slack, teams = hooks
    auth.login_as(actors.member)
    client.post_form(f"/reviews/{WEEK}", {"body": "Shipped.", "version": "0", "action": "submit"})
    auth.logout()
    auth.login_as(actors.lead)
    client.post_form("/reviews/r/1/request-changes", {"comment": "Numbers, please."})
    auth.logout()
    auth.login_as(actors.member)
    client.post_form(f"/reviews/{WEEK}", {"body": "Shipped 3 things.", "version": "1", "action": "submit"})
    auth.logout()
    auth.login_as(actors.lead)
    client.post_form("/reviews/r/1/approve", {"comment": ""})
    assert jobs.drain(app)
    assert len(slack.bodies) == 4 and len(teams.bodies) == 4
    sent = text(slack)
    assert "submitted" in sent[0] and WEEK in sent[0] and "Mina Member" in sent[0]
    assert "Numbers, please." in sent[1]
    assert "approved" in sent[3]
    assert "http://worklog.test/reviews/r/1" in sent[3]
    assert slack.bodies[0].get("text") and teams.bodies[0]["type"] == "message"
    assert teams.bodies[0]["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"


def test_saving_a_draft_and_refused_actions_send_nothing(app, client, auth, actors, hooks):
    slack, teams = hooks
    auth.login_as(actors.member)
    client.post_form(f"/reviews/{WEEK}", {"body": "Just a draft.", "version": "0"})
    client.post_form(f"/reviews/{WEEK}", {"body": "stale", "version": "0", "action": "submit"})
    assert jobs.drain(app)
    assert slack.bodies == [] and teams.bodies == []


def test_a_failing_webhook_does_not_fail_the_action(app, client, auth, actors, hooks):
    slack, teams = hooks
    slack.script.extend([500, 500, 500])
    teams.script.append("hang")
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}", {"body": "Shipped.", "version": "0",
                                                      "action": "submit"})
    assert response.status_code == 302  # answered while Teams still holds the request
    assert "submitted" in client.get(response.headers["Location"]).get_data(as_text=True).lower()
    teams.release.set()
    assert jobs.drain(app)

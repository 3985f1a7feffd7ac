"""Capture from Slack: real HMAC-signed requests against the real endpoints, the reply to a
local response_url receiver, linking through a signed one-time link, Undo."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from app import jobs
from app.extensions import db
from app.models import LogEntry, SlackLink
from tests.slack_support import SIGNING_SECRET, SlackStandIn, sign

COMMANDS = "/integrations/slack/commands"
INTERACTIONS = "/integrations/slack/interactions"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def config_overrides() -> dict:
    return {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SERVER_NAME": "worklog.test",
            "LOGIN_RATE_LIMIT": "1000/minute"}


def command(client, slack: SlackStandIn, text: str, *, user: str = "U0MINA", ts: int | None = None,
            secret: str = SIGNING_SECRET, headers: dict | None = None):
    body = urlencode({"token": "legacy", "team_id": "T0001", "user_id": user, "command": "/worklog",
                      "text": text, "response_url": slack.response_url(user)})
    sent = headers or sign(body, ts, secret)
    return client.post(COMMANDS, data=body, headers=sent), body, sent


def interaction(client, payload: dict):
    body = urlencode({"payload": json.dumps(payload)})
    return client.post(INTERACTIONS, data=body, headers=sign(body))


def link(app, user, slack_user: str = "U0MINA") -> None:
    with app.app_context():
        db.session.add(SlackLink(user_id=user.id, slack_team_id="T0001", slack_user_id=slack_user))
        db.session.commit()


def entries(app, **where) -> list[LogEntry]:
    with app.app_context():
        rows = db.session.scalars(sa.select(LogEntry).filter_by(**where).order_by(LogEntry.id)).all()
        db.session.expunge_all()
        return rows


def test_worklog_command_saves_an_entry_and_replies_with_a_link_and_undo(app, client, actors, slack):
    link(app, actors.member)
    response, _, _ = command(client, slack, "fixed the flaky test in the payments suite")
    assert response.status_code == 200
    assert response.json["response_type"] == "ephemeral" and "Saving" in response.json["text"]
    assert jobs.drain(app)
    [reply] = slack.wait("/commands/T0001/U0MINA")
    [entry] = entries(app, user_id=actors.member.id)
    assert "flaky test" in (entry.title + entry.situation + entry.action).lower()
    assert reply["response_type"] == "ephemeral"
    assert f"http://worklog.test/log/entries/{entry.id}" in json.dumps(reply)
    undo = reply["blocks"][1]["elements"][0]
    assert undo["action_id"] == "worklog_undo"

    # Another Slack user pressing the same button changes nothing.
    link(app, actors.outsider, "U0OUT")
    payload = {"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "U0OUT"},
               "response_url": slack.response_url("undo-out"), "actions": [undo]}
    assert interaction(client, payload).status_code == 200
    assert entries(app, id=entry.id)[0].deleted_at is None
    # The author's Undo puts it in the trash.
    payload["user"] = {"id": "U0MINA"}
    payload["response_url"] = slack.response_url("undo")
    assert interaction(client, payload).status_code == 200
    assert entries(app, id=entry.id)[0].deleted_at is not None
    assert jobs.drain(app)
    [undone] = slack.wait("/commands/T0001/undo")
    assert "trash" in undone["text"]


def test_the_message_shortcut_saves_the_message(app, client, actors, slack):
    link(app, actors.member)
    payload = {"type": "message_action", "callback_id": "save_to_worklog", "team": {"id": "T0001"},
               "user": {"id": "U0MINA"}, "response_url": slack.response_url("shortcut"),
               "message": {"text": "Rolled out the new rate limiter to all regions", "ts": "1.1"}}
    response = interaction(client, payload)
    assert response.status_code == 200 and "Saving" in response.json["text"]
    assert jobs.drain(app)
    slack.wait("/commands/T0001/shortcut")
    [entry] = entries(app, user_id=actors.member.id)
    assert "rate limiter" in (entry.title + entry.situation + entry.action).lower()


def test_wrong_signature_stale_timestamp_and_replay_are_refused(app, client, actors, slack):
    link(app, actors.member)
    bad, _, _ = command(client, slack, "nope", secret="not-the-secret")
    assert bad.status_code == 401
    stale, _, _ = command(client, slack, "old", ts=int(time.time()) - 6 * 60)
    assert stale.status_code == 401
    good, body, headers = command(client, slack, "only once")
    assert good.status_code == 200
    replay = client.post(COMMANDS, data=body, headers=headers)
    assert replay.status_code == 401
    unsigned = client.post(COMMANDS, data=body)
    assert unsigned.status_code == 401
    assert jobs.drain(app)
    assert len(entries(app, user_id=actors.member.id)) == 1


def test_an_unlinked_slack_user_gets_a_one_time_link_and_never_an_email_match(app, client, auth,
                                                                               actors, slack):
    # The Slack profile's e-mail would match member@example.com: it is never used.
    response, _, _ = command(client, slack, "should not be saved")
    assert response.status_code == 200
    url = re.search(r"http://worklog\.test(/integrations/slack/link/\S+)", response.json["text"])[1]
    assert jobs.drain(app)
    assert entries(app) == []

    assert client.get(url).status_code == 302  # sign in first
    auth.login_as(actors.member)
    page = client.get(url).get_data(as_text=True)
    assert "U0MINA" in page and "member@example.com" in page
    assert client.post_form(url).status_code == 200
    assert client.get(url).status_code == 404  # used once
    with app.app_context():
        assert db.session.scalar(sa.select(SlackLink.user_id)) == actors.member.id
    command(client, slack, "now it counts")
    assert jobs.drain(app)
    assert len(entries(app, user_id=actors.member.id)) == 1


def test_a_forged_link_token_is_refused(app, client, auth, actors):
    auth.login_as(actors.member)
    assert client.get("/integrations/slack/link/forged.token").status_code == 404


def test_without_a_signing_secret_nothing_is_accepted(app, client, actors, slack):
    app.config["SLACK_SIGNING_SECRET"] = None
    response, _, _ = command(client, slack, "no secret configured")
    assert response.status_code == 401


def test_in_production_only_slack_reply_addresses_are_called(app, slack):
    from app.services.slack import post_reply

    app.config["APP_ENV"] = "production"
    with app.app_context(), pytest.raises(jobs.GiveUp):
        post_reply(slack.response_url("prod"), {"text": "x"})
    assert slack.posted("/commands/T0001/prod") == []

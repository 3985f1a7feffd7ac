"""The issue's demo, on PostgreSQL with a `flask jobs worker` process running: a lead requesting
changes lights the member's bell and e-mails the local SMTP server; the member's Friday
reminder arrives once; a signed `/worklog` becomes an entry; the GitHub stand-in fills the
suggestion tray and accepting one makes an entry."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from app import create_app, jobs
from app.extensions import db
from app.models import LogEntry, Role, SlackLink, Suggestion, Team, User
from tests.conftest import (
    AuthActions,
    Client,
    _base_config,
    password_hash,
)
from tests.jobs_support import scratch_database, start_worker, wait_for
from tests.mail_support import Mailbox
from tests.repos_support import RepoStandIn
from tests.slack_support import SIGNING_SECRET, SlackStandIn, sign

WEEK = "2026-W47"
FRIDAY_AFTERNOON = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # the member is in UTC


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory, "the demo tests") as url:
        yield url


def test_the_demo_with_a_worker_running(scratch: str, tmp_path: Path):
    with Mailbox() as mailbox, SlackStandIn() as slack, RepoStandIn() as forge:
        settings = {"SMTP_URL": mailbox.url, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "BASE_URL": "http://worklog.test", "LOGIN_RATE_LIMIT": "1000/minute",
                    "INTEGRATIONS_KEY": "demo-integrations-key-0123456789abcdef"}
        app = create_app({**_base_config(scratch, tmp_path), **settings})
        app.test_client_class = Client
        with app.app_context():
            team = Team(name="Payments")
            member = User(email="mina@example.com", display_name="Mina Member", team=team,
                          password_hash=password_hash(), role=Role.MEMBER.value)
            lead = User(email="lee@example.com", display_name="Lee Lead", team=team,
                        password_hash=password_hash(), role=Role.LEAD.value)
            db.session.add_all([team, member, lead])
            db.session.flush()
            db.session.add(SlackLink(user_id=member.id, slack_team_id="T0001", slack_user_id="U0MINA"))
            db.session.commit()
            for user in (member, lead):
                db.session.refresh(user)
            db.session.expunge_all()
        # Web and worker share SECRET_KEY (signed links) and INTEGRATIONS_KEY (tokens), as in a deploy.
        env = {**{k: str(v) for k, v in settings.items()}, "SECRET_KEY": app.config["SECRET_KEY"],
               "INTEGRATIONS_KEY": app.config["INTEGRATIONS_KEY"]}
        worker = start_worker(tmp_path, scratch, env=env)
        client = app.test_client()
        auth = AuthActions(client)
        try:
            # 1. Changes requested: the member's bell and an e-mail.
            auth.login_as(member)
            client.post_form(f"/reviews/{WEEK}", {"body": "Shipped.", "version": "0", "action": "submit"})
            auth.login_as(lead)
            client.post_form("/reviews/r/1/request-changes", {"comment": "Numbers, please."})
            wait_for(lambda: [m for m in mailbox.to("mina@example.com")
                              if "requested changes" in m["Subject"]], what="the e-mail to the member")
            auth.login_as(member)
            assert 'data-count="1"' in client.get("/notifications/badge",
                                                  headers={"HX-Request": "true"}).get_data(as_text=True)
            # The worker signed the unsubscribe link; the web app honours it without a session.
            [message] = [m for m in mailbox.to("mina@example.com") if "requested changes" in m["Subject"]]
            link = message["List-Unsubscribe"].strip("<>").replace("http://worklog.test", "")
            assert app.test_client().post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200

            # 2. The Friday reminder, once, though the tick is deferred twice.
            with app.app_context():
                for _ in range(2):
                    jobs.enqueue("reminders.scan", timestamp=int(FRIDAY_AFTERNOON.timestamp()))
                db.session.commit()

            def reminders() -> list:
                return [m for m in mailbox.to("mina@example.com") if "ready to draft/submit" in m["Subject"]]
            wait_for(reminders, what="the Friday reminder")

            # 3. /worklog from a signed Slack request.
            body = urlencode({"team_id": "T0001", "user_id": "U0MINA", "command": "/worklog",
                              "text": "fixed the flaky test", "response_url": slack.response_url()})
            answer = client.post("/integrations/slack/commands", data=body, headers=sign(body))
            assert answer.status_code == 200 and "Saving" in answer.json["text"]
            slack.wait("/commands/T0001/r1")

            # 4. The GitHub stand-in fills the tray; accepting one makes an entry.
            client.post_form("/account/integrations/github",
                             {"token": "ghp_octo_token_0000000000000000", "base_url": forge.base})

            def suggested() -> list:
                with app.app_context():
                    return db.session.scalars(sa.select(Suggestion.id)).all()
            ids = wait_for(suggested, what="the suggestions")
            tray = client.get("/log/suggestions", headers={"HX-Request": "true"}).get_data(as_text=True)
            assert "Fix flaky payment test" in tray
            assert client.post_form(f"/log/suggestions/{ids[0]}/accept").status_code == 302

            time.sleep(1)  # anything still queued would have been sent by now
            assert len(reminders()) == 1
            with app.app_context():
                titles = db.session.scalars(sa.select(LogEntry.title)).all()
            assert len(titles) == 2 and any("flaky test" in t.lower() for t in titles)
            assert re.search(r"/log/entries/\d+", str(slack.posted("/commands/T0001/r1")[0]))
        finally:
            worker.terminate()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

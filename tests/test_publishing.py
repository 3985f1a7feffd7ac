"""Approved reviews published to Notion and Confluence: real clients against local stand-ins
(tests/fake_notion.py, tests/fake_confluence.py) over real sockets, through the job queue."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app import jobs
from app.extensions import db
from app.models import LogEntry, Publication, WeeklyReview
from tests import fake_confluence, fake_notion
from tests.fake_confluence import FakeConfluence
from tests.fake_notion import FakeNotion
from tests.llm_server import WEEK


@pytest.fixture
def fakes() -> Iterator[tuple[FakeNotion, FakeConfluence]]:
    notion, confluence = FakeNotion(rate=3).start(), FakeConfluence().start()
    yield notion, confluence
    notion.stop()
    confluence.stop()


@pytest.fixture
def config_overrides(fakes: tuple[FakeNotion, FakeConfluence]) -> dict:
    notion, confluence = fakes
    return {"NOTION_BASE_URL": notion.url, "NOTION_API_KEY": fake_notion.TOKEN,
            "NOTION_DATABASE_ID": fake_notion.DATABASE,
            "CONFLUENCE_BASE_URL": confluence.url, "CONFLUENCE_USER_EMAIL": fake_confluence.EMAIL,
            "CONFLUENCE_API_TOKEN": fake_confluence.TOKEN,
            "CONFLUENCE_SPACE_KEY": fake_confluence.SPACE_KEY,
            "JOBS_RETRY_BASE_SECONDS": 0.05, "PUBLISH_MAX_ATTEMPTS": 3,
            "LOGIN_RATE_LIMIT": "1000/minute", "SERVER_NAME": "worklog.test"}


def settle(app, timeout: float = 60) -> None:
    """Run jobs until no publication is waiting (retries included)."""
    deadline = time.monotonic() + timeout
    while True:
        jobs.drain(app)
        with app.app_context():
            waiting = db.session.scalar(sa.select(sa.func.count()).select_from(Publication)
                                        .where(Publication.state.in_(("queued", "creating"))))
            db.session.remove()
        if not waiting:
            return
        assert time.monotonic() < deadline, "publications still waiting"
        time.sleep(0.2)


def entry(app, user, text: str = "Shipped the export") -> int:
    from datetime import date

    with app.app_context():
        row = LogEntry(user_id=user.id, work_date=date(2026, 11, 17), title=text)
        db.session.add(row)
        db.session.commit()
        return row.id


def submit_and_approve(client, auth, actors, body: str, version: int = 0) -> None:
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}", {"body": body, "version": str(version),
                                                     "action": "submit"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    auth.login_as(actors.lead)
    assert client.post_form("/reviews/r/1/approve", {"comment": ""}).status_code == 302


def page_text(page: dict) -> str:
    return json.dumps(page, ensure_ascii=False)


def test_approve_publishes_one_page_to_each_with_properties_and_body(app, client, auth, actors,
                                                                    fakes):
    notion, confluence = fakes
    entry_id = entry(app, actors.member)
    submit_and_approve(client, auth, actors, f"## Done\n\n- **Export** shipped [#{entry_id}]\n")
    page = client.get("/reviews/r/1").get_data(as_text=True)
    assert "Publishing to Notion" in page  # queued, not yet run
    settle(app)
    [notion_page] = notion.live_pages()
    props = notion_page["properties"]
    assert props["Name"]["title"][0]["text"]["content"] == f"{WEEK} · Mina Member"
    assert props["Status"]["select"]["name"] == "Approved"
    assert props["Team"]["rich_text"][0]["text"]["content"] == "Payments"
    assert props["Entries count"]["number"] == 1
    assert props["Worklog link"]["url"] == "http://worklog.test/reviews/r/1"
    assert props["Approved at"]["date"]["start"]
    kinds = [b["type"] for b in notion_page["children"]]
    assert kinds == ["heading_2", "bulleted_list_item"]
    cite = [t for t in notion_page["children"][1]["bulleted_list_item"]["rich_text"]
            if t["text"].get("link")]
    assert cite[0]["text"] == {"content": f"#{entry_id}", "link": {
        "url": f"http://worklog.test/log/entries/{entry_id}"}}
    # Confluence: Weekly reviews → week → author, in storage format.
    mine = confluence.by_title(f"{WEEK} · Mina Member")
    week = confluence.by_title(WEEK)
    root = confluence.by_title("Weekly reviews")
    assert mine["parentId"] == week["id"] and week["parentId"] == root["id"]
    assert root["parentId"] == fake_confluence.HOME_ID
    assert f'href="http://worklog.test/log/entries/{entry_id}"' in mine["body"]
    assert "<strong>Export</strong>" in mine["body"] and "Approved" in mine["body"]
    shown = client.get("/reviews/r/1").get_data(as_text=True)
    assert "Published to" in shown and f"{notion.url}/pages/{notion_page['id']}" in shown
    assert f"{confluence.url}/wiki/spaces/ENG/pages/{mine['id']}" in shown


def test_changes_then_reapproval_update_the_same_pages(app, client, auth, actors, fakes):
    notion, confluence = fakes
    submit_and_approve(client, auth, actors, "First version.")
    settle(app)
    with app.app_context():  # the lead reopens it (an approved review back to changes)
        db.session.execute(sa.update(WeeklyReview).values(status="submitted"))
        db.session.commit()
    auth.login_as(actors.lead)
    client.post_form("/reviews/r/1/request-changes", {"comment": "More detail."})
    settle(app)
    [page] = notion.live_pages()
    assert page["properties"]["Status"]["select"]["name"] == "Changes requested"
    assert "Changes requested" in confluence.by_title(f"{WEEK} · Mina Member")["body"]
    auth.login_as(actors.member)
    client.post_form(f"/reviews/{WEEK}", {"body": "Second version.", "version": "1",
                                          "action": "submit"})
    auth.login_as(actors.lead)
    confluence.bump_next_update = True  # someone edits the page meanwhile: a 409, re-read
    client.post_form("/reviews/r/1/approve", {"comment": ""})
    settle(app)
    [page] = notion.live_pages()
    assert page["properties"]["Status"]["select"]["name"] == "Approved"
    assert "Second version." in page_text(page) and "First version." not in page_text(page)
    mine = confluence.by_title(f"{WEEK} · Mina Member")
    assert "Second version." in mine["body"] and mine["version"] >= 3
    assert confluence.conflicts == 1
    assert len([p for p in confluence.pages.values() if p["title"].startswith(WEEK + " ·")]) == 1


def test_hostile_markdown_round_trips_within_the_limits(app, client, auth, actors, fakes):
    notion, confluence = fakes
    nested = "".join("  " * i + f"- level {i}\n" for i in range(8))
    body = ("# H1\n\n### H3\n\n###### H6\n\nSome *italic*, **bold**, ~~gone~~, `code` and a "
            "[link](https://example.com) and [bad](javascript:alert(1)).\n\n"
            "<script>alert('x')</script>\n\n> quoted **text**\n\n1. one\n2. two\n\n"
            "```python\nprint('<b>]]></b>')\n```\n\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            + nested + "\n" + "x" * 10_000 + "\n\n" + "\n".join(f"- item {i}" for i in range(150)))
    submit_and_approve(client, auth, actors, body)
    settle(app)
    [page] = notion.live_pages()
    text = page_text(page)
    assert "<script>alert('x')</script>" in text  # as text, never markup
    assert "javascript:" not in text.replace("[bad](javascript:alert(1))", "")
    paragraphs = [b for b in page["children"] if b["type"] == "paragraph"
                  and sum(len(t["text"]["content"]) for t in b["paragraph"]["rich_text"]) == 10_000]
    assert paragraphs and all(len(t["text"]["content"]) <= 2000
                              for t in paragraphs[0]["paragraph"]["rich_text"])
    assert "↳ level 2" in text and "level 7" in text
    assert sum(1 for b in page["children"] if b["type"] == "bulleted_list_item") >= 150
    kinds = {b["type"] for b in page["children"]}
    assert {"heading_1", "heading_3", "quote", "numbered_list_item", "code", "divider",
            "table"} <= kinds
    stored = confluence.by_title(f"{WEEK} · Mina Member")["body"]
    assert "&lt;script&gt;" in stored and "<script" not in stored
    assert 'href="javascript' not in stored


def test_bad_token_fails_clearly_then_retry_after_the_fix_publishes(app, client, auth, actors,
                                                                   fakes, caplog):
    notion, _confluence = fakes
    app.config["NOTION_API_KEY"] = "secret_wrong_token_0000000000000"
    submit_and_approve(client, auth, actors, "Shipped.")
    with caplog.at_level(logging.INFO):
        settle(app)
    page = client.get("/reviews/r/1").get_data(as_text=True)
    assert "Publishing to Notion failed: Notion rejected the integration token (401)" in page
    assert "Retry" in page and "Confluence ↗" in page
    auth.login_as(actors.admin)
    admin = client.get("/admin/integrations").get_data(as_text=True)
    assert "Notion rejected the integration token (401)" in admin
    assert "secret_wrong_token" not in admin and "secret_wrong_token" not in caplog.text
    assert notion.live_pages() == []
    # The admin and the author are told, once each, with the destination and the reason.
    told = client.get("/notifications").get_data(as_text=True)
    assert told.count("to Notion failed") == 1 and "rejected the integration token" in told
    app.config["NOTION_API_KEY"] = fake_notion.TOKEN
    auth.login_as(actors.member)
    told = client.get("/notifications").get_data(as_text=True)
    assert told.count("to Notion failed") == 1
    assert client.post_form("/reviews/r/1/publish/retry").status_code == 302
    settle(app)
    assert len(notion.live_pages()) == 1
    assert "Published to" in client.get("/reviews/r/1").get_data(as_text=True)


def test_429_and_503_are_retried_and_the_fake_never_sees_more_than_the_rate(app, client, auth,
                                                                            actors, fakes):
    notion, _confluence = fakes
    notion.fail_next = [429, 503]
    submit_and_approve(client, auth, actors, "Shipped.")
    settle(app)
    assert len(notion.live_pages()) == 1
    assert notion.over_limit == 0 and notion.max_in_any_second() <= 3


def test_admin_stores_the_token_encrypted_and_never_shows_it(app, client, auth, actors, fakes,
                                                            caplog):
    app.config["NOTION_API_KEY"] = None
    secret = "secret_typed_by_the_admin_abcdef1234"
    notion, _confluence = fakes
    notion.tokens.add(secret)
    auth.login_as(actors.admin)
    with caplog.at_level(logging.DEBUG):
        response = client.post_form("/admin/integrations/notion", {"token": secret})
        assert response.status_code == 302
        page = client.get("/admin/integrations").get_data(as_text=True)
        tested = client.post_form("/admin/integrations/notion/test").get_data(as_text=True)
    assert secret not in page and "••••1234" in page
    assert "Token accepted" in tested and secret not in tested
    assert secret not in caplog.text
    with app.app_context():
        from app.models import IntegrationDestination

        row = db.session.scalar(sa.select(IntegrationDestination))
        assert row.secret_encrypted.startswith("fernet:") and secret not in row.secret_encrypted
    # Nor in a backup (the file holds the ciphertext) or what the backup command prints.
    import gzip

    path = app.instance_path + "/publish-backup.jsonl.gz"
    made = app.test_cli_runner().invoke(args=["backup", "create", "--output", path])
    assert made.exit_code == 0, made.output
    with gzip.open(path, "rt") as stored:
        assert secret not in made.output and secret not in stored.read()
    # Wrong space key and a missing property are said plainly.
    app.config["CONFLUENCE_SPACE_KEY"] = "NOPE"
    said = client.post_form("/admin/integrations/confluence/test").get_data(as_text=True)
    assert "no space with the key “NOPE”" in said
    app.config["NOTION_DATABASE_ID"] = "00000000-0000-0000-0000-000000000000"
    said = client.post_form("/admin/integrations/notion/test").get_data(as_text=True)
    assert "Notion cannot find the database (404): share it with the integration" in said
    app.config["NOTION_DATABASE_ID"] = fake_notion.DATABASE
    app.config["NOTION_API_KEY"] = "secret_not_a_valid_token_000000000"
    said = client.post_form("/admin/integrations/notion/test").get_data(as_text=True)
    assert "Notion rejected the integration token (401)" in said
    app.config["NOTION_API_KEY"] = None
    del notion.sources[fake_notion.DATA_SOURCE]["Entries count"]
    said = client.post_form("/admin/integrations/notion/test").get_data(as_text=True)
    assert "lacks properties Worklog writes: Entries count (number)" in said
    added = client.post_form("/admin/integrations/notion/test", {"add_missing": "1"})
    assert "Added the missing properties" in added.get_data(as_text=True)
    assert notion.sources[fake_notion.DATA_SOURCE]["Entries count"] == "number"


def test_only_admins_reach_integrations_and_posts_need_csrf(app, client, auth, actors):
    for user in (actors.member, actors.lead):
        auth.login_as(user)
        assert client.get("/admin/integrations").status_code in (403, 404)
        assert client.post_form("/admin/integrations/notion", {"token": "x"}).status_code in (403, 404)
    auth.login_as(actors.admin)
    refused = client.post("/admin/integrations/notion", data={"token": "no-csrf"})
    assert refused.status_code == 400
    with app.app_context():
        from app.models import IntegrationDestination

        assert db.session.scalar(sa.select(sa.func.count()).select_from(IntegrationDestination)) == 0


def test_ready_reports_configured_without_calling_out(app, client, fakes):
    notion, confluence = fakes
    body = client.get("/ready").get_json()
    assert body["components"]["notion"] == "configured"
    assert body["components"]["confluence"] == "configured"
    assert notion.requests == [] and confluence.requests == []
    app.config["CONFLUENCE_API_TOKEN"] = None
    assert client.get("/ready").get_json()["components"]["confluence"] == "not configured"


def test_backfill_dry_run_then_resumable(app, runner, actors, fakes):
    notion, _confluence = fakes
    with app.app_context():
        for n, week in enumerate(("2026-W01", "2026-W02", "2025-W50")):
            db.session.add(WeeklyReview(user_id=actors.member.id, week=week, body=f"Week {n}",
                                        status="approved", version=1))
        db.session.commit()
    dry = runner.invoke(args=["publish", "reviews", "--since", "2026-W01", "--destination",
                              "notion", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 publication(s) would be queued" in dry.output and notion.requests == []
    done = runner.invoke(args=["publish", "reviews", "--since", "2026-W01", "--destination",
                               "notion"])
    assert done.exit_code == 0, done.output
    settle(app)
    assert len(notion.live_pages()) == 2
    again = runner.invoke(args=["publish", "reviews", "--since", "2026-W01"])
    assert "0 publication(s) would" in again.output or "2 publication(s) queued" in again.output
    settle(app)
    assert len(notion.live_pages()) == 2  # Notion already done: only Confluence was queued


def test_entries_mirror_to_the_entries_database_and_follow_edits_and_trash(app, actors, fakes):
    from datetime import date

    from app.models import EntryMirror, User
    from app.services.log.entries import EntryData, create_entry, trash_entry, update_entry

    notion, _confluence = fakes
    app.config["NOTION_ENTRIES_DATABASE_ID"] = fake_notion.ENTRIES_DATABASE
    with app.app_context():
        owner = db.session.get(User, actors.member.id)
        made = create_entry(owner, EntryData(date(2026, 11, 17), "Cut latency", action="Cached it",
                                             tags=["perf"]))
        db.session.commit()
        entry_id = made.id
    settle_entries(app)
    [page] = notion.live_pages(fake_notion.ENTRIES_SOURCE)
    assert page["properties"]["Name"]["title"][0]["text"]["content"] == "Cut latency"
    assert page["properties"]["Date"]["date"]["start"] == "2026-11-17"
    assert "Cached it" in page_text(page)
    with app.app_context():
        owner = db.session.get(User, actors.member.id)
        entry = db.session.get(LogEntry, entry_id)
        update_entry(owner, entry, EntryData(date(2026, 11, 17), "Cut latency by half",
                                             action="Cached it"), entry.version)
        db.session.commit()
    settle_entries(app)
    [page] = notion.live_pages(fake_notion.ENTRIES_SOURCE)
    assert page["properties"]["Name"]["title"][0]["text"]["content"] == "Cut latency by half"
    with app.app_context():
        trash_entry(db.session.get(User, actors.member.id), db.session.get(LogEntry, entry_id))
        db.session.commit()
    settle_entries(app)
    assert notion.live_pages(fake_notion.ENTRIES_SOURCE) == [] and len(notion.pages) == 1
    with app.app_context():
        assert db.session.get(EntryMirror, entry_id).state == "trashed"


def settle_entries(app) -> None:
    for _ in range(50):
        jobs.drain(app)
        with app.app_context():
            from app.models import EntryMirror

            waiting = db.session.scalar(sa.select(sa.func.count()).select_from(EntryMirror).where(
                EntryMirror.state.in_(("queued", "creating"))))
            db.session.remove()
        if not waiting:
            return
        time.sleep(0.2)


def test_config_check_masks_the_integration_tokens(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from app.cli.config import config_cli

    monkeypatch.setenv("WORKLOG_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'check.db'}")
    monkeypatch.setenv("NOTION_API_KEY", "secret_notion_token_for_the_check_1234")
    monkeypatch.setenv("CONFLUENCE_API_TOKEN", "confluence-token-for-the-check-5678")
    monkeypatch.setenv("CONFLUENCE_SPACE_KEY", "ENG")
    result = CliRunner().invoke(config_cli, ["check"])
    assert "NOTION_API_KEY" in result.output and "CONFLUENCE_SPACE_KEY" in result.output
    assert "secret_notion_token_for_the_check" not in result.output
    assert "confluence-token-for-the-check" not in result.output
    assert "ENG" in result.output


def test_a_team_override_sends_its_reviews_to_its_own_database(app, client, auth, actors, fakes):
    notion, _confluence = fakes
    auth.login_as(actors.admin)
    saved = client.post_form("/admin/integrations/notion/teams",
                             {"team_id": str(actors.member.team_id),
                              "database_id": fake_notion.TEAM_DATABASE})
    assert saved.status_code == 302
    assert fake_notion.TEAM_DATABASE in client.get("/admin/integrations").get_data(as_text=True)
    submit_and_approve(client, auth, actors, "Shipped for the team.")
    settle(app)
    assert notion.live_pages() == []
    [page] = notion.live_pages(fake_notion.TEAM_SOURCE)
    assert "Shipped for the team." in page_text(page)

"""/admin/audit: filters, pages, the CSV export; and /admin, /admin/system."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from flask import Flask

from app.extensions import db
from app.models import User
from app.services.audit import record_event
from tests.conftest import Actors
from tests.log_support import audit_events, count_statements
from tests.test_admin_access import signed_in


def add_events(app: Flask, count: int, *, action: str = "test.thing", actor_id: int | None = None,
               when: datetime | None = None, details: dict | None = None) -> None:
    with app.app_context():
        actor = db.session.get(User, actor_id) if actor_id else None
        for i in range(count):
            event = record_event(action, actor=actor, target_type="thing", target_id=i, details=details)
            if when:
                event.created_at = when
        db.session.commit()


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")  # Excel needs the BOM to read UTF-8
    return list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))


def test_it_filters_by_actor_action_and_dates(app: Flask, actors: Actors) -> None:
    add_events(app, 2, action="log.entry_created", actor_id=actors.member.id,
               when=datetime(2026, 11, 2, 23, 59, tzinfo=UTC))
    add_events(app, 1, action="log.entry_deleted", actor_id=actors.member.id,
               when=datetime(2026, 11, 3, 0, 0, tzinfo=UTC))
    add_events(app, 3, action="log.entry_created", actor_id=actors.outsider.id,
               when=datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
    admin = signed_in(app, actors.admin)

    def rows(query: str) -> list[dict[str, str]]:
        return csv_rows(admin.get(f"/admin/audit?format=csv&{query}"))

    assert len(rows("actor=MEMBER@example.com")) == 3
    mine = rows("actor=member@example.com&action=log.entry_created")
    assert len(mine) == 2 and {r["action"] for r in mine} == {"log.entry_created"}
    assert len(rows("action=log.entry_created")) == 5
    assert len(rows("action=log.")) == 6  # a prefix ending in "." matches the group
    assert len(rows("from=2026-11-03&to=2026-11-03")) == 1
    assert len(rows("from=2026-11-01&to=2026-11-02")) == 2
    assert len(rows("from=2026-11-04&action=log.entry_created")) == 3
    assert rows("actor=nobody@example.com") == []

    html = admin.get("/admin/audit?actor=outsider@example.com").get_data(as_text=True)
    assert html.count("<code>log.entry_created</code>") == 3
    assert "member@example.com</td>" not in html


def test_the_csv_has_every_column_and_neutralises_formulas(app: Flask, actors: Actors) -> None:
    with app.app_context():
        record_event("=HYPERLINK(\"http://evil\")", target_type="+cmd", target_id="-1",
                     details={"before": {"name": "@SUM(A1)"}, "after": None})
        db.session.commit()
    admin = signed_in(app, actors.admin, via_form=True)
    response = admin.get("/admin/audit?format=csv")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="worklog-audit-')
    assert response.headers["Cache-Control"] == "no-store"
    rows = csv_rows(response)
    row = next(r for r in rows if "HYPERLINK" in r["action"])
    assert row["action"] == "'=HYPERLINK(\"http://evil\")"
    assert row["target_type"] == "'+cmd" and row["target_id"] == "'-1"
    assert row["details"].startswith('{"after": null')
    assert list(rows[0].keys()) == ["id", "created_at", "action", "actor_id", "actor_email", "target_type",
                                    "target_id", "ip", "request_id", "details"]
    login = next(r for r in rows if r["action"] == "auth.login_succeeded")
    assert login["actor_email"] == "admin@example.com" and login["ip"] == "127.0.0.1"
    # The export itself is on the record.
    assert audit_events(app, "admin.audit_exported")


def test_the_csv_streams_every_matching_row_not_one_page(app: Flask, actors: Actors) -> None:
    add_events(app, 120, action="bulk.event")
    admin = signed_in(app, actors.admin)
    assert len(csv_rows(admin.get("/admin/audit?format=csv&action=bulk.event"))) == 120
    html = admin.get("/admin/audit?action=bulk.event").get_data(as_text=True)
    assert html.count("<code>bulk.event</code>") == 50
    assert 'href="/admin/audit?action=bulk.event&amp;page=2"' in html
    page3 = admin.get("/admin/audit?action=bulk.event&page=3").get_data(as_text=True)
    assert page3.count("<code>bulk.event</code>") == 20 and 'rel="next"' not in page3


@pytest.mark.parametrize("query", ["", "?action=test.thing&from=2020-01-01"])
def test_it_reads_the_audit_log_in_a_constant_number_of_queries(app: Flask, actors: Actors,
                                                                 query: str) -> None:
    admin = signed_in(app, actors.admin)
    add_events(app, 5, actor_id=actors.member.id, details={"before": {"a": 1}, "after": {"a": 2}})
    with count_statements(app) as few:
        assert admin.get("/admin/audit" + query).status_code == 200
    add_events(app, 45, actor_id=actors.outsider.id)
    with count_statements(app) as many:
        assert admin.get("/admin/audit" + query).status_code == 200
    assert many.count == few.count, many.statements


def test_bad_filter_values_are_ignored_not_errors(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    for query in ("from=yesterday", "to=2026-13-45", "page=-3", "page=abc", "action=%25", "actor=%00"):
        assert admin.get(f"/admin/audit?{query}").status_code == 200, query


def test_the_overview_shows_counts_components_and_recent_events(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin, via_form=True)
    html = admin.get("/admin").get_data(as_text=True)
    assert "Active users" in html and "Pending invites" in html
    for component in ("database", "migrations", "llm", "disk_space"):
        assert f"<code>{component}</code>" in html
    assert re.search(r"<code>database</code></th>\s*<td><span class=\"badge status-ok\">ok</span>", html)
    assert "Not ready" not in html
    assert "<code>auth.login_succeeded</code>" in html


def test_the_system_page_masks_secrets(app: Flask, actors: Actors) -> None:
    app.config["OPENAI_API_KEY"] = "sk-very-secret-key-123"
    app.config["SLACK_WEBHOOK_URL"] = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    admin = signed_in(app, actors.admin)
    html = admin.get("/admin/system").get_data(as_text=True)
    assert app.config["APP_VERSION"] in html
    assert "<code>development</code>" in html
    assert "sk-very-secret-key-123" not in html and "XXXXSECRET" not in html
    assert app.config["SECRET_KEY"] not in html
    assert "****** (22 characters)" in html
    assert "hooks.slack.com" in html
    assert "ADMIN_REAUTH_MINUTES" in html
    for component in ("database", "migrations", "llm", "disk_space"):
        assert f"<code>{component}</code>" in html

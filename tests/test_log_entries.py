"""Creating, editing (with optimistic concurrency), trashing, restoring and purging entries."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User
from app.models.log import LogEntry
from tests.conftest import Actors, AuthActions, Client
from tests.log_support import audit_events, load_entry, make_entry, row_ids, versions_of

HX = {"HX-Request": "true"}


def all_entries(app) -> list[LogEntry]:
    with app.app_context():
        entries = db.session.scalars(sa.select(LogEntry).order_by(LogEntry.id)).all()
        for entry in entries:
            entry.tags  # noqa: B018
        db.session.expunge_all()
        return list(entries)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def member(client: Client, auth: AuthActions, actors: Actors) -> Actors:
    auth.login_as(actors.member)
    return actors


# --- create ---------------------------------------------------------------------------


def _zone_whose_date_is_not_utcs() -> str:
    """At any moment one of these is on a different calendar day from UTC."""
    utc_today = datetime.now(UTC).date()
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        if datetime.now(ZoneInfo(zone)).date() != utc_today:
            return zone
    raise AssertionError("unreachable: UTC+14 and UTC-11 are never both on UTC's day")


def test_it_saves_a_quick_capture_with_only_a_title(app, client: Client, member: Actors) -> None:
    zone = _zone_whose_date_is_not_utcs()
    with app.app_context():
        db.session.get(User, member.member.id).timezone = zone
        db.session.commit()
    response = client.post_form("/log/entries", {"title": "Fixed the flaky deploy"})
    assert response.status_code == 302
    [entry] = all_entries(app)
    assert entry.title == "Fixed the flaky deploy"
    assert entry.impact == "Medium"
    assert entry.work_date == datetime.now(ZoneInfo(zone)).date()
    assert (entry.situation, entry.task, entry.action, entry.result) == ("", "", "", "")
    assert response.headers["Location"].endswith(f"/log#entry-{entry.id}")
    page = client.get("/log")
    assert row_ids(page.get_data(as_text=True)) == [entry.id]
    assert "Entry saved." in page.get_data(as_text=True)


def test_it_saves_the_full_star_form(app, client: Client, member: Actors) -> None:
    form = {"title": "결제모듈을 리팩터링", "situation": "Legacy *payment* code",
            "task": "Split it", "action": "Wrote tests first", "result": "Half the bugs",
            "category": "Backend", "impact": "high", "tags": "Python, #PostgreSQL, python",
            "work_date": "2026-11-02"}
    assert client.post_form("/log/entries", form).status_code == 302
    [entry] = all_entries(app)
    assert entry.snapshot() == {
        "work_date": "2026-11-02", "title": "결제모듈을 리팩터링",
        "situation": "Legacy *payment* code", "task": "Split it",
        "action": "Wrote tests first", "result": "Half the bugs", "category": "Backend",
        "impact": "High", "tags": ["Python", "PostgreSQL"],
    }
    [event] = audit_events(app, "log.entry_created")
    assert (event.actor_id, event.target_id) == (member.member.id, str(entry.id))


def test_it_answers_htmx_create_with_a_fresh_form_and_an_event(app, client: Client,
                                                               member: Actors) -> None:
    response = client.post_form("/log/entries", {"title": "Shipped the heatmap",
                                                 "situation": "notes here"}, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "log-changed"
    body = response.get_data(as_text=True)
    assert body.startswith('<form id="capture"')
    assert "Shipped the heatmap" not in body.split('<div id="flashes"')[0]  # fields cleared
    assert "Entry saved." in body  # the flash, out of band
    assert "<html" not in body
    assert [e.title for e in all_entries(app)] == ["Shipped the heatmap"]


LONG = "x" * 10_001
INVALID = [
    ({"title": ""}, "title", "This field is required."),
    ({"title": "   "}, "title", "This field is required."),
    ({"title": "t" * 201}, "title", "At most 200 characters."),
    ({"title": "ok", "situation": LONG}, "situation", "At most 10000 characters."),
    ({"title": "ok", "task": LONG}, "task", "At most 10000 characters."),
    ({"title": "ok", "action": LONG}, "action", "At most 10000 characters."),
    ({"title": "ok", "result": LONG}, "result", "At most 10000 characters."),
    ({"title": "ok", "impact": "Huge"}, "impact", "Choose Low, Medium or High."),
    ({"title": "ok", "work_date": "2026-02-30"}, "work_date", "Enter a date as YYYY-MM-DD."),
    ({"title": "ok", "work_date": "yesterday"}, "work_date", "Enter a date as YYYY-MM-DD."),
    ({"title": "ok", "category": "c" * 81}, "category", "At most 80 characters."),
    ({"title": "ok", "tags": ",".join(f"t{i}" for i in range(21))}, "tags", "At most 20 tags."),
]


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(("form", "field", "message"), INVALID,
                         ids=[f"{f}-{i}" for i, (_v, f, _m) in enumerate(INVALID)])
def test_it_refuses_an_invalid_entry_and_keeps_the_text(app, client: Client, member: Actors,
                                                        form: dict, field: str, message: str,
                                                        htmx: bool) -> None:
    form = {"category": "My typed category", "result": "what I typed", **form}
    response = client.post_form("/log/entries", form, htmx=htmx)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'id="new-{field}-error" class="field-error">{message}' in body
    assert 'value="My typed category"' in body or field == "category"
    assert "what I typed</textarea>" in body or field == "result"
    assert ("<html" in body) is not htmx
    assert all_entries(app) == []
    assert audit_events(app, "log.entry_created") == []


def test_it_keeps_title_and_notes_typed_into_an_invalid_quick_capture(client: Client,
                                                                      member: Actors) -> None:
    response = client.post_form("/log/entries", {"title": "Kept title <b>",
                                                 "situation": "Kept notes",
                                                 "impact": "nope"}, htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'value="Kept title &lt;b&gt;"' in body
    assert ">Kept notes</textarea>" in body


# --- edit -------------------------------------------------------------------------------


@pytest.fixture
def entry_id(app, member: Actors) -> int:
    return make_entry(app, member.member, "Original title", situation="line one\nline two",
                      category="Backend", tags="Python", impact="Low")


def edit_form(**changes: str) -> dict[str, str]:
    form = {"title": "Original title", "situation": "line one\nline two", "task": "",
            "action": "", "result": "", "category": "Backend", "impact": "Low",
            "tags": "Python", "work_date": "2026-11-20", "version": "1"}
    form.update(changes)
    return form


def test_it_gives_htmx_the_edit_form_fragment(client: Client, entry_id: int) -> None:
    response = client.get(f"/log/entries/{entry_id}/edit", headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<form id="entry-{entry_id}" class="entry-edit"')
    assert f'hx-post="/log/entries/{entry_id}"' in body
    assert 'name="version" value="1"' in body
    assert 'value="Original title"' in body
    assert "<html" not in body


def test_it_gives_a_browser_the_edit_page(client: Client, entry_id: int) -> None:
    response = client.get(f"/log/entries/{entry_id}/edit")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" in body and "<h1>Edit entry</h1>" in body
    assert f'action="/log/entries/{entry_id}"' in body
    assert "hx-post" not in body.split('class="entry-edit"')[1].split(">")[0]


def test_it_saves_an_edit_and_keeps_the_old_version(app, client: Client, member: Actors,
                                                    entry_id: int) -> None:
    response = client.post_form(f"/log/entries/{entry_id}",
                                edit_form(title="New title", tags="Python, Flask"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/log/entries/{entry_id}")
    entry = load_entry(app, entry_id)
    assert (entry.title, entry.tags, entry.version) == ("New title", ["Python", "Flask"], 2)
    [version] = versions_of(app, entry_id)
    assert version.version == 1
    assert version.data["title"] == "Original title"
    assert version.data["tags"] == ["Python"]
    assert version.edited_by_id == member.member.id
    [event] = audit_events(app, "log.entry_updated")
    assert (event.target_id, event.details) == (str(entry_id), {"version": 2})
    assert "Entry updated." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_it_answers_an_htmx_save_with_the_updated_row(app, client: Client,
                                                      entry_id: int) -> None:
    response = client.post_form(f"/log/entries/{entry_id}", edit_form(title="Inline title"),
                                htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith(f'<article class="entry-row" id="entry-{entry_id}"')
    assert "Inline title" in body
    assert "Entry updated." in body
    assert load_entry(app, entry_id).version == 2


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_it_refuses_a_stale_save_and_keeps_the_users_text(app, client: Client, entry_id: int,
                                                          htmx: bool) -> None:
    assert client.post_form(f"/log/entries/{entry_id}", edit_form(title="First save")
                            ).status_code == 302
    response = client.post_form(
        f"/log/entries/{entry_id}",
        edit_form(title="My stale title", result="My stale *result*"), htmx=htmx,
    )
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "This entry was changed elsewhere (it is now at version 2)" in text(response)
    assert "your edit was not saved" in body
    assert 'value="My stale title"' in body
    assert "My stale *result*</textarea>" in body
    assert ("<html" in body) is not htmx
    entry = load_entry(app, entry_id)
    assert (entry.title, entry.result, entry.version) == ("First save", "", 2)
    assert len(versions_of(app, entry_id)) == 1
    assert len(audit_events(app, "log.entry_updated")) == 1


def test_it_refuses_the_second_of_two_saves_from_one_version(app, client: Client,
                                                             entry_id: int) -> None:
    first = client.post_form(f"/log/entries/{entry_id}", edit_form(title="Tab one"), htmx=True)
    second = client.post_form(f"/log/entries/{entry_id}", edit_form(title="Tab two"), htmx=True)
    assert (first.status_code, second.status_code) == (200, 409)
    assert load_entry(app, entry_id).title == "Tab one"


def test_it_refuses_a_save_that_raced_another_commit(app, actors: Actors, entry_id: int) -> None:
    """Another save commits between our read and our write: refused, not a crash."""
    from app.services.log.entries import StaleEntryError, update_entry, validate_entry

    with app.app_context():
        editor = db.session.get(User, actors.member.id)
        entry = db.session.get(LogEntry, entry_id)
        assert (entry.version, entry.tags) == (1, ["Python"])
        db.session.expunge(entry)  # what this request read stays in memory at version 1
        db.session.commit()
        with db.engine.begin() as other:  # another request's save
            other.execute(sa.text(
                "INSERT INTO log_entry_versions (entry_id, version, data, created_at) "
                "VALUES (:id, 1, '{}', CURRENT_TIMESTAMP)"), {"id": entry_id})
            other.execute(sa.text("UPDATE log_entries SET version = 2, title = 'Other tab' "
                                  "WHERE id = :id"), {"id": entry_id})
        db.session.add(entry)
        data, _errors = validate_entry({"title": "This tab"}, entry.work_date)
        with pytest.raises(StaleEntryError):
            update_entry(editor, entry, data, 1)
        db.session.rollback()
    assert load_entry(app, entry_id).title == "Other tab"


def test_it_keeps_no_version_for_a_save_without_changes(app, client: Client,
                                                        entry_id: int) -> None:
    response = client.post_form(f"/log/entries/{entry_id}", edit_form(), htmx=True)
    assert response.status_code == 200
    assert load_entry(app, entry_id).version == 1
    assert versions_of(app, entry_id) == []
    assert audit_events(app, "log.entry_updated") == []


def test_it_refuses_an_invalid_edit_and_keeps_the_text(app, client: Client,
                                                       entry_id: int) -> None:
    response = client.post_form(f"/log/entries/{entry_id}",
                                edit_form(title="", result="typed result"), htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "This field is required." in body
    assert "typed result</textarea>" in body
    assert load_entry(app, entry_id).title == "Original title"


def test_it_answers_400_to_a_save_without_a_version(client: Client, entry_id: int) -> None:
    form = edit_form()
    form.pop("version")
    assert client.post_form(f"/log/entries/{entry_id}", form).status_code == 400


def test_it_gives_htmx_the_row_back_on_cancel(client: Client, entry_id: int) -> None:
    response = client.get(f"/log/entries/{entry_id}", headers=HX)
    assert response.status_code == 200
    assert row_ids(response.get_data(as_text=True)) == [entry_id]
    assert "<html" not in response.get_data(as_text=True)
    page = client.get(f"/log/entries/{entry_id}")
    assert "<html" in page.get_data(as_text=True)
    assert "<h1>Original title</h1>" in page.get_data(as_text=True)


# --- delete, undo, trash, purge ----------------------------------------------------------


def undo_form(entry_id: int) -> str:
    return f'<form method="post" action="/log/entries/{entry_id}/restore"'


def test_it_moves_a_deleted_entry_to_the_trash_with_undo(app, client: Client, member: Actors,
                                                         entry_id: int) -> None:
    response = client.post_form(f"/log/entries/{entry_id}/delete")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert row_ids(page) == []
    assert "“Original title” moved to the trash." in page
    assert undo_form(entry_id) in page
    assert f"entry-{entry_id}" not in page
    trash = client.get("/log/trash").get_data(as_text=True)
    assert f'id="trashed-{entry_id}"' in trash
    [event] = audit_events(app, "log.entry_deleted")
    assert (event.actor_id, event.target_id) == (member.member.id, str(entry_id))


def test_it_deletes_inline_for_htmx_with_undo_in_the_flash(app, client: Client,
                                                           entry_id: int) -> None:
    response = client.post_form(f"/log/entries/{entry_id}/delete", htmx=True)
    assert response.status_code == 200
    assert "HX-Trigger" not in response.headers  # the row goes; nothing else on the page listens
    body = response.get_data(as_text=True)
    assert row_ids(body) == []  # the row is replaced by nothing
    assert 'hx-swap-oob="afterbegin"' in body
    assert undo_form(entry_id) in body
    assert f'hx-post="/log/entries/{entry_id}/restore"' in body
    assert load_entry(app, entry_id).deleted_at is not None


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_it_restores_a_trashed_entry(app, client: Client, entry_id: int, htmx: bool) -> None:
    client.post_form(f"/log/entries/{entry_id}/delete")
    response = client.post_form(f"/log/entries/{entry_id}/restore", htmx=htmx)
    if htmx:
        assert response.status_code == 200
        assert response.headers["HX-Trigger"] == "log-changed"
        assert "“Original title” restored." in response.get_data(as_text=True)
    else:
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/log")
    assert row_ids(client.get("/log").get_data(as_text=True)) == [entry_id]
    assert "trashed-" not in client.get("/log/trash").get_data(as_text=True)
    assert len(audit_events(app, "log.entry_restored")) == 1


def test_it_returns_to_the_trash_after_restoring_from_it(client: Client, entry_id: int) -> None:
    client.post_form(f"/log/entries/{entry_id}/delete")
    response = client.post_form(f"/log/entries/{entry_id}/restore", {"from": "trash"})
    assert response.headers["Location"].endswith("/log/trash")


def test_it_purges_only_from_the_trash(app, client: Client, entry_id: int) -> None:
    assert client.post_form(f"/log/entries/{entry_id}/purge").status_code == 404
    assert load_entry(app, entry_id) is not None
    client.post_form(f"/log/entries/{entry_id}/delete")
    response = client.post_form(f"/log/entries/{entry_id}/purge")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/log/trash")
    assert load_entry(app, entry_id) is None
    assert "The trash is empty." in client.get("/log/trash").get_data(as_text=True)
    [event] = audit_events(app, "log.entry_purged")
    assert event.details == {"title": "Original title"}


def test_it_purges_inline_for_htmx(app, client: Client, entry_id: int) -> None:
    client.post_form(f"/log/entries/{entry_id}/delete")
    response = client.post_form(f"/log/entries/{entry_id}/purge", htmx=True)
    assert response.status_code == 200
    assert "Entry deleted for good." in response.get_data(as_text=True)
    assert load_entry(app, entry_id) is None


def test_it_cannot_edit_or_delete_a_trashed_entry(client: Client, entry_id: int) -> None:
    client.post_form(f"/log/entries/{entry_id}/delete")
    assert client.get(f"/log/entries/{entry_id}/edit").status_code == 404
    assert client.post_form(f"/log/entries/{entry_id}", edit_form()).status_code == 404
    assert client.post_form(f"/log/entries/{entry_id}/delete").status_code == 404


def test_it_cannot_restore_a_live_entry(app, client: Client, entry_id: int) -> None:
    assert client.post_form(f"/log/entries/{entry_id}/restore").status_code == 404
    assert audit_events(app, "log.entry_restored") == []

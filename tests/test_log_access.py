"""Who may see and change which work-log entries: owner, teammate, lead, outsider, admin."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Actors, AuthActions, Client
from tests.log_support import load_entry, make_entry, row_ids

READ_URLS = ["/log/entries/{id}", "/log/entries/{id}/history"]
WRITE_GETS = ["/log/entries/{id}/edit"]
STRANGERS = ["teammate", "outsider", "admin"]


def save_form(title: str = "Changed by someone else") -> dict[str, str]:
    return {"title": title, "version": "1", "impact": "High", "work_date": "2026-11-20"}


@pytest.fixture
def entry_id(app, actors: Actors) -> int:
    return make_entry(app, actors.member, "Member's private entry", situation="secret context")


@pytest.fixture
def trashed_id(app, actors: Actors) -> int:
    return make_entry(app, actors.member, "Member's trashed entry", trashed=True)


@pytest.mark.parametrize("url", READ_URLS + WRITE_GETS)
def test_it_shows_owner_their_entry(client: Client, auth: AuthActions, actors: Actors,
                                    entry_id: int, url: str) -> None:
    auth.login_as(actors.member)
    response = client.get(url.format(id=entry_id))
    assert response.status_code == 200
    assert "Member&#39;s private entry" in response.get_data(as_text=True)


@pytest.mark.parametrize("who", STRANGERS)
@pytest.mark.parametrize("url", READ_URLS + WRITE_GETS)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_it_answers_404_to_others_reading_an_entry(client: Client, auth: AuthActions,
                                                   actors: Actors, entry_id: int, who: str,
                                                   url: str, htmx: bool) -> None:
    auth.login_as(getattr(actors, who))
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get(url.format(id=entry_id), headers=headers)
    assert response.status_code == 404
    assert "private entry" not in response.get_data(as_text=True)


@pytest.mark.parametrize("who", STRANGERS + ["lead"])
@pytest.mark.parametrize("action", ["save", "delete"])
def test_it_refuses_others_changing_an_entry(app, client: Client, auth: AuthActions,
                                             actors: Actors, entry_id: int, who: str,
                                             action: str) -> None:
    auth.login_as(getattr(actors, who))
    url = f"/log/entries/{entry_id}" + ("/delete" if action == "delete" else "")
    for htmx in (False, True):
        assert client.post_form(url, save_form(), htmx=htmx).status_code == 404
    entry = load_entry(app, entry_id)
    assert (entry.title, entry.version, entry.deleted_at) == ("Member's private entry", 1, None)


@pytest.mark.parametrize("who", STRANGERS + ["lead"])
@pytest.mark.parametrize("action", ["restore", "purge"])
def test_it_refuses_others_restoring_or_purging(app, client: Client, auth: AuthActions,
                                                actors: Actors, trashed_id: int, who: str,
                                                action: str) -> None:
    auth.login_as(getattr(actors, who))
    for htmx in (False, True):
        response = client.post_form(f"/log/entries/{trashed_id}/{action}", htmx=htmx)
        assert response.status_code == 404
    entry = load_entry(app, trashed_id)
    assert entry is not None and entry.deleted_at is not None


@pytest.mark.parametrize("action", ["restore", "purge"])
def test_it_lets_owner_restore_and_purge(app, client: Client, auth: AuthActions,
                                         actors: Actors, trashed_id: int, action: str) -> None:
    auth.login_as(actors.member)
    response = client.post_form(f"/log/entries/{trashed_id}/{action}")
    assert response.status_code == 302
    entry = load_entry(app, trashed_id)
    if action == "restore":
        assert entry.deleted_at is None
    else:
        assert entry is None


@pytest.mark.parametrize("url", READ_URLS)
def test_it_lets_a_lead_read_a_team_members_entry(client: Client, auth: AuthActions,
                                                  actors: Actors, entry_id: int,
                                                  url: str) -> None:
    auth.login_as(actors.lead)
    response = client.get(url.format(id=entry_id))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Member&#39;s private entry" in body
    # Reading only: no way to edit or delete is offered.
    assert f"/log/entries/{entry_id}/edit" not in body
    assert f"/log/entries/{entry_id}/delete" not in body


def test_it_shows_a_lead_the_row_of_a_team_members_entry_without_actions(
        client: Client, auth: AuthActions, actors: Actors, entry_id: int) -> None:
    auth.login_as(actors.lead)
    response = client.get(f"/log/entries/{entry_id}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert row_ids(response.get_data(as_text=True)) == [entry_id]
    assert "/edit" not in response.get_data(as_text=True)


def test_it_refuses_a_lead_the_edit_form(client: Client, auth: AuthActions, actors: Actors,
                                         entry_id: int) -> None:
    auth.login_as(actors.lead)
    assert client.get(f"/log/entries/{entry_id}/edit").status_code == 404
    assert client.get(f"/log/entries/{entry_id}/edit",
                      headers={"HX-Request": "true"}).status_code == 404


@pytest.mark.parametrize("url", READ_URLS)
def test_it_hides_other_teams_entries_from_a_lead(app, client: Client, auth: AuthActions,
                                                  actors: Actors, url: str) -> None:
    outsiders = make_entry(app, actors.outsider, "Growth team work")
    auth.login_as(actors.lead)
    assert client.get(url.format(id=outsiders)).status_code == 404


def test_it_hides_a_trashed_team_entry_from_a_lead(client: Client, auth: AuthActions,
                                                   actors: Actors, trashed_id: int) -> None:
    auth.login_as(actors.lead)
    assert client.get(f"/log/entries/{trashed_id}").status_code == 404


def test_it_answers_404_for_an_entry_that_does_not_exist(client: Client, auth: AuthActions,
                                                         actors: Actors) -> None:
    auth.login_as(actors.member)
    assert client.get("/log/entries/999999").status_code == 404
    assert client.post_form("/log/entries/999999/delete").status_code == 404


def test_it_lists_only_my_own_entries(app, client: Client, auth: AuthActions,
                                      actors: Actors) -> None:
    mine = make_entry(app, actors.member, "Mine")
    make_entry(app, actors.teammate, "Teammate's")
    make_entry(app, actors.outsider, "Outsider's")
    for who, expected in ((actors.member, [mine]), (actors.lead, [])):
        auth.login_as(who)
        page = client.get("/log").get_data(as_text=True)
        fragment = client.get("/log", headers={"HX-Request": "true", "HX-Target": "entry-list"})
        assert row_ids(page) == expected
        assert row_ids(fragment.get_data(as_text=True)) == expected
        auth.logout()


def test_it_lists_only_my_own_trash(app, client: Client, auth: AuthActions,
                                    actors: Actors) -> None:
    make_entry(app, actors.teammate, "Teammate's trashed", trashed=True)
    make_entry(app, actors.member, "Mine trashed", trashed=True)
    auth.login_as(actors.member)
    body = client.get("/log/trash").get_data(as_text=True)
    assert "Mine trashed" in body
    assert "Teammate" not in body


def test_it_exports_only_my_own_entries(app, client: Client, auth: AuthActions,
                                        actors: Actors) -> None:
    make_entry(app, actors.member, "Mine")
    make_entry(app, actors.teammate, "Teammate's")
    auth.login_as(actors.lead)  # a lead's export is their own log, not the team's
    assert json.loads(client.get("/log/export?format=json").get_data(as_text=True)) == []
    auth.logout()
    auth.login_as(actors.member)
    exported = json.loads(client.get("/log/export?format=json").get_data(as_text=True))
    assert [e["title"] for e in exported] == ["Mine"]


@pytest.mark.parametrize("url", ["/log", "/log/trash", "/log/export?format=json",
                                 "/log/entries/1", "/log/entries/1/history"])
def test_it_sends_anonymous_visitors_to_login(client: Client, actors: Actors, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]

"""An entry's history: every kept version with a readable diff."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Actors, AuthActions, Client
from tests.log_support import make_entry


def save(client: Client, entry_id: int, version: int, **fields: str) -> None:
    form = {"title": "Payment retries", "situation": "one\ntwo\nthree", "impact": "Medium",
            "work_date": "2026-11-20", "version": str(version), **fields}
    assert client.post_form(f"/log/entries/{entry_id}", form).status_code == 302


def diff_lines(body: str) -> list[tuple[str, str]]:
    """(kind, text) of each diff line, as a screen reader and the eye get them."""
    lines = re.findall(r'<span class="diff-(add|remove|same)">(.*?)</span>\n', body)
    return [(kind, re.sub(r"<[^>]+>", "", text)) for kind, text in lines]


@pytest.fixture
def entry_id(app, client: Client, auth: AuthActions, actors: Actors) -> int:
    auth.login_as(actors.member)
    return make_entry(app, actors.member, "Payment retries", situation="one\ntwo\nthree")


def test_it_says_when_an_entry_was_never_edited(client: Client, entry_id: int) -> None:
    body = client.get(f"/log/entries/{entry_id}/history").get_data(as_text=True)
    assert "This entry has not been edited since it was created." in body


def test_it_lists_versions_newest_first_with_removed_and_added_lines(client: Client,
                                                                     entry_id: int) -> None:
    save(client, entry_id, 1, situation="one\nTWO\nthree")
    save(client, entry_id, 2, situation="one\nTWO\nthree", title="Payment retries with backoff")
    response = client.get(f"/log/entries/{entry_id}/history")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Current version: 3" in body
    assert body.index("Version 2 → 3") < body.index("Version 1 → 2")
    newest, oldest = body.split("Version 1 → 2")[0], body.split("Version 1 → 2")[1]
    assert diff_lines(newest) == [("remove", "removed: − Payment retries"),
                                  ("add", "added: + Payment retries with backoff")]
    assert '<h3 class="diff-field">Title</h3>' in newest
    assert diff_lines(oldest) == [("same", "  one"), ("remove", "removed: − two"),
                                  ("add", "added: + TWO"), ("same", "  three")]
    assert '<h3 class="diff-field">Situation</h3>' in oldest


def test_it_shows_tag_and_impact_changes(client: Client, entry_id: int) -> None:
    save(client, entry_id, 1, tags="Python, Redis", impact="High")
    body = client.get(f"/log/entries/{entry_id}/history").get_data(as_text=True)
    assert ("add", "added: + Python, Redis") in diff_lines(body)
    assert ("remove", "removed: − Medium") in diff_lines(body)
    assert ("add", "added: + High") in diff_lines(body)


def test_it_lets_a_lead_read_a_team_members_history(client: Client, auth: AuthActions,
                                                     actors: Actors, entry_id: int) -> None:
    save(client, entry_id, 1, title="Edited once")
    auth.logout()
    auth.login_as(actors.lead)
    body = client.get(f"/log/entries/{entry_id}/history").get_data(as_text=True)
    assert ("add", "added: + Edited once") in diff_lines(body)
    auth.logout()
    auth.login_as(actors.outsider)
    assert client.get(f"/log/entries/{entry_id}/history").status_code == 404

"""Markdown rendering, and hostile text in every field staying inert wherever it is shown."""

from __future__ import annotations

import csv
import io
import json

import pytest

from app.services.markdown import plain_excerpt, render_markdown
from tests.conftest import Actors, AuthActions, Client
from tests.log_support import assert_inert, make_entry

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_LINK = "[click me](javascript:alert(1))"
RAW_LINK = '<a href="javascript:alert(1)">raw link</a>'
PART = f"{SCRIPT}\n\n{IMG}\n\n{JS_LINK} and {RAW_LINK}"
HOSTILE = {
    "title": f"{SCRIPT}{IMG}",
    "situation": PART, "task": PART, "action": PART, "result": PART,
    "category": IMG,
    "tags": f"{SCRIPT}, {IMG}, javascript:alert(1)",
}
# --- the renderer ---------------------------------------------------------------------------


def test_it_renders_commonmark() -> None:
    html = render_markdown("# Done\n\n- **fast** and *safe*\n- `code`\n\n1. one")
    assert "<h1>Done</h1>" in html
    assert "<li><strong>fast</strong> and <em>safe</em></li>" in html
    assert "<code>code</code>" in html
    assert "<ol>" in html


def test_it_shows_raw_html_as_text() -> None:
    html = render_markdown("<b>bold?</b> <script>alert(1)</script>")
    assert "<b>" not in html and "<script>" not in html
    assert "&lt;b&gt;bold?&lt;/b&gt;" in html


@pytest.mark.parametrize("link", [
    "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "[x](javascript&colon;alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)", "[x](vbscript:msgbox(1))",
    "<javascript:alert(1)>", "![x](javascript:alert(1))", "[x]( javascript:alert(1))",
])
def test_it_drops_dangerous_links(link: str) -> None:
    html = render_markdown(link)
    assert "href" not in html
    assert "<img" not in html


def test_it_marks_links_noopener_nofollow() -> None:
    html = render_markdown("[docs](https://example.com/a?b=1) and <https://example.org>")
    assert html.count('rel="noopener nofollow"') == 2
    assert 'href="https://example.com/a?b=1"' in html


def test_it_makes_a_plain_excerpt_without_markup() -> None:
    assert plain_excerpt("**Shipped** the <b>thing</b>") == "Shipped the <b>thing</b>"
    assert plain_excerpt("word " * 100).endswith("…")


# --- every field, every place -----------------------------------------------------------


@pytest.fixture
def hostile_id(app, client: Client, auth: AuthActions, actors: Actors) -> int:
    auth.login_as(actors.member)
    entry_id = make_entry(app, actors.member, **HOSTILE)
    form = {**HOSTILE, "title": f"{IMG}{SCRIPT}", "version": "1", "work_date": "2026-11-20"}
    assert client.post_form(f"/log/entries/{entry_id}", form).status_code == 302  # history
    return entry_id


@pytest.mark.parametrize("url", [
    "/log", "/log?q=alert", "/log?tag=<script>alert(1)</script>", "/log/entries/{id}",
    "/log/entries/{id}/edit", "/log/entries/{id}/history",
])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_it_renders_hostile_text_inert(client: Client, hostile_id: int, url: str,
                                       htmx: bool) -> None:
    headers = {"HX-Request": "true", "HX-Target": "entry-list"} if htmx else {}
    response = client.get(url.format(id=hostile_id), headers=headers)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "alert(1)" in body  # the text is there, shown as text
    assert_inert(body)


def test_it_renders_hostile_text_inert_in_the_trash_and_its_flash(client: Client,
                                                                  hostile_id: int) -> None:
    deleted = client.post_form(f"/log/entries/{hostile_id}/delete", htmx=True)
    assert "alert(1)" in deleted.get_data(as_text=True)
    assert_inert(deleted.get_data(as_text=True))
    trash = client.get("/log/trash").get_data(as_text=True)
    assert "alert(1)" in trash
    assert_inert(trash)


def test_it_keeps_a_hostile_stale_edit_inert(client: Client, hostile_id: int) -> None:
    form = {**HOSTILE, "version": "1", "work_date": "2026-11-20"}
    response = client.post_form(f"/log/entries/{hostile_id}", form, htmx=True)
    assert response.status_code == 409
    assert_inert(response.get_data(as_text=True))


def test_it_exports_hostile_text_as_valid_json(client: Client, hostile_id: int) -> None:
    response = client.get("/log/export?format=json")
    assert response.mimetype == "application/json"
    [entry] = json.loads(response.get_data(as_text=True))
    assert entry["title"] == f"{IMG}{SCRIPT}"
    assert entry["situation"] == PART
    assert entry["tags"] == [SCRIPT, IMG, "javascript:alert(1)"]


def test_it_exports_hostile_text_as_csv_data(client: Client, hostile_id: int) -> None:
    response = client.get("/log/export?format=csv")
    assert response.mimetype == "text/csv"
    header, row = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    entry = dict(zip(header, row, strict=True))
    assert entry["title"] == f"{IMG}{SCRIPT}"
    assert entry["category"] == IMG
    assert entry["situation"] == PART


def test_it_exports_hostile_text_as_inert_markdown(client: Client, hostile_id: int) -> None:
    response = client.get("/log/export?format=md")
    assert response.mimetype == "text/markdown"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    exported = response.get_data(as_text=True)
    # Rendered as a Markdown viewer that allows raw HTML would render it: still inert.
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(exported)
    assert "alert(1)" in html
    assert_inert(html)


@pytest.mark.parametrize("value", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "=HYPERLINK(\"x\")"])
def test_it_neutralises_formulas_in_csv_cells(app, client: Client, auth: AuthActions,
                                              actors: Actors, value: str) -> None:
    make_entry(app, actors.member, value, situation=value, category=value, tags=value)
    auth.login_as(actors.member)
    header, row = list(csv.reader(io.StringIO(
        client.get("/log/export?format=csv").get_data(as_text=True))))
    entry = dict(zip(header, row, strict=True))
    for column in ("title", "situation", "category", "tags"):
        assert entry[column] == "'" + value

"""Exports as Markdown, CSV and JSON: filters, search, own entries only, trash left out."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from markdown_it import MarkdownIt

from tests.conftest import Actors, AuthActions, Client
from tests.log_support import assert_inert, make_entry


@pytest.fixture
def member(client: Client, auth: AuthActions, actors: Actors) -> Actors:
    auth.login_as(actors.member)
    return actors


@pytest.fixture
def log(app, member: Actors) -> dict[str, int]:
    m = member.member
    return {
        "korean": make_entry(app, m, "결제모듈을 리팩터링", category="Backend", impact="High",
                             tags="Python", work_date=date(2026, 11, 10),
                             situation="레거시", result="버그 절반"),
        "english": make_entry(app, m, "Wrote the runbook", category="Docs", impact="Low",
                              tags="Writing", work_date=date(2026, 11, 12)),
        "trashed": make_entry(app, m, "Trashed 결제 note", trashed=True,
                              work_date=date(2026, 11, 11)),
    }


def titles(client: Client, fmt: str, query: str = "") -> list[str]:
    response = client.get(f"/log/export?format={fmt}{query}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    if fmt == "json":
        return [entry["title"] for entry in json.loads(body)]
    if fmt == "csv":
        return [row["title"] for row in csv.DictReader(io.StringIO(body.removeprefix("\ufeff")))]
    return [line.split(" — ", 1)[1] for line in body.splitlines() if line.startswith("## ")]


@pytest.mark.parametrize("fmt", ["md", "csv", "json"])
def test_it_exports_live_entries_newest_first(client: Client, log: dict, fmt: str) -> None:
    assert titles(client, fmt) == ["Wrote the runbook", "결제모듈을 리팩터링"]


@pytest.mark.parametrize("fmt", ["md", "csv", "json"])
@pytest.mark.parametrize(("query", "expected"), [
    ("&q=결제", ["결제모듈을 리팩터링"]),
    ("&q=RUNBOOK", ["Wrote the runbook"]),
    ("&q=버그 절반", ["결제모듈을 리팩터링"]),
    ("&impact=Low", ["Wrote the runbook"]),
    ("&category=Backend", ["결제모듈을 리팩터링"]),
    ("&tag=Writing", ["Wrote the runbook"]),
    ("&from=2026-11-11&to=2026-11-30", ["Wrote the runbook"]),
    ("&from=nonsense", ["Wrote the runbook", "결제모듈을 리팩터링"]),
    ("&q=결제&impact=Low", []),
    ("&page=2", ["Wrote the runbook", "결제모듈을 리팩터링"]),  # the export is not paged
])
def test_it_honours_the_lists_filters(client: Client, log: dict, fmt: str, query: str,
                                      expected: list[str]) -> None:
    assert titles(client, fmt, query) == expected


@pytest.mark.parametrize(("fmt", "mimetype"), [("md", "text/markdown"), ("csv", "text/csv"),
                                               ("json", "application/json")])
def test_it_sends_an_attachment(client: Client, log: dict, fmt: str, mimetype: str) -> None:
    response = client.get(f"/log/export?format={fmt}")
    assert response.mimetype == mimetype
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="worklog-')
    assert disposition.endswith(f'.{fmt}"')
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("fmt", ["pdf", "", "MD", "../etc/passwd"])
def test_it_refuses_an_unknown_format(client: Client, log: dict, fmt: str) -> None:
    assert client.get(f"/log/export?format={fmt}").status_code == 400


def test_it_exports_every_field(client: Client, log: dict) -> None:
    [entry] = json.loads(client.get("/log/export?format=json&q=결제").get_data(as_text=True))
    assert entry["id"] == log["korean"]
    assert {k: entry[k] for k in ("work_date", "situation", "result", "category", "impact",
                                  "tags")} == {
        "work_date": "2026-11-10", "situation": "레거시", "result": "버그 절반",
        "category": "Backend", "impact": "High", "tags": ["Python"]}
    markdown = client.get("/log/export?format=md&q=결제").get_data(as_text=True)
    assert "## 2026-11-10 — 결제모듈을 리팩터링" in markdown
    assert "### Situation\n\n레거시\n" in markdown
    assert "Impact: High · Category: Backend · Tech stack and tags: Python" in markdown


def test_it_exports_an_empty_log_as_valid_files(client: Client, member: Actors) -> None:
    assert json.loads(client.get("/log/export?format=json").get_data(as_text=True)) == []
    raw = client.get("/log/export?format=csv").get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM: Excel reads Korean right
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["id", "work_date", "title"] and len(rows) == 1


# --- Markdown that means what the app shows ------------------------------------------------


def rendered(client: Client) -> str:
    return MarkdownIt("commonmark").render(client.get("/log/export?format=md").get_data(as_text=True))


def test_it_exports_a_plain_title_as_plain_text(app, client: Client, member: Actors) -> None:
    make_entry(app, member.member, r"Fix *all* the `bugs` in [x](y) \o/ & <b>", category="#1")
    html = rendered(client)
    assert r"— Fix *all* the `bugs` in [x](y) \o/ &amp; &lt;b&gt;</h2>" in html
    assert "Category: #1" in html


def test_it_keeps_code_as_written(app, client: Client, member: Actors) -> None:
    make_entry(app, member.member, "Generics",
               situation="```java\nList<String> names = new ArrayList<>();\n```\n\nthen <b>x</b>")
    markdown = client.get("/log/export?format=md").get_data(as_text=True)
    assert "List<String> names = new ArrayList<>();" in markdown
    html = MarkdownIt("commonmark").render(markdown)
    assert "List&lt;String&gt; names" in html
    assert "then &lt;b&gt;x&lt;/b&gt;" in html


def test_it_does_not_let_an_open_fence_change_the_next_section(app, client: Client,
                                                                member: Actors) -> None:
    """An unclosed fence in one part would otherwise turn the next part's code into HTML."""
    make_entry(app, member.member, "Fences", situation="```",
               task="```\n<img src=x onerror=alert(1)>\n```")
    assert_inert(rendered(client))

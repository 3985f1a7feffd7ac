"""The list: Korean-aware search, hostile queries, filters, pagination."""

from __future__ import annotations

import html
from datetime import date, timedelta

import pytest

from tests.conftest import Actors, AuthActions, Client
from tests.log_support import make_entries, make_entry, row_ids

LIST = {"HX-Request": "true", "HX-Target": "entry-list"}


@pytest.fixture
def member(client: Client, auth: AuthActions, actors: Actors) -> Actors:
    auth.login_as(actors.member)
    return actors


def listed(client: Client, query: str = "", *, htmx: bool = False) -> list[int]:
    response = client.get(f"/log{query}", headers=LIST if htmx else {})
    assert response.status_code == 200
    return row_ids(response.get_data(as_text=True))


@pytest.fixture
def corpus(app, member: Actors) -> dict[str, int]:
    m = member.member
    return {
        "korean": make_entry(app, m, "결제모듈을 리팩터링", situation="레거시 코드 정리",
                             work_date=date(2026, 11, 10)),
        "english": make_entry(app, m, "Payment Gateway retries", action="Added exponential BACKOFF",
                              category="Backend", tags="Python, Redis", impact="High",
                              work_date=date(2026, 11, 12)),
        "body_hit": make_entry(app, m, "Weekly sync", result="Discussed the payment gateway",
                               category="Meetings", tags="Process", impact="Low",
                               work_date=date(2026, 11, 14)),
        "tagged": make_entry(app, m, "Cache warmup", task="warm caches", tags="Redis, K8s",
                             category="Infra", work_date=date(2026, 11, 16)),
    }


@pytest.mark.parametrize(("q", "expected"), [
    ("결제", ["korean"]),                 # two Korean characters: below a trigram
    ("리팩터링", ["korean"]),
    ("모듈을 리팩", ["korean"]),          # multi-term AND across a longer term
    ("레거시", ["korean"]),               # found in a STAR part
    ("backoff", ["english"]),
    ("BACKOFF", ["english"]),
    ("gAtEwAy", ["english", "body_hit"]),  # title hit ranks above a body hit
    ("payment gateway", ["english", "body_hit"]),
    ("payment sync", ["body_hit"]),
    ("payment nothing", []),
    ("meetings", ["body_hit"]),           # category
    ("k8s", ["tagged"]),                  # tag
    ("redis", ["tagged", "english"]),     # tags; no title hit, so newest first
    ("ac", ["tagged", "english"]),        # two ASCII characters: "Cache" title, "backoff"
])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_it_finds_entries_by_substring(client: Client, corpus: dict[str, int], q: str,
                                       expected: list[str], htmx: bool) -> None:
    assert listed(client, f"?q={q}", htmx=htmx) == [corpus[name] for name in expected]


def test_it_finds_a_title_hit_first_even_when_older(app, client: Client, member: Actors) -> None:
    old_title_hit = make_entry(app, member.member, "Deploy pipeline", work_date=date(2026, 1, 1))
    new_body_hit = make_entry(app, member.member, "Sprint work", situation="fixed deploy",
                              work_date=date(2026, 11, 1))
    assert listed(client, "?q=deploy") == [old_title_hit, new_body_hit]


def test_it_ranks_a_title_hit_first_whatever_the_letters_case(app, client: Client,
                                                              member: Actors) -> None:
    title_hit = make_entry(app, member.member, "ÄRGER mit Zahlungen", work_date=date(2026, 1, 1))
    body_hit = make_entry(app, member.member, "Sprint", situation="viel Ärger",
                          work_date=date(2026, 11, 1))
    assert listed(client, "?q=ärger") == [title_hit, body_hit]


def test_it_keeps_a_title_on_one_line(app, client: Client, member: Actors) -> None:
    client.post_form("/log/entries", {"title": "Two\nlines\r\n  here", "category": "A\nB",
                                      "tags": "x\ny"})
    [entry_id] = listed(client)
    body = client.get("/log/export?format=json").get_json()
    assert (body[0]["title"], body[0]["category"], body[0]["tags"]) == (
        "Two lines here", "A B", ["x y"])
    assert listed(client, "?q=lines here") == [entry_id]


def test_it_finds_an_entry_by_its_edited_text(app, client: Client, member: Actors) -> None:
    entry_id = make_entry(app, member.member, "Draft")
    form = {"title": "Draft", "result": "정산 배치를 개선", "version": "1",
            "work_date": "2026-11-20", "tags": "Kotlin"}
    assert client.post_form(f"/log/entries/{entry_id}", form).status_code == 302
    assert listed(client, "?q=정산") == [entry_id]
    assert listed(client, "?q=배치를") == [entry_id]
    assert listed(client, "?q=kotlin") == [entry_id]
    assert listed(client, "?q=Draft") == [entry_id]


def test_it_does_not_find_trashed_or_purged_entries(app, client: Client, member: Actors) -> None:
    trashed = make_entry(app, member.member, "Trashed refactoring", trashed=True)
    assert listed(client, "?q=refactoring") == []
    client.post_form(f"/log/entries/{trashed}/purge")
    live = make_entry(app, member.member, "Live refactoring")
    assert listed(client, "?q=refactoring") == [live]


def test_it_does_not_find_other_peoples_entries(app, client: Client, actors: Actors,
                                                member: Actors) -> None:
    make_entry(app, actors.teammate, "결제모듈 teammate")
    assert listed(client, "?q=결제") == []


HOSTILE_QUERIES = [
    '"', "'", '"unbalanced', "''", "AND", "OR", "NOT", "a AND b", "NEAR", "NEAR(a b)",
    "NEAR(결제 리팩)", "*", "pay*", "^", "^payment", "-", "-payment", ":", "title:payment",
    "(", ")", "((payment)", "%", "_", "%_%", "\\", "\\\\%", "😀", "결제😀", "🇰🇷🇰🇷🇰🇷",
    "x" * 10_000, "결 " * 5_000, "{payment}", "[a-z]", "payment; DROP TABLE log_entries;--",
    "log_entry_fts", "\t\n", "\u200b", "\ufeff", "payment OR 1=1",
]


@pytest.mark.parametrize("q", HOSTILE_QUERIES, ids=range(len(HOSTILE_QUERIES)))
def test_it_survives_hostile_queries(client: Client, corpus: dict[str, int], q: str) -> None:
    for htmx in (False, True):
        response = client.get("/log", query_string={"q": q}, headers=LIST if htmx else {})
        assert response.status_code == 200


@pytest.mark.parametrize("raw", ["q=%ED%A0%80", "q=%00", "q=pay%00ment", "q=%FF%FE",
                                 "q=%ED%A0%80%ED%B0%80", "q=%C0%AF", "q=%",
                                 "q=%ED%A0%80&category=%00&tag=%ED%A0%80&page=%00"])
def test_it_survives_broken_encodings(app, client: Client, corpus: dict[str, int],
                                      raw: str) -> None:
    with app.test_request_context(f"/log?{raw}") as ctx:
        assert ctx.request.query_string == raw.encode()  # sent as is, not re-encoded
    for htmx in (False, True):
        response = client.get(f"/log?{raw}", headers=LIST if htmx else {})
        assert response.status_code == 200


def test_it_matches_quotes_and_percent_signs_literally(app, client: Client,
                                                       member: Actors) -> None:
    quoted = make_entry(app, member.member, 'Fixed "NEAR" query 100% of_cases')
    make_entry(app, member.member, "Fixed near query 1000 ofXcases")
    assert listed(client, '?q="NEAR"') == [quoted]
    assert listed(client, "?q=100%25") == [quoted]
    assert listed(client, "?q=of_c") == [quoted]


# --- filters ------------------------------------------------------------------------------


def test_it_filters_by_date_range(client: Client, corpus: dict[str, int]) -> None:
    assert listed(client, "?from=2026-11-12&to=2026-11-14") == [corpus["body_hit"],
                                                                 corpus["english"]]
    assert listed(client, "?from=2026-11-15") == [corpus["tagged"]]
    assert listed(client, "?to=2026-11-10", htmx=True) == [corpus["korean"]]


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026-02-30", "%00", "99999-01-01"])
def test_it_ignores_a_bad_date(client: Client, corpus: dict[str, int], bad: str) -> None:
    assert len(listed(client, f"?from={bad}&to={bad}")) == 4


def test_it_filters_by_category_impact_and_tag(client: Client, corpus: dict[str, int]) -> None:
    assert listed(client, "?category=Infra") == [corpus["tagged"]]
    assert listed(client, "?impact=High") == [corpus["english"]]
    assert listed(client, "?impact=low") == [corpus["body_hit"]]
    assert listed(client, "?impact=Enormous") == listed(client)  # ignored
    assert listed(client, "?tag=Redis") == [corpus["tagged"], corpus["english"]]
    assert listed(client, "?tag=%23Redis") == [corpus["tagged"], corpus["english"]]
    assert listed(client, "?tag=Redis&category=Backend") == [corpus["english"]]


def test_it_combines_filters_with_search(client: Client, corpus: dict[str, int]) -> None:
    assert listed(client, "?q=payment&impact=Low") == [corpus["body_hit"]]
    assert listed(client, "?q=payment&tag=Redis", htmx=True) == [corpus["english"]]
    assert listed(client, "?q=payment&from=2026-11-13") == [corpus["body_hit"]]
    assert listed(client, "?q=결제&category=Backend") == []


def test_it_says_when_nothing_matches(client: Client, corpus: dict[str, int]) -> None:
    body = client.get("/log?q=zzzz", headers=LIST).get_data(as_text=True)
    assert "No entries match these filters." in body
    assert "Clear filters" in body


def test_it_keeps_filters_in_the_form_and_export_links(client: Client,
                                                        corpus: dict[str, int]) -> None:
    body = client.get("/log?q=결제&impact=High&tag=Redis&from=2026-11-01").get_data(as_text=True)
    assert 'value="결제"' in body
    assert '<option value="High" selected>' in body
    assert 'id="f-tag" name="tag" value="Redis"' in body
    assert 'value="2026-11-01"' in body
    assert ("/log/export?format=csv&amp;q=%EA%B2%B0%EC%A0%9C&amp;from=2026-11-01"
            "&amp;impact=High&amp;tag=Redis") in body


# --- pagination ---------------------------------------------------------------------------


@pytest.fixture
def sixty_five(app, member: Actors) -> list[int]:
    return make_entries(app, member.member, 65)  # newest first: ids[0] is the newest


def test_it_shows_30_entries_a_page_newest_first(client: Client, sixty_five: list[int]) -> None:
    assert listed(client) == sixty_five[:30]
    assert listed(client, "?page=2", htmx=True) == sixty_five[30:60]
    assert listed(client, "?page=3") == sixty_five[60:]


@pytest.mark.parametrize("page", ["4", "10000", "99999999999999999999"])
def test_it_shows_nothing_beyond_the_last_page(client: Client, sixty_five: list[int],
                                               page: str) -> None:
    for htmx in (False, True):
        response = client.get(f"/log?page={page}", headers=LIST if htmx else {})
        assert response.status_code == 200
        assert row_ids(response.get_data(as_text=True)) == []
        assert 'rel="prev"' in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["abc", "", "-3", "0", "1.5", "%00"])
def test_it_treats_a_bad_page_as_the_first(client: Client, sixty_five: list[int],
                                           page: str) -> None:
    assert listed(client, f"?page={page}") == sixty_five[:30]


def test_it_keeps_filters_in_pager_links(client: Client, sixty_five: list[int]) -> None:
    body = html.unescape(client.get("/log?q=entry&tag=python&page=2&from=2026-01-01",
                                    headers=LIST).get_data(as_text=True))
    assert 'href="/log?q=entry&from=2026-01-01&tag=python" ' in body  # newer: page 1
    assert 'href="/log?q=entry&from=2026-01-01&tag=python&page=3"' in body
    assert 'hx-get="/log?q=entry&from=2026-01-01&tag=python&page=3"' in body
    assert listed(client, "?q=entry&tag=python&page=3&from=2026-01-01") == sixty_five[60:]


def test_it_pages_through_search_results(app, client: Client, member: Actors) -> None:
    start = date(2026, 11, 20)
    ids = [make_entry(app, member.member, f"결제 작업 {i}", work_date=start - timedelta(days=i))
           for i in range(31)]
    make_entry(app, member.member, "Unrelated")
    assert listed(client, "?q=결제") == ids[:30]
    assert listed(client, "?q=결제&page=2") == ids[30:]

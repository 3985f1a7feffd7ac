"""Structure with AI in the entry forms: free text in, a STAR draft in the form, nothing saved."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import LLMCall
from app.models.log import LogEntry
from tests.conftest import Actors, AuthActions, Client
from tests.llm_server import INJECTION, Reply
from tests.log_support import assert_inert, count_statements, load_entry, make_entries, make_entry

HX = {"HX-Request": "true"}
NOTES = ("Checkout was slow because the card lookup hit the network on every payment. "
         "I needed to get p95 under 400 ms before the sale. "
         "I added a Redis cache in Python for the lookups. p95 dropped from 900 ms to 310 ms.")


class FormReader(HTMLParser):
    """The values a browser would show in each named field of one form."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.values: dict[str, str] = {}
        self.attrs: dict[str, str] = {}
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._in_form = a.get("id") == self.form_id
            if self._in_form:
                self.attrs = a
        if not self._in_form:
            return
        if tag == "input" and a.get("name"):
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[a["name"]] = ""
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._in_form and self._textarea:
            self.values[self._textarea] += data


def read_form(response, form_id: str = "capture") -> dict[str, str]:
    reader = FormReader(form_id)
    reader.feed(response.get_data(as_text=True))
    assert reader.attrs, f"no form #{form_id} in the answer"
    return reader.values


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def entries(app) -> list[LogEntry]:
    with app.app_context():
        return list(db.session.scalars(sa.select(LogEntry)))


def ledger(app) -> list[LLMCall]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(LLMCall).order_by(LLMCall.id)))
        db.session.expunge_all()
        return rows


@pytest.fixture
def member(client: Client, auth: AuthActions, actors: Actors) -> Actors:
    auth.login_as(actors.member)
    return actors


def capture(title: str = "", notes: str = NOTES, **fields: str) -> dict[str, str]:
    return {"title": title, "situation": notes, "work_date": "2026-11-20", "impact": "Medium",
            **fields}


# --- quick capture ----------------------------------------------------------------------


def test_it_puts_a_star_draft_into_the_capture_form_and_saves_nothing(app, client: Client,
                                                                      member: Actors) -> None:
    response = client.post_form("/log/structure", capture(), htmx=True)
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith("<form")  # just the form
    form = read_form(response)
    assert form["situation"].startswith("Checkout was slow because")
    assert form["task"] == "I needed to get p95 under 400 ms before the sale."
    assert form["action"] == "I added a Redis cache in Python for the lookups."
    assert form["result"] == "p95 dropped from 900 ms to 310 ms."
    assert form["category"] == "Performance"
    assert form["tags"] == "Redis, Python"
    assert form["title"]  # the user gave none, so the proposal's
    assert form["work_date"] == "2026-11-20"
    body = text(response)
    assert "nothing is saved yet" in body
    assert NOTES in body  # the original text, to copy back from
    assert entries(app) == []
    [call] = ledger(app)
    assert (call.purpose, call.user_id, call.outcome) == ("structure", member.member.id, "ok")


def test_after_structuring_the_capture_form_shows_every_star_part(client: Client,
                                                                 member: Actors) -> None:
    before = text(client.get("/log"))
    assert "Notes" in before and 'class="star-details"' in before
    after = text(client.post_form("/log/structure", capture(), htmx=True))
    for label in ("Situation", "Task", "Action", "Result"):
        assert f">{label}</label>" in after
    assert 'class="star-details"' not in after


def test_without_htmx_it_answers_the_whole_log_page_with_the_filled_form(client: Client,
                                                                         member: Actors) -> None:
    response = client.post_form("/log/structure", capture())
    assert response.status_code == 200
    body = text(response)
    assert "<h1>Work log</h1>" in body and 'id="entry-list"' in body
    assert read_form(response)["result"] == "p95 dropped from 900 ms to 310 ms."


def test_a_structured_draft_saves_like_any_entry(app, client: Client, member: Actors) -> None:
    form = read_form(client.post_form("/log/structure", capture("Faster checkout"), htmx=True))
    form.pop("csrf_token")
    form["action"] += " Also wrote a runbook."
    response = client.post_form("/log/entries", form, htmx=True)
    assert response.status_code == 200
    [entry] = entries(app)
    assert entry.title == "Faster checkout"
    assert entry.action.endswith("Also wrote a runbook.")
    assert entry.result == "p95 dropped from 900 ms to 310 ms."
    assert entry.category == "Performance"


def test_it_keeps_the_title_and_category_typed_and_adds_to_the_tags(client: Client,
                                                                   member: Actors) -> None:
    form = read_form(client.post_form(
        "/log/structure", capture("Card lookup cache", category="Payments", tags="Go, redis"),
        htmx=True))
    assert form["title"] == "Card lookup cache"
    assert form["category"] == "Payments"
    assert form["tags"] == "Go, redis, Python"  # no second Redis


def test_it_suggests_the_users_own_categories(app, client: Client, member: Actors) -> None:
    make_entry(app, member.member, "Old one", category="Checkout speed")
    make_entry(app, member.teammate, "Not mine", category="Secret project")
    body = text(client.post_form("/log/structure", capture(
        notes="More checkout speed work: I added a Redis cache."), htmx=True))
    assert read_form_from(body)["category"] == "Checkout speed"
    assert '<option value="Checkout speed">' in body and "Secret project" not in body


def read_form_from(body: str, form_id: str = "capture") -> dict[str, str]:
    reader = FormReader(form_id)
    reader.feed(body)
    return reader.values


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
def test_empty_text_is_refused_with_a_message(app, client: Client, member: Actors,
                                              htmx: bool) -> None:
    response = client.post_form("/log/structure", capture(notes="  "), htmx=htmx)
    assert response.status_code == 422
    assert "Write what you did first" in text(response)
    assert ledger(app) == []


def test_the_title_alone_is_enough(client: Client, member: Actors) -> None:
    form = read_form(client.post_form(
        "/log/structure", capture("Migrated the billing jobs to Kubernetes", notes=""), htmx=True))
    assert form["title"] == "Migrated the billing jobs to Kubernetes"
    assert "Kubernetes" in form["tags"]


def test_text_over_10000_characters_is_refused_and_kept(app, client: Client,
                                                        member: Actors) -> None:
    long_notes = "word " * 2001  # ten-thousand-odd characters
    response = client.post_form("/log/structure", capture("Long", notes=long_notes.strip(),
                                                          task="more"), htmx=True)
    assert response.status_code == 422
    assert "at most 10,000 characters" in text(response)
    form = read_form(response)
    assert (form["situation"], form["task"], form["title"]) == (long_notes.strip(), "more", "Long")
    assert ledger(app) == []


def test_the_model_reads_every_star_part_the_user_wrote(client: Client, member: Actors) -> None:
    form = read_form(client.post_form("/log/structure", capture(
        notes="Deploys failed twice a week.", result="Deploys now pass; failures down 90%."),
        htmx=True))
    assert form["situation"] == "Deploys failed twice a week."
    assert form["result"] == "Deploys now pass; failures down 90%."


def test_it_takes_a_constant_number_of_queries(app, client: Client, member: Actors) -> None:
    client.csrf_token()  # fetched once per session; not part of what is counted

    def statements() -> int:
        with count_statements(app) as counter:
            assert client.post_form("/log/structure", capture(), htmx=True).status_code == 200
        return counter.count

    few = statements()
    make_entries(app, member.member, 30)
    assert statements() == few


# --- access, CSRF, limits -------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(app, client: Client, actors: Actors) -> None:
    response = client.post_form("/log/structure", capture())
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert ledger(app) == []


def test_it_needs_the_csrf_token(app, client: Client, member: Actors) -> None:
    response = client.post("/log/structure", data=capture(), headers=HX)
    assert response.status_code == 400
    assert ledger(app) == []


@pytest.mark.parametrize("config_overrides", [{"STRUCTURE_RATE_LIMIT": "2/minute"}])
def test_it_is_rate_limited_per_user(app, client: Client, member: Actors) -> None:
    for _ in range(2):
        assert client.post_form("/log/structure", capture(), htmx=True).status_code == 200
    refused = client.post_form("/log/structure", capture(), htmx=True)
    assert refused.status_code == 429
    assert "Try again in" in text(refused)
    assert refused.headers["HX-Retarget"] == "#flashes"  # the form, and its text, stay as they are
    assert len(ledger(app)) == 2


# --- the edit form --------------------------------------------------------------------------


@pytest.fixture
def entry_id(app, actors: Actors) -> int:
    return make_entry(app, actors.member, "Checkout cache", situation=NOTES, category="Payments")


def edit_form(**fields: str) -> dict[str, str]:
    return {"title": "Checkout cache", "situation": NOTES, "work_date": "2026-11-20",
            "impact": "Medium", "category": "Payments", "version": "1", **fields}


def test_it_structures_the_inline_editor_and_keeps_it_inline(app, client: Client, member: Actors,
                                                             entry_id: int) -> None:
    response = client.post_form(f"/log/entries/{entry_id}/structure", {**edit_form(), "inline": "1"},
                                htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith("<form")
    assert f'hx-post="/log/entries/{entry_id}"' in body  # saving stays inline
    form = read_form(response, f"entry-{entry_id}")
    assert form["version"] == "1"
    assert form["result"] == "p95 dropped from 900 ms to 310 ms."
    assert form["category"] == "Payments"
    saved = load_entry(app, entry_id)
    assert (saved.version, saved.result, saved.situation) == (1, "", NOTES)


def test_it_structures_the_edit_page_without_htmx(client: Client, member: Actors,
                                                  entry_id: int) -> None:
    response = client.post_form(f"/log/entries/{entry_id}/structure", edit_form())
    assert response.status_code == 200
    body = text(response)
    assert "<h1>Edit entry</h1>" in body
    form = read_form(response, f"entry-{entry_id}")
    assert form["task"] == "I needed to get p95 under 400 ms before the sale."


def test_on_the_edit_page_with_htmx_the_form_keeps_posting_normally(client: Client, member: Actors,
                                                                   entry_id: int) -> None:
    response = client.post_form(f"/log/entries/{entry_id}/structure", edit_form(), htmx=True)
    body = response.get_data(as_text=True)
    assert "<h1>" not in body
    assert f'hx-post="/log/entries/{entry_id}"' not in body


def test_a_structured_edit_still_detects_a_stale_save(app, client: Client, member: Actors,
                                                      entry_id: int) -> None:
    form = read_form(client.post_form(f"/log/entries/{entry_id}/structure", edit_form(),
                                      htmx=True), f"entry-{entry_id}")
    form.pop("csrf_token")
    assert client.post_form(f"/log/entries/{entry_id}", {**edit_form(), "title": "Elsewhere"}
                            ).status_code == 302  # someone saves version 1 first
    stale = client.post_form(f"/log/entries/{entry_id}", form)
    assert stale.status_code == 409
    assert load_entry(app, entry_id).title == "Elsewhere"


@pytest.mark.parametrize("who", ["teammate", "lead", "outsider", "admin"])
def test_others_get_404_for_an_entrys_structure(app, client: Client, auth: AuthActions,
                                                actors: Actors, entry_id: int, who: str) -> None:
    auth.login_as(getattr(actors, who))
    response = client.post_form(f"/log/entries/{entry_id}/structure", edit_form(), htmx=True)
    assert response.status_code == 404
    assert "Checkout was slow" not in text(response)
    assert ledger(app) == []


def test_a_missing_version_is_a_bad_request(client: Client, member: Actors, entry_id: int) -> None:
    data = edit_form()
    del data["version"]
    assert client.post_form(f"/log/entries/{entry_id}/structure", data).status_code == 400


# --- through an OpenAI-compatible server ----------------------------------------------------


class TestThroughAModel:
    @pytest.fixture
    def config_overrides(self, llm_server) -> dict:
        return llm_server.config(LLM_TIMEOUT_SECONDS=1, LLM_RETRY_AFTER_MAX_SECONDS=1)

    def test_a_normal_answer_fills_the_form(self, app, client: Client, member: Actors,
                                            llm_server) -> None:
        make_entry(app, member.member, "Earlier", category="Payments")
        make_entry(app, member.teammate, "Theirs", category="Secret project")
        llm_server.script(Reply.normal(
            '```json\n{"title": "Cached card lookups", "situation": "Checkout was slow.",'
            ' "task": "p95 under 400 ms.", "action": "Added a Redis cache.",'
            ' "result": "p95 310 ms.", "category": "Payments", "impact": "High",'
            ' "tags": ["Redis", "Python"]}\n```'))
        response = client.post_form("/log/structure", capture(), htmx=True)
        assert response.status_code == 200
        form = read_form(response)
        assert (form["title"], form["situation"], form["task"], form["action"], form["result"]) == (
            "Cached card lookups", "Checkout was slow.", "p95 under 400 ms.", "Added a Redis cache.",
            "p95 310 ms.")
        assert (form["category"], form["impact"], form["tags"]) == ("Payments", "High", "Redis, Python")
        [request] = llm_server.requests
        assert request.data == {"text": NOTES, "categories": ["Payments"]}
        [call] = ledger(app)
        assert (call.purpose, call.outcome, call.user_id) == ("structure", "ok", member.member.id)
        assert len(entries(app)) == 2  # the two made above; structuring saved nothing

    @pytest.mark.parametrize("replies, outcome, message", [
        ([Reply.malformed()], "malformed", "could not be read"),
        ([Reply.normal("Sorry, I cannot help with that.")], "ok", "could not be read"),
        ([Reply.server_error(500, headers={"Retry-After": "0"})] * 3, "unavailable", "not available"),
        ([Reply.hang(10)], "deadline", "took too long"),
    ], ids=["malformed", "prose", "500", "hang"])
    @pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
    def test_a_failure_shows_a_message_and_keeps_the_text(self, app, client: Client,
                                                          member: Actors, llm_server, replies,
                                                          outcome, message, htmx) -> None:
        llm_server.script(*replies)
        typed = capture("My title", task="My own task", category="Mine", tags="Rust")
        response = client.post_form("/log/structure", typed, htmx=htmx)
        assert response.status_code == 503
        assert message in text(response)
        assert "Your text is unchanged below." in text(response)
        form = read_form(response)
        for name in ("title", "situation", "task", "category", "tags", "work_date", "impact"):
            assert form[name] == typed[name]
        [call] = ledger(app)
        assert (call.purpose, call.outcome) == ("structure", outcome)
        assert entries(app) == []

    def test_a_failure_in_the_editor_keeps_its_text_and_version(self, app, client: Client,
                                                                member: Actors, llm_server,
                                                                entry_id: int) -> None:
        llm_server.script(Reply.hang(10))
        data = {**edit_form(task="Half-written task"), "inline": "1"}
        response = client.post_form(f"/log/entries/{entry_id}/structure", data, htmx=True)
        assert response.status_code == 503
        form = read_form(response, f"entry-{entry_id}")
        assert (form["task"], form["version"], form["situation"]) == ("Half-written task", "1", NOTES)

    def test_hostile_answers_are_shown_as_text(self, client: Client, member: Actors,
                                               llm_server) -> None:
        hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>'
        llm_server.script(Reply.normal(
            '{"title": "' + hostile.replace('"', '\\"') + '", "situation": "</textarea>'
            + hostile.replace('"', '\\"') + '", "category": "\\"><b>x", "tags": ["<i>t</i>"]}'))
        response = client.post_form("/log/structure", capture(notes=INJECTION), htmx=True)
        assert response.status_code == 200
        assert_inert(response.get_data(as_text=True))
        form = read_form(response)
        assert form["situation"] == "</textarea>" + hostile
        assert form["category"] == '"><b>x'

"""No NUL byte anywhere gives a 5xx: every field of every form, every query string, JSON bodies.

The forms are not listed here: the test signs in as each actor, crawls the app from every
argument-free GET route (following links and the pages that posting forms leads to) and
collects every <form> (and htmx trigger) it finds. Each field of each form is then sent with a
NUL (and other control characters) inside its value, one field at a time, on SQLite and
PostgreSQL. Finally every POST route of the app must have been reached by some form, so a
new form cannot silently escape the check.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import MethodNotAllowed, NotFound

from app.extensions import db
from app.models import LogEntry, User
from app.security.input import clean_data, clean_str
from tests.conftest import PASSWORD, Actors, Client
from tests.llm_server import WEEK, make_week

NASTY = "\x00\x01\x1b\x7f"  # NUL, control characters, DEL
SURROGATE = "\ud800"  # a lone surrogate: only JSON can carry one (forms are UTF-8 bytes)
CSRF_FIELD = "csrf_token"
# POST routes not driven by an HTML form: the JSON API (tested below), and company sign-in's
# start (a link; POST is accepted too). Routes whose form only shows with state this crawl does
# not make (a linked identity, a failed job) are listed apart: their forms carry ids only.
# Slack's endpoints take signed requests from Slack, not forms (tests/test_slack.py).
NOT_FORMS = {"api.create_daily_log", "auth.oidc_login", "integrations.slack_command",
             "integrations.slack_interaction"}
NEEDS_STATE = {"account.unlink_identity", "admin.unlink_identity", "admin.retry_job", "admin.cancel_job",
               # A Slack link, a signed link or unsubscribe token, a repository's suggestions.
               "account.unlink_slack", "integrations.slack_link", "notifications.unsubscribe",
               "suggestions.accept", "suggestions.dismiss", "account.disconnect_repo",
               # Retry shows only beside a failed publication (tests/test_publishing.py).
               "reviews.retry_publish"}
MAX_URLS_PER_ENDPOINT = 3


@pytest.fixture
def config_overrides() -> dict:
    # Hundreds of submissions per actor: limits are tested elsewhere.
    return {"LOGIN_RATE_LIMIT": "10000/minute", "ASK_RATE_LIMIT": "10000/minute",
            "STRUCTURE_RATE_LIMIT": "10000/minute", "LLM_OFFLINE_CHUNK_DELAY": 0,
            # The repository forms queue fetches: to a closed local port, never out.
            "GITHUB_API_URL": "http://127.0.0.1:9", "GITLAB_URL": "http://127.0.0.1:9"}


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # name, kind, value

    def key(self, app: Flask) -> tuple:
        return (endpoint_of(app, self.action, self.method), self.method,
                tuple(sorted({name for name, _, _ in self.fields})))


class PageParser(HTMLParser):
    """Links, forms (with their inputs, textareas, selects and named buttons) and htmx posts."""

    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._stack: list[Form] = []
        self._by_id: dict[str, Form] = {}
        self._textarea: tuple[Form, str, list[str]] | None = None
        self._select: tuple[Form, str, list[str]] | None = None

    def _url(self, raw: str | None) -> str | None:
        if raw is None:
            return None
        url = urljoin(self.base, raw)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or parts.scheme not in ("", "http"):
            return None
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _owner(self, attrs: dict[str, str | None]) -> Form | None:
        if attrs.get("form") and attrs["form"] in self._by_id:
            return self._by_id[attrs["form"]]
        return self._stack[-1] if self._stack else None

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attr_list)
        for name in ("href", "hx-get"):
            url = self._url(attrs.get(name))
            if url and not url.startswith("/static/"):
                self.links.append(url)
        if tag == "form":
            method = (attrs.get("method") or "get").upper()
            action = self._url(attrs.get("hx-post") or attrs.get("action") or self.base)
            form = Form(action or self.base, "POST" if attrs.get("hx-post") else method)
            self.forms.append(form)
            self._stack.append(form)
            if attrs.get("id"):
                self._by_id[attrs["id"]] = form
            return
        owner = self._owner(attrs)
        other_action = self._url(attrs.get("formaction") or attrs.get("hx-post"))
        if other_action and owner is not None and other_action != owner.action:
            # A button posting the same form elsewhere (e.g. "Structure with AI").
            twin = Form(other_action, "POST", owner.fields)
            self.forms.append(twin)
        elif attrs.get("hx-post") and owner is None:
            self.forms.append(Form(other_action or self.base, "POST",
                                   [(attrs["name"], "hidden", attrs.get("value") or "")]
                                   if attrs.get("name") else []))
        if tag == "option" and self._select is not None:
            if attrs.get("selected") is not None or not self._select[2]:
                self._select[2][:] = [attrs.get("value") or ""]
            return
        name = attrs.get("name")
        if owner is None or not name:
            return
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                kind = f"{kind}-off"
            owner.fields.append((name, kind, attrs.get("value") or ""))
        elif tag == "button":
            owner.fields.append((name, "button", attrs.get("value") or ""))
        elif tag == "textarea":
            self._textarea = (owner, name, [])
        elif tag == "select":
            self._select = (owner, name, [])

    def handle_data(self, data: str) -> None:
        if data.strip().startswith("http://localhost/"):
            # A link shown as text to copy (an invite link).
            url = self._url(data.strip())
            if url:
                self.links.append(url)
        if self._textarea is not None:
            self._textarea[2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._stack:
            self._stack.pop()
        elif tag == "textarea" and self._textarea is not None:
            owner, name, text = self._textarea
            owner.fields.append((name, "textarea", "".join(text)))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            owner, name, value = self._select
            owner.fields.append((name, "select", value[0] if value else ""))
            self._select = None


def endpoint_of(app: Flask, url: str, method: str = "GET") -> str | None:
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(urlsplit(url).path, method=method)
    except (NotFound, MethodNotAllowed):
        return None
    return endpoint


SAMPLES = {
    "email": "nul-{n}@example.com",
    "password": PASSWORD,
    "date": "2026-11-20",
    "week": WEEK,
    "number": "1",
}


def sample(kind: str, name: str, value: str, n: int) -> str:
    if value or kind == "select":
        return value
    if name in ("password", "current_password", "reauth_password"):
        return PASSWORD
    if "email" in name:
        return SAMPLES["email"].format(n=n)
    return SAMPLES.get(kind, f"text {n}").format(n=n)


def with_nul(text: str) -> str:
    """`text` with the nasty characters inside it (so what is left after cleaning is valid)."""
    middle = max(1, len(text) // 2)
    return text[:middle] + NASTY + text[middle:]


def body_of(form: Form, n: int, target: str | None = None) -> list[tuple[str, str]]:
    known = target is None or any(name == target for name, _, _ in form.fields)
    data = [] if known else [(target, with_nul("x"))]
    for name, kind, value in form.fields:
        if kind in ("checkbox-off", "radio-off", "submit", "button", "reset") and name != target:
            continue
        if name == CSRF_FIELD:
            continue
        text = sample(kind, name, value, n)
        if name in ("new_password", "confirm") and "new_password" in {f[0] for f in form.fields}:
            text = f"another horse battery staple {n}"
        data.append((name, with_nul(text) if name == target else text))
    return data


def send(client: Client, form: Form, data: list[tuple[str, str]]):
    if form.method == "GET":
        response = client.get(urlsplit(form.action).path, query_string=MultiDict(data))
    else:
        response = client.post_form(form.action, MultiDict(data), htmx=False)
    finish(response)
    return response


def finish(response) -> None:
    """Read a (possibly streamed) response to its end and close it, as a server would."""
    response.get_data()
    response.close()


def crawl(app: Flask, client: Client, start: list[str]) -> tuple[list[Form], list[str]]:
    seen: set[str] = set()
    per_endpoint: dict[str, int] = {}
    forms: dict[tuple, Form] = {}
    queue = deque(start)
    visited = []
    while queue:
        url = queue.popleft()
        endpoint = endpoint_of(app, url)
        if url in seen or endpoint is None or endpoint.startswith(("ops.", "api.", "static")):
            continue
        if per_endpoint.get(endpoint, 0) >= MAX_URLS_PER_ENDPOINT:
            continue
        seen.add(url)
        per_endpoint[endpoint] = per_endpoint.get(endpoint, 0) + 1
        response = client.get(url)
        finish(response)
        assert response.status_code < 500, (url, response.status_code)
        visited.append(url)
        if response.mimetype != "text/html":
            continue
        parser = PageParser(url)
        parser.feed(response.get_data(as_text=True))
        queue.extend(parser.links)
        for form in parser.forms:
            forms.setdefault(form.key(app), form)
    return list(forms.values()), visited


def start_urls(app: Flask) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and not rule.arguments and rule.endpoint != "static":
            urls.append(rule.rule)
    return sorted(urls)


def fuzz(app: Flask, client: Client, forms: list[Form], reached: set[str], counter: list[int],
         links: list[str] | None = None, only: str | None = None) -> None:
    for form in forms:
        names = [name for name, _, _ in form.fields if name != CSRF_FIELD] or ["extra"]
        for name in names if only is None else [only]:
            counter[0] += 1
            data = body_of(form, counter[0], name)
            response = send(client, form, data)
            assert response.status_code < 500, (form.method, form.action, name, response.status_code)
            if links is not None and response.mimetype == "text/html":
                parser = PageParser(form.action)
                parser.feed(response.get_data(as_text=True))
                links.extend(parser.links)
            endpoint = endpoint_of(app, form.action, form.method)
            if endpoint:
                reached.add(endpoint)


@pytest.fixture
def seeded(app: Flask, actors: Actors, client: Client, auth) -> Actors:
    make_week(app, actors.member)
    auth.login_as(actors.member)
    # A submitted review (the lead's forms) and a question (the feedback form).
    assert client.post_form(f"/reviews/{WEEK}", {"body": "Shipped [#1].", "version": "0",
                                                 "action": "submit"}).status_code == 302
    asked = client.post_form("/ask", {"question": "What did I ship?"})
    finish(asked)
    assert asked.status_code in (200, 303)
    with app.app_context():
        trashed = db.session.scalar(sa.select(LogEntry).order_by(LogEntry.id))
        trashed.deleted_at = trashed.updated_at
        for user in db.session.scalars(sa.select(User)):
            user.failed_login_count = 1  # an "unlock" button on every user's page
        db.session.commit()
    return actors


def test_a_nul_in_any_field_of_any_form_is_never_a_server_error(app: Flask, seeded: Actors,
                                                                 client: Client, auth) -> None:
    reached: set[str] = set()
    counter = [0]
    starts = start_urls(app)
    anonymous = app.test_client()
    forms, _ = crawl(app, anonymous, starts)  # sign-in page (and whatever needs no account)
    fuzz(app, anonymous, forms, reached, counter)
    shown: list[str] = []  # links pages show after a submission (an invite link, shown once)
    tried = {form.key(app) for form in forms}
    kinds: dict[str | None, Form] = {}  # endpoint → a form posting to it
    for user in (seeded.member, seeded.lead, seeded.admin):
        # Two rounds: what the first round's submissions made (entries, invites, teams)
        # shows new pages and forms in the second.
        for _round in range(2):
            auth.login_as(user)
            found, _ = crawl(app, client, starts)
            # Each kind of form once (same route, same fields), whoever it was shown to.
            forms = [form for form in found if form.key(app) not in tried]
            tried.update(form.key(app) for form in forms)
            kinds.update({form.key(app)[0]: form for form in forms})
            # Forms with fields first: the bare buttons (delete, revoke, end sessions) after
            # them, so the things those forms edit still exist when they are tried.
            forms.sort(key=lambda form: all(name == CSRF_FIELD for name, _, _ in form.fields))
            for form in forms:
                auth.login_as(user)  # a form may have signed us out or ended our sessions
                fuzz(app, client, [form], reached, counter, shown)
    # Pages only reachable through such a link, as someone signed out (the invitee).
    # An invite works once: each field of its form is tried with a link of its own, made by
    # sending the admin's invite form (as found above) once more per field.
    def invite_link() -> str:
        auth.login_as(seeded.admin)
        counter[0] += 1
        form = kinds["admin.invite_user"]
        response = client.post_form(form.action, MultiDict(body_of(form, counter[0])))
        parser = PageParser(form.action)
        parser.feed(response.get_data(as_text=True))
        return next(url for url in parser.links if endpoint_of(app, url) == "auth.accept_invite")

    assert any(endpoint_of(app, url) == "auth.accept_invite" for url in shown)
    invites = (invite_link() for _ in iter(int, 1))
    invitee = app.test_client()
    forms, _ = crawl(app, invitee, [next(invites)])
    accept = next(form for form in forms if form.method == "POST")
    for name, kind, value in accept.fields:
        if name == CSRF_FIELD:
            continue
        link = next(invites)
        fuzz(app, app.test_client(), [Form(link, "POST", accept.fields)], reached, counter,
             only=name)
    post_routes = {
        rule.endpoint for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.endpoint.startswith("ops.")
    }
    assert post_routes - NOT_FORMS - NEEDS_STATE - reached == set()
    assert counter[0] > 100
    with app.app_context():
        texts = db.session.scalars(sa.select(User.display_name)).all()
    assert not any("\x00" in text for text in texts)


def test_query_strings_with_nul_on_every_get_route(app: Flask, seeded: Actors, client: Client,
                                                   auth) -> None:
    """Every argument-free GET route, with a NUL in every parameter its forms and links use."""
    auth.login_as(seeded.admin)
    names: set[str] = {"q", "page", "user", "from", "to", "tag", "category", "impact", "next"}
    forms, visited = crawl(app, client, start_urls(app))
    for form in forms:
        names.update(name for name, _, _ in form.fields)
    for url in visited:
        names.update(key for key, _ in parse_qsl(urlsplit(url).query))
    names.discard(CSRF_FIELD)
    for path in start_urls(app):
        for name in sorted(names):
            response = client.get(path, query_string={name: f"a{NASTY}b"})
            finish(response)
            assert response.status_code < 500, (path, name, response.status_code)
        response = client.get(path + "?x=%00&user=%00&q=%00%01")
        finish(response)
        assert response.status_code < 500, path


def test_path_values_with_nul(client: Client, auth, seeded: Actors) -> None:
    auth.login_as(seeded.member)
    assert client.get("/reviews/2026-W4%008").status_code == 200  # cleaned to 2026-W48
    assert client.get("/reviews/%00").status_code == 404


def test_json_bodies_are_cleaned(app: Flask, seeded: Actors, client: Client) -> None:
    from tests.test_tokens import issue

    token = issue(app, seeded.member)[1]
    payload = {"date": "2026-11-20", "title": f"Fixed{NASTY}{SURROGATE} the bug",
               "tech_stack": [f"a{NASTY}{SURROGATE}"]}
    response = client.post(  # escaped JSON: a lone surrogate has no UTF-8 bytes
        "/api/daily-logs", headers={"Authorization": f"Bearer {token}"},
        data=json.dumps(payload, ensure_ascii=True), content_type="application/json",
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["title"] == "Fixed the bug" and body["tech_stack"] == ["a"]


def test_cleaning_keeps_ordinary_text() -> None:
    assert clean_str("결제\tmodule\r\nline two") == "결제\tmodule\r\nline two"
    assert clean_str(f"a{NASTY}{SURROGATE}b") == "ab"
    assert clean_data({f"k{NASTY}": [f"v{SURROGATE}", 1, None]}) == {"k": ["v", 1, None]}

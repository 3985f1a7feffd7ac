"""The JSON API: the seed's daily-log POST, reading entries and reviews, and every error."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User
from app.models.log import LogEntry
from app.models.review import WeeklyReview
from app.services.log.daily import split_context
from tests.log_support import count_statements, make_entry, row_ids
from tests.test_tokens import bearer, issue

# The seed's curl example (001, "Daily log 생성"), byte for byte as curl sends it: in single
# quotes the shell passes `\n` through, so JSON gets an escaped newline.
SEED_BODY = (
    '{"title":"Test","context":"### Situation\\nTest","category":"테스트",'
    '"impact_level":"Low","tech_stack":["Test"]}'
).encode()


@pytest.fixture
def token(app, actors) -> str:
    return issue(app, actors.member)[1]


def post(client, raw, body, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post("/api/daily-logs", data=data,
                       headers={**bearer(raw), "Content-Type": "application/json", **headers})


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.json
    assert body["error"] == code
    assert body["message"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


# --- POST /api/daily-logs ------------------------------------------------------------------


def test_the_seed_payload_creates_an_entry_that_shows_in_the_log(app, client, auth, actors, token):
    with app.app_context():
        db.session.get(User, actors.member.id).timezone = "Asia/Seoul"
        db.session.commit()
    before = datetime.now(ZoneInfo("Asia/Seoul")).date()
    response = post(client, token, SEED_BODY)
    after = datetime.now(ZoneInfo("Asia/Seoul")).date()
    assert response.status_code == 201, response.get_data(as_text=True)
    entry = response.json
    assert entry["title"] == "Test"
    assert entry["situation"] == "Test"
    assert entry["task"] == entry["action"] == entry["result"] == ""
    assert entry["context"] == "### Situation\nTest"
    assert entry["category"] == "테스트"
    assert entry["impact_level"] == "Low"
    assert entry["tech_stack"] == ["Test"]
    assert date.fromisoformat(entry["date"]) in {before, after}  # today where the user is
    assert response.headers["Location"] == f"/api/daily-logs/{entry['id']}"

    # The same entry through the API and in the member's own /log page.
    assert client.get(response.headers["Location"], headers=bearer(token)).json == entry
    auth.login_as(actors.member)
    page = client.get("/log").get_data(as_text=True)
    assert row_ids(page) == [entry["id"]]
    assert "테스트" in page
    assert client.get(f"/log/entries/{entry['id']}").status_code == 200


def test_korean_headings_split_the_context_into_star_parts(app, client, auth, actors, token):
    context = ("배경: 결제 API가 느렸다\n\n###   상황  \n피크 시간 p95 1.2초\n### 과제\n절반으로 줄이기\n"
               "### 행동\n캐시를 추가했다\n###  결과\np95 0.4초")
    response = post(client, token, {"title": "결제 API 개선", "context": context, "date": "2026-11-20",
                                    "impact_level": "high", "tech_stack": ["Redis", "#python"]})
    assert response.status_code == 201, response.get_data(as_text=True)
    entry = response.json
    assert entry["situation"] == "배경: 결제 API가 느렸다\n\n피크 시간 p95 1.2초"
    assert entry["task"] == "절반으로 줄이기"
    assert entry["action"] == "캐시를 추가했다"
    assert entry["result"] == "p95 0.4초"
    assert entry["date"] == "2026-11-20"
    assert entry["impact_level"] == "High"  # the web form's rules: case-insensitive choice
    assert entry["tech_stack"] == ["Redis", "python"]  # ... and tag clean-up
    auth.login_as(actors.member)
    detail = client.get(f"/log/entries/{entry['id']}").get_data(as_text=True)
    assert "캐시를 추가했다" in detail and "p95 0.4초" in detail
    assert "결제 API 개선" in client.get("/log").get_data(as_text=True)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("Just some notes", {"situation": "Just some notes"}),
        ("### situation\na\n### TASK\nb\n### Action:\nc\n### Result\nd",
         {"situation": "a", "task": "b", "action": "c", "result": "d"}),
        ("intro\n## Result\nshipped", {"situation": "intro", "result": "shipped"}),
        ("### Result\none\n### Result\ntwo", {"result": "one\n\ntwo"}),
        ("### Situational awareness\ntext", {"situation": "### Situational awareness\ntext"}),
        ("### 결과\r\n완료", {"result": "완료"}),
        ("", {}),
    ],
)
def test_split_context(context, expected):
    parts = {"situation": "", "task": "", "action": "", "result": ""}
    assert split_context(context) == {**parts, **expected}


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"context": "no title"}, "title", "This field is required."),
        ({"title": "   "}, "title", "This field is required."),
        ({"title": "x" * 201}, "title", "At most 200 characters."),
        ({"title": 42}, "title", "Must be a string."),
        ({"title": "ok", "impact_level": "Huge"}, "impact_level", "Choose Low, Medium or High."),
        ({"title": "ok", "tech_stack": "python"}, "tech_stack", "Must be a list of strings."),
        ({"title": "ok", "tech_stack": [1, 2]}, "tech_stack", "Must be a list of strings."),
        ({"title": "ok", "tech_stack": [f"t{i}" for i in range(21)]}, "tech_stack", "At most 20 tags."),
        ({"title": "ok", "category": "c" * 81}, "category", "At most 80 characters."),
        ({"title": "ok", "date": "2026-13-01"}, "date", "Enter a date as YYYY-MM-DD."),
        ({"title": "ok", "date": "20261120"}, "date", "Enter a date as YYYY-MM-DD."),
        ({"title": "ok", "context": "### Result\n" + "r" * 10_001}, "context",
         "Result: At most 10000 characters."),
    ],
)
def test_invalid_payloads_get_422_with_a_message_per_field(app, client, token, payload, field, message):
    response = post(client, token, payload)
    body = assert_error(response, 422, "validation_failed")
    assert body["fields"][field] == message
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LogEntry)) == 0


def test_the_api_and_the_web_form_apply_the_same_rules(app, client, auth, actors, token):
    """What the form refuses the API refuses, with the same message."""
    auth.login_as(actors.member)
    web = client.post_form("/log/entries", {"title": "x" * 201, "impact": "Low"})
    assert web.status_code == 422 and "At most 200 characters." in web.get_data(as_text=True)
    auth.logout()
    api = post(client, token, {"title": "x" * 201})
    assert api.status_code == 422 and api.json["fields"]["title"] == "At most 200 characters."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"title": "Test",', "not valid JSON"),
        (b"\xff\xfe not utf-8", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'["title", "Test"]', "must be a JSON object"),
        (b'"Test"', "must be a JSON object"),
        (b"[" * 50_000, "not valid JSON"),  # too deep for the parser: still a clean 400
    ],
)
def test_malformed_bodies_get_400(client, token, body, message):
    response = post(client, token, body)
    assert message in assert_error(response, 400, "invalid_json")["message"]


@pytest.fixture
def config_overrides(request):
    return getattr(request, "param", {})


@pytest.mark.parametrize("config_overrides", [{"API_MAX_BODY_BYTES": 2048}], indirect=True)
def test_a_body_over_the_limit_gets_413(app, client, token):
    response = post(client, token, {"title": "big", "context": "x" * 3000})
    assert_error(response, 413, "payload_too_large")
    assert post(client, token, {"title": "small", "context": "x" * 1000}).status_code == 201
    # A streamed body without Content-Length (chunked) is measured as it is read.
    streamed = client.post("/api/daily-logs", input_stream=io.BytesIO(json.dumps(
        {"title": "big", "context": "x" * 3000}).encode()), headers=bearer(token),
        environ_overrides={"wsgi.input_terminated": True})
    assert_error(streamed, 413, "payload_too_large")
    small = client.post("/api/daily-logs", input_stream=io.BytesIO(b'{"title": "streamed"}'),
                        headers=bearer(token), environ_overrides={"wsgi.input_terminated": True})
    assert small.status_code == 201 and small.json["title"] == "streamed"


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "authentication_required"),
        ({"Authorization": "Basic bWVtYmVyOnB3"}, "authentication_required"),
        ({"Authorization": "Bearer"}, "authentication_required"),
        ({"Authorization": "Bearer wl_not-a-real-token-at-all-0123456789abcdefghijk"}, "invalid_token"),
        ({"Authorization": "Bearer sk-something-else"}, "invalid_token"),
    ],
)
def test_requests_without_a_valid_token_get_401(client, token, headers, code):
    for method, url in (("GET", "/api/daily-logs"), ("POST", "/api/daily-logs"),
                        ("GET", "/api/daily-logs/1"), ("GET", "/api/weekly-reviews/2026-W47")):
        response = client.open(url, method=method, headers=headers, data=SEED_BODY)
        assert_error(response, 401, code)
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="worklog"')


def test_a_signed_in_browser_session_does_not_authenticate_the_api(app, client, auth, actors):
    auth.login_as(actors.member)
    assert client.get("/log").status_code == 200  # the cookie is good for the web app
    assert_error(client.get("/api/daily-logs"), 401, "authentication_required")
    csrf = client.csrf_token()
    response = client.post("/api/daily-logs", data=SEED_BODY,
                           headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
    assert_error(response, 401, "authentication_required")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LogEntry)) == 0


def test_the_token_decides_whose_data_it_is_not_the_cookie(app, client, auth, actors):
    _id, teammate_token = issue(app, actors.teammate)
    auth.login_as(actors.member)
    response = post(client, teammate_token, SEED_BODY)
    assert response.status_code == 201
    with app.app_context():
        assert db.session.get(LogEntry, response.json["id"]).user_id == actors.teammate.id


def test_no_csrf_token_is_needed_with_a_bearer_token(client, token):
    assert post(client, token, SEED_BODY).status_code == 201


# --- reading ---------------------------------------------------------------------------------


def test_listing_is_newest_first_filtered_and_paginated(app, client, actors, token):
    ids = {d: make_entry(app, actors.member, f"Day {d}", work_date=date(2026, 11, d)) for d in range(1, 8)}
    make_entry(app, actors.teammate, "Not mine", work_date=date(2026, 11, 5))
    make_entry(app, actors.member, "Trashed", work_date=date(2026, 11, 5), trashed=True)

    first = client.get("/api/daily-logs?per_page=3", headers=bearer(token)).json
    assert [e["id"] for e in first["items"]] == [ids[7], ids[6], ids[5]]
    assert first["has_next"] is True and first["next_page"] == 2 and first["per_page"] == 3
    last = client.get("/api/daily-logs?per_page=3&page=3", headers=bearer(token)).json
    assert [e["id"] for e in last["items"]] == [ids[1]]
    assert last["has_next"] is False and last["next_page"] is None

    window = client.get("/api/daily-logs?from=2026-11-03&to=2026-11-05", headers=bearer(token)).json
    assert [e["title"] for e in window["items"]] == ["Day 5", "Day 4", "Day 3"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=yesterday", "from"), ("to=2026-02-30", "to"), ("page=0", "page"), ("per_page=101", "per_page"),
     ("page=abc", "page")],
)
def test_bad_query_parameters_get_400(client, token, query, field):
    body = assert_error(client.get(f"/api/daily-logs?{query}", headers=bearer(token)), 400,
                        "invalid_parameter")
    assert set(body["fields"]) == {field}


def test_listing_uses_a_constant_number_of_queries(app, client, actors, token):
    make_entry(app, actors.member, "warm-up")
    client.get("/api/daily-logs", headers=bearer(token))  # last-used written once
    with count_statements(app) as few:
        assert client.get("/api/daily-logs", headers=bearer(token)).status_code == 200
    for i in range(15):
        make_entry(app, actors.member, f"More {i}", tags="a, b, c")
    with count_statements(app) as many:
        assert len(client.get("/api/daily-logs", headers=bearer(token)).json["items"]) == 16
    assert many.count == few.count <= 4, many.statements


def test_one_entry_is_readable_only_by_its_owner(app, client, actors, token):
    mine = make_entry(app, actors.member, "Mine")
    theirs = make_entry(app, actors.teammate, "Theirs")
    trashed = make_entry(app, actors.member, "Trashed", trashed=True)
    assert client.get(f"/api/daily-logs/{mine}", headers=bearer(token)).json["title"] == "Mine"
    for entry_id in (theirs, trashed, 999_999, 2**40):
        assert_error(client.get(f"/api/daily-logs/{entry_id}", headers=bearer(token)), 404, "not_found")
    # Not even a lead reads a team member's entry through the API (the API is your own log).
    _id, lead_token = issue(app, actors.lead)
    assert_error(client.get(f"/api/daily-logs/{mine}", headers=bearer(lead_token)), 404, "not_found")


def make_review(app, user, week="2026-W47", **fields) -> int:
    with app.app_context():
        review = WeeklyReview(user_id=user.id, week=week, body=fields.pop("body", "## Week\nShipped [#1]"),
                              cited_entry_ids=fields.pop("cited_entry_ids", [1]), **fields)
        db.session.add(review)
        db.session.commit()
        return review.id


def test_a_weekly_review_is_read_by_its_author(app, client, actors, token):
    review_id = make_review(app, actors.member, status="submitted", version=2)
    make_review(app, actors.teammate, week="2026-W46")
    body = client.get("/api/weekly-reviews/2026-W47", headers=bearer(token)).json
    assert body["id"] == review_id
    assert body["week"] == "2026-W47" and body["status"] == "submitted" and body["version"] == 2
    assert body["body"] == "## Week\nShipped [#1]" and body["cited_entry_ids"] == [1]
    assert body["submitted_at"] is None and body["reviewer_id"] is None
    # Another user's week, or a week without a review, is not found.
    assert_error(client.get("/api/weekly-reviews/2026-W46", headers=bearer(token)), 404, "not_found")
    assert_error(client.get("/api/weekly-reviews/2026-W45", headers=bearer(token)), 404, "not_found")


@pytest.mark.parametrize("week", ["2026-W54", "2026-w47", "2026-47", "W47", "2026-W47x", "2026-W00"])
def test_a_malformed_week_gets_400(client, token, week):
    assert_error(client.get(f"/api/weekly-reviews/{week}", headers=bearer(token)), 400, "invalid_week")


# --- routing errors --------------------------------------------------------------------------


def test_unknown_routes_and_methods_under_api_answer_json(client, token):
    assert_error(client.get("/api/nope", headers=bearer(token)), 404, "not_found")
    assert_error(client.get("/api/daily-logs/abc", headers=bearer(token)), 404, "not_found")
    response = client.put("/api/daily-logs", headers=bearer(token), data=SEED_BODY)
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert_error(client.delete("/api/daily-logs/1", headers=bearer(token)), 405, "method_not_allowed")


def test_the_openapi_document_is_public(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.1")


# --- CORS ------------------------------------------------------------------------------------

ALLOWED = "https://tools.example.com"


@pytest.mark.parametrize("config_overrides", [{"CORS_ORIGINS": [ALLOWED]}], indirect=True)
def test_cors_only_for_listed_origins_and_only_on_api(app, client, token):
    allowed = client.get("/api/daily-logs", headers={**bearer(token), "Origin": ALLOWED})
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Location" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Origin" in allowed.headers["Vary"]
    # Errors carry it too, so a browser client can read the message.
    denied = client.get("/api/daily-logs", headers={"Origin": ALLOWED})
    assert denied.status_code == 401 and denied.headers["Access-Control-Allow-Origin"] == ALLOWED

    other = client.get("/api/daily-logs", headers={**bearer(token), "Origin": "https://evil.example"})
    assert other.status_code == 200  # same data for a non-browser, but a browser may not read it
    assert "Access-Control-Allow-Origin" not in other.headers

    outside = client.get("/health", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in outside.headers
    page = client.get("/auth/login", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in page.headers


@pytest.mark.parametrize("config_overrides", [{"CORS_ORIGINS": [ALLOWED]}], indirect=True)
def test_cors_preflight(app, client):
    preflight = client.options("/api/daily-logs", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED
    methods = {m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST"} <= methods
    allowed_headers = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers

    other = client.options("/api/daily-logs", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Methods" not in other.headers


def test_without_cors_origins_no_origin_is_allowed(client, token):
    response = client.get("/api/daily-logs", headers={**bearer(token), "Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in response.headers

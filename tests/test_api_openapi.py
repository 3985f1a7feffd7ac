"""/api/openapi.json: a valid OpenAPI 3.1 document that covers every /api route, and that a
property-based run against a live server finds truthful (no 5xx, responses match it)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from app.api.openapi import build_openapi
from tests.log_support import make_entry
from tests.test_api import make_review
from tests.test_tokens import issue


def test_the_document_validates_as_openapi_3_1(client):
    document = client.get("/api/openapi.json").json
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any violation of the 3.1 schema


def test_the_validator_would_catch_a_broken_document():
    broken = build_openapi("1")
    broken["paths"]["/api/daily-logs"]["get"]["responses"] = {"200": {"content": {}}}  # no description
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def _flask_path_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_api_route_is_documented_with_its_methods(app):
    document = build_openapi("1")
    routes = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/")]
    assert routes
    for rule in routes:
        path = _flask_path_to_openapi(rule.rule)
        assert path in document["paths"], f"{rule.rule} is not in the OpenAPI document"
        documented = {m.upper() for m in document["paths"][path]}
        assert rule.methods - {"HEAD", "OPTIONS"} <= documented, rule.rule
    documented_paths = set(document["paths"])
    assert documented_paths == {_flask_path_to_openapi(r.rule) for r in routes}


def test_every_documented_error_response_uses_the_error_schema():
    document = build_openapi("1")
    shared = document["components"]["responses"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    resolved = shared[response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response
                    schema = resolved["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


@pytest.fixture
def config_overrides():
    return {"API_RATE_LIMIT": "100000/minute"}


def test_a_property_based_run_finds_no_server_error_and_no_schema_violation(app, live_server, actors):
    import schemathesis
    from schemathesis.checks import CHECKS, load_all_checks
    from schemathesis.generation import GenerationMode

    # Real data to find: a few entries (low ids) and a review.
    for day in (18, 19, 20):
        make_entry(app, actors.member, f"Entry {day}", work_date=date(2026, 11, day), tags="python")
    make_review(app, actors.member, week="2026-W47")
    _id, raw = issue(app, actors.member)

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/openapi.json")
    # Valid and invalid data alike, against every check (`--checks all`): what the document
    # allows must be accepted and what it forbids refused.
    load_all_checks()
    checks = CHECKS.get_all()
    assert {"negative_data_rejection", "positive_data_acceptance"} <= {c.__name__ for c in checks}
    headers = {"Authorization": f"Bearer {raw}"}
    ran = []

    def explore(operation, mode):
        @settings(max_examples=30, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            # Schemathesis always writes a (made-up) Authorization for the bearer scheme; the
            # real token replaces it. A negative case without one tests missing credentials,
            # so it is sent without the token (and must be refused).
            dropped = mode is GenerationMode.NEGATIVE and "Authorization" not in (case.headers or {})
            case.call_and_validate(base_url=live_server.url, headers={} if dropped else headers,
                                   checks=checks)
            ran.append((operation.label, mode))

        run()

    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            explore(result.ok(), mode)
    # (Schemathesis leaves out the document's own path.)
    assert {label for label, _mode in ran} == {
        "GET /api/daily-logs", "POST /api/daily-logs", "GET /api/daily-logs/{entry_id}",
        "GET /api/weekly-reviews/{week}"}
    assert {mode for _label, mode in ran} == {GenerationMode.POSITIVE, GenerationMode.NEGATIVE}


# --- the document and the server agree (issue 20) ------------------------------------------


def _post(client, raw, body):
    from tests.test_tokens import bearer

    return client.post("/api/daily-logs", json=body, headers=bearer(raw))


def test_what_the_schema_forbids_the_server_refuses(app, client, actors):
    from jsonschema import Draft202012Validator, FormatChecker

    _id, raw = issue(app, actors.member)
    schema = build_openapi("1")["components"]["schemas"]["DailyLogCreate"]
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    refused = [
        ({"title": "ok", "date": ""}, "date", "Enter a date as YYYY-MM-DD."),
        ({"title": "ok", "extra": 1}, "extra", "This field is not part of the API; leave it out."),
        ({"title": "\x00\x01"}, "title", "This field is required."),
        ({"title": "ok", "impact_level": "Huge"}, "impact_level", "Choose Low, Medium or High."),
    ]
    for body, field, message in refused:
        assert not validator.is_valid(body), body
        response = _post(client, raw, body)
        assert response.status_code == 422, body
        assert response.json["fields"][field] == message
    accepted = ({"title": "ok", "impact_level": "lOw", "date": None},
                {"title": " x ", "date": "2026-11-20"})
    for body in accepted:
        assert validator.is_valid(body), body
        assert _post(client, raw, body).status_code == 201, body


def test_query_parameters_given_empty_are_refused_as_documented(app, client, actors):
    from tests.test_tokens import bearer

    _id, raw = issue(app, actors.member)
    for query in ("to=", "from=", "page=", "per_page=", "page=%EF%BC%92", "from=%202026-11-20"):
        response = client.get(f"/api/daily-logs?{query}", headers=bearer(raw))
        assert response.status_code == 400, query
        assert response.json["error"] == "invalid_parameter"
    assert client.get("/api/daily-logs?to=2026-11-20&page=2", headers=bearer(raw)).status_code == 200


@pytest.mark.parametrize(("week", "status"), [
    ("0000-W00", 400), ("2026-W54", 400), ("2026-W4", 400), ("２０２６-W47", 400),
    ("0000-W01", 404), ("2025-W53", 404), ("2026-W53", 404), ("2026-W47", 404),
])
def test_weeks_the_pattern_refuses_are_400_and_weeks_it_allows_are_looked_up(app, client, actors,
                                                                           week, status):
    import re as regex

    from tests.test_tokens import bearer

    _id, raw = issue(app, actors.member)
    pattern = build_openapi("1")["paths"]["/api/weekly-reviews/{week}"]["get"]["parameters"][0]
    allowed = regex.search(pattern["schema"]["pattern"], week) is not None
    assert allowed == (status == 404)
    response = client.get(f"/api/weekly-reviews/{week}", headers=bearer(raw))
    assert response.status_code == status

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
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    # Real data to find: a few entries (low ids) and a review.
    for day in (18, 19, 20):
        make_entry(app, actors.member, f"Entry {day}", work_date=date(2026, 11, day), tags="python")
    make_review(app, actors.member, week="2026-W47")
    _id, raw = issue(app, actors.member)

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/openapi.json")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance, response_headers_conformance]
    headers = {"Authorization": f"Bearer {raw}"}
    ran = []

    def explore(operation):
        @settings(max_examples=30, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=checks)
            ran.append(operation.label)

        run()

    for result in schema.get_all_operations():
        explore(result.ok())
    # (Schemathesis leaves out the document's own path.)
    assert set(ran) == {"GET /api/daily-logs", "POST /api/daily-logs", "GET /api/daily-logs/{entry_id}",
                        "GET /api/weekly-reviews/{week}"}

"""The OpenAPI 3.1 description of /api, served at /api/openapi.json.

Kept beside the routes and checked by tests: every /api route is here, the document
validates as OpenAPI 3.1, and a property-based run against a live server conforms to it.
"""

from __future__ import annotations

from typing import Any

from app.models.log import CATEGORY_MAX, PART_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX

# An ISO week as the API spells it: ASCII digits, week 01 to 53. A week that matches but does
# not exist (week 53 of a 52-week year, year 0) is a 404: there is no review of it.
WEEK_PATTERN = "^[0-9]{4}-W(?:0[1-9]|[1-4][0-9]|5[0-3])$"
# A title needs one character that is neither whitespace (as JSON Schema's \s and Python's
# str.split see it) nor one the server drops (control characters, lone surrogates).
TITLE_PATTERN = r"[^\s\x00-\x1f\x7f\x85\ud800-\udfff]"
IMPACT_PATTERN = "^(?:[Ll][Oo][Ww]|[Mm][Ee][Dd][Ii][Uu][Mm]|[Hh][Ii][Gg][Hh])$"
DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
ERROR_EXAMPLE = {"error": "not_found", "message": "There is nothing here.", "request_id": "3f2a…"}
INT32_MAX = 2**31 - 1


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}, **extra}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


RATE_HEADERS = {
    "X-RateLimit-Limit": {"description": "Requests allowed in the current window.",
                          "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left in the current window.",
                              "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "When the window resets (Unix time).",
                          "schema": {"type": "integer"}},
}


def _responses(ok: dict[str, dict[str, Any]], *codes: str) -> dict[str, Any]:
    common = {
        "400": _error("The request is malformed: not JSON, not a JSON object, or a bad parameter "
                      "(`invalid_json`, `invalid_parameter`, `invalid_week`). `fields` names the "
                      "bad query parameters."),
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": _error("Not found: unknown route, or not one of your objects (`not_found`)."),
        "405": _error("This method is not allowed here (`method_not_allowed`)."),
        "413": _error("The body is larger than API_MAX_BODY_BYTES (`payload_too_large`)."),
        "422": _error("Validation failed (`validation_failed`); `fields` has a message per field."),
        "429": {"$ref": "#/components/responses/RateLimited"},
        "503": _error("The service is temporarily unavailable (`service_unavailable`)."),
    }
    return {**ok, **{code: common[code] for code in codes}}


def _paths() -> dict[str, Any]:
    secured = [{"bearerAuth": []}]
    entry_id = {
        "name": "entry_id", "in": "path", "required": True, "description": "The entry's id.",
        "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
    }
    return {
        "/api/daily-logs": {
            "post": {
                "operationId": "createDailyLog",
                "summary": "Create a work-log entry (the seed's daily-log payload).",
                "description": (
                    "`context` is Markdown split on `### Situation`, `### Task`, `### Action` and "
                    "`### Result` headings (or `### 상황`, `### 과제`, `### 행동`, `### 결과`; any "
                    "heading level, case-insensitive). Text before the first heading, or a context "
                    "without headings, becomes the situation. The same rules as the web form apply."
                ),
                "tags": ["daily-logs"],
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {
                        "schema": _ref("DailyLogCreate"),
                        "example": {"title": "Test", "context": "### Situation\nTest",
                                    "category": "테스트", "impact_level": "Low",
                                    "tech_stack": ["Test"]},
                    }},
                },
                "responses": _responses(
                    {"201": _json(_ref("DailyLog"), "The entry was created.", headers={
                        "Location": {"description": "The entry's API URL.",
                                     "schema": {"type": "string"}},
                        **RATE_HEADERS,
                    })},
                    "400", "401", "405", "413", "422", "429", "503",
                ),
            },
            "get": {
                "operationId": "listDailyLogs",
                "summary": "Your entries, newest first.",
                "tags": ["daily-logs"],
                "security": secured,
                "parameters": [
                    {"name": "from", "in": "query", "description": "First work date (inclusive).",
                     "schema": {"type": "string", "format": "date", "pattern": DATE_PATTERN}},
                    {"name": "to", "in": "query", "description": "Last work date (inclusive).",
                     "schema": {"type": "string", "format": "date", "pattern": DATE_PATTERN}},
                    {"name": "page", "in": "query", "description": "Page number, from 1.",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1}},
                    {"name": "per_page", "in": "query", "description": "Entries per page.",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 30}},
                ],
                "responses": _responses(
                    {"200": _json(_ref("DailyLogPage"), "A page of entries.",
                                  headers=RATE_HEADERS)},
                    "400", "401", "405", "429", "503",
                ),
            },
        },
        "/api/daily-logs/{entry_id}": {
            "get": {
                "operationId": "getDailyLog",
                "summary": "One of your entries.",
                "description": "Only the token owner's own live entries; any other id answers 404.",
                "tags": ["daily-logs"],
                "security": secured,
                "parameters": [entry_id],
                "responses": _responses(
                    {"200": _json(_ref("DailyLog"), "The entry.", headers=RATE_HEADERS)},
                    "401", "404", "405", "429", "503",
                ),
            },
        },
        "/api/weekly-reviews/{week}": {
            "get": {
                "operationId": "getWeeklyReview",
                "summary": "Your weekly review of one ISO week.",
                "tags": ["weekly-reviews"],
                "security": secured,
                "parameters": [{
                    "name": "week", "in": "path", "required": True,
                    "description": "An ISO week, e.g. `2026-W47`.",
                    "schema": {"type": "string", "pattern": WEEK_PATTERN,
                               "examples": ["2026-W47"]},
                }],
                "responses": _responses(
                    {"200": _json(_ref("WeeklyReview"), "The review.", headers=RATE_HEADERS)},
                    "400", "401", "404", "405", "429", "503",
                ),
            },
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document.",
                "tags": ["meta"],
                "security": [],
                "responses": {
                    "200": _json({"type": "object"}, "The OpenAPI 3.1 document."),
                    "405": _error("This method is not allowed here (`method_not_allowed`)."),
                },
            },
        },
    }


def _schemas() -> dict[str, Any]:
    timestamp = {"type": "string", "format": "date-time"}
    nullable_timestamp = {"type": ["string", "null"], "format": "date-time"}
    impact = {"type": "string", "enum": ["Low", "Medium", "High"]}
    return {
        "Error": {
            "type": "object",
            "required": ["error", "message", "request_id"],
            "properties": {
                "error": {"type": "string", "description": "A stable code, e.g. `invalid_token`."},
                "message": {"type": "string", "description": "For people, in the user's language."},
                "request_id": {"type": "string", "description": "Also in the X-Request-ID header."},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Per-field messages (422, and 400 for query parameters)."},
            },
            "example": ERROR_EXAMPLE,
        },
        "DailyLogCreate": {
            # The server validates bodies against this very schema (app/api/validation.py).
            "type": "object",
            "required": ["title"],
            "additionalProperties": False,
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX,
                          "pattern": TITLE_PATTERN,
                          "description": "One line; runs of whitespace become one space."},
                "context": {"type": ["string", "null"],
                            "description": (
                                "Markdown with STAR headings; each part at most "
                                f"{PART_MAX} characters."
                            )},
                "category": {"type": ["string", "null"], "maxLength": CATEGORY_MAX},
                "impact_level": {"type": ["string", "null"], "pattern": IMPACT_PATTERN,
                                 "examples": ["Low", "Medium", "High"],
                                 "description": "Low, Medium or High (any case); default Medium."},
                "tech_stack": {"type": ["array", "null"], "maxItems": TAGS_MAX,
                               "items": {"type": "string", "maxLength": TAG_MAX}},
                "date": {"type": ["string", "null"], "format": "date",
                         "description": "YYYY-MM-DD; null or absent: today in your time zone."},
            },
        },
        "DailyLog": {
            "type": "object",
            "required": ["id", "date", "title", "context", "situation", "task", "action", "result",
                         "category", "impact_level", "tech_stack", "version", "created_at",
                         "updated_at", "url"],
            "properties": {
                "id": {"type": "integer"},
                "date": {"type": "string", "format": "date"},
                "title": {"type": "string"},
                "context": {"type": "string",
                            "description": "The STAR parts as one Markdown text with headings."},
                "situation": {"type": "string"},
                "task": {"type": "string"},
                "action": {"type": "string"},
                "result": {"type": "string"},
                "category": {"type": ["string", "null"]},
                "impact_level": impact,
                "tech_stack": {"type": "array", "items": {"type": "string"}},
                "version": {"type": "integer"},
                "created_at": timestamp,
                "updated_at": timestamp,
                "url": {"type": "string", "format": "uri", "description": "The entry in the web app."},
            },
        },
        "DailyLogPage": {
            "type": "object",
            "required": ["items", "page", "per_page", "has_next", "next_page"],
            "properties": {
                "items": {"type": "array", "items": _ref("DailyLog")},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
                "has_next": {"type": "boolean"},
                "next_page": {"type": ["integer", "null"]},
            },
        },
        "WeeklyReview": {
            "type": "object",
            "required": ["id", "week", "status", "body", "version", "cited_entry_ids", "reviewer_id",
                         "created_at", "updated_at", "submitted_at", "reviewed_at"],
            "properties": {
                "id": {"type": "integer"},
                "week": {"type": "string", "pattern": WEEK_PATTERN},
                "status": {"type": "string",
                           "enum": ["draft", "submitted", "approved", "changes_requested"]},
                "body": {"type": "string", "description": "Markdown."},
                "version": {"type": "integer"},
                "cited_entry_ids": {"type": "array", "items": {"type": "integer"}},
                "reviewer_id": {"type": ["integer", "null"]},
                "created_at": timestamp,
                "updated_at": timestamp,
                "submitted_at": nullable_timestamp,
                "reviewed_at": nullable_timestamp,
            },
        },
    }


def build_openapi(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Worklog API",
            "version": version,
            "description": (
                "Your work log over HTTP. Authenticate with a personal API token from "
                "/account/tokens (or `flask tokens create`): `Authorization: Bearer wl_…`. "
                "Cookies are never accepted. Each token has its own rate limit (API_RATE_LIMIT). "
                "Errors are JSON: `{\"error\", \"message\", \"request_id\"}`."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "daily-logs", "description": "Work-log entries."},
            {"name": "weekly-reviews", "description": "Weekly reviews (read only)."},
            {"name": "meta", "description": "About the API."},
        ],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "wl_<43 characters>",
                    "description": "A personal API token.",
                },
            },
            "schemas": _schemas(),
            "responses": {
                "Unauthorized": {
                    "description": ("No token (`authentication_required`), or an invalid, expired or "
                                    "revoked one, or its owner is deactivated (`invalid_token`)."),
                    "headers": {"WWW-Authenticate": {"description": "`Bearer realm=\"worklog\"`.",
                                                     "schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
                "RateLimited": {
                    "description": "This token made too many requests (`rate_limited`).",
                    "headers": {
                        "Retry-After": {"description": "Seconds to wait.", "required": True,
                                        "schema": {"type": "integer"}},
                        **RATE_HEADERS,
                    },
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
            },
        },
    }

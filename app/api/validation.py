"""Request bodies checked against the OpenAPI document's own schemas: one truth for both.

What `/api/openapi.json` says a body may hold is exactly what the server accepts (no extra
properties, "" is no date, lengths and counts as written there); the work-log service's rules
(the web form's) then apply on top. Each schema error becomes a per-field code, turned into
the same messages the web form shows.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from app.api.openapi import build_openapi


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = build_openapi("schema")["components"]["schemas"][name]
    return Draft202012Validator(schema, format_checker=FormatChecker(formats=["date"]))


def _code(error: ValidationError) -> str:
    path = list(error.absolute_path)
    field = str(path[0]) if path else ""
    kind, limit = error.validator, error.validator_value
    if field == "tech_stack":
        if kind == "maxItems":
            return f"max_items:{limit}"
        if kind == "maxLength" and len(path) > 1:
            return f"item_max_length:{limit}"
        return "type:string_list"
    if kind == "type":
        return "type:string"
    if kind == "maxLength":
        return f"max_length:{limit}"
    if kind == "format":
        return "date"
    if kind in ("minLength", "pattern") and field == "title":
        return "required"
    if kind == "pattern" and field == "impact_level":
        return "choice"
    return "invalid"


def body_errors(name: str, payload: dict[str, Any]) -> dict[str, str]:
    """{API field: code} for every way `payload` breaks schema `name` (empty when it fits)."""
    errors: dict[str, str] = {}
    for error in _validator(name).iter_errors(payload):
        if error.validator == "additionalProperties":
            allowed = set(error.schema.get("properties", {}))
            for key in sorted(set(payload) - allowed):
                errors.setdefault(str(key), "unknown")
        elif error.validator == "required":
            for key in error.validator_value:
                if key not in payload:
                    errors.setdefault(key, "required")
        elif error.absolute_path:
            errors.setdefault(str(error.absolute_path[0]), _code(error))
    return errors

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
from app.services.validation import FieldError, FieldErrors, Problem


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = build_openapi("schema")["components"]["schemas"][name]
    return Draft202012Validator(schema, format_checker=FormatChecker(formats=["date"]))


def _error(error: ValidationError) -> FieldError:
    path = list(error.absolute_path)
    field = str(path[0]) if path else ""
    kind, limit = error.validator, error.validator_value
    if field == "tech_stack":
        if kind == "maxItems":
            return FieldError(Problem.MAX_ITEMS, limit)
        if kind == "maxLength" and len(path) > 1:
            return FieldError(Problem.ITEM_MAX_LENGTH, limit)
        return FieldError(Problem.STRING_LIST)
    if kind == "type":
        return FieldError(Problem.STRING)
    if kind == "maxLength":
        return FieldError(Problem.MAX_LENGTH, limit)
    if kind == "format":
        return FieldError(Problem.DATE)
    if kind in ("minLength", "pattern") and field == "title":
        return FieldError(Problem.REQUIRED)
    if kind == "pattern" and field == "impact_level":
        return FieldError(Problem.CHOICE)
    return FieldError(Problem.INVALID)


def body_errors(name: str, payload: dict[str, Any]) -> FieldErrors:
    """{API field: error} for every way `payload` breaks schema `name` (empty when it fits)."""
    errors: FieldErrors = {}
    for error in _validator(name).iter_errors(payload):
        if error.validator == "additionalProperties":
            allowed = set(error.schema.get("properties", {}))
            for key in sorted(set(payload) - allowed):
                errors.setdefault(str(key), FieldError(Problem.UNKNOWN))
        elif error.validator == "required":
            for key in error.validator_value:
                if key not in payload:
                    errors.setdefault(key, FieldError(Problem.REQUIRED))
        elif error.absolute_path:
            errors.setdefault(str(error.absolute_path[0]), _error(error))
    return errors

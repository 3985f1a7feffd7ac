"""JSON API endpoints: daily logs (the seed's POST), reading entries and weekly reviews."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, jsonify, request, url_for
from flask_babel import gettext as _

from app.access import Action, get_entry_for
from app.api import bp
from app.api.auth import api_user, rate_limited
from app.api.openapi import DATE_PATTERN, WEEK_PATTERN, build_openapi
from app.api.validation import body_errors
from app.extensions import db
from app.models.log import LogEntry
from app.models.review import WeeklyReview
from app.security.input import clean_data
from app.services.freshness import conditional
from app.services.isoweek import IsoWeek
from app.services.log import daily as payloads
from app.services.log import entries as log_service
from app.services.log.query import LogFilters, entries_page, entries_select
from app.services.validation import FieldError, FieldErrors, Problem, parse_int
from app.urls import external_url
from app.web import json_error, request_context
from app.web.validation import field_messages

PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 100
PAGE_MAX = 10_000
_DATE = re.compile(DATE_PATTERN)
_WEEK = re.compile(WEEK_PATTERN)


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def entry_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "date": entry.work_date.isoformat(),
        "title": entry.title,
        "context": payloads.join_context(entry),
        "situation": entry.situation,
        "task": entry.task,
        "action": entry.action,
        "result": entry.result,
        "category": entry.category,
        "impact_level": entry.impact,
        "tech_stack": entry.tags,
        "version": entry.version,
        "created_at": _iso(entry.created_at),
        "updated_at": _iso(entry.updated_at),
        "url": external_url("log.detail", entry_id=entry.id),
    }


def review_json(review: WeeklyReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "week": review.week,
        "status": review.status,
        "body": review.body or "",
        "version": review.version,
        "cited_entry_ids": list(review.cited_entry_ids or []),
        "reviewer_id": review.reviewer_id,
        "created_at": _iso(review.created_at),
        "updated_at": _iso(review.updated_at),
        "submitted_at": _iso(review.submitted_at),
        "reviewed_at": _iso(review.reviewed_at),
    }


def _validation_failed(fields: dict[str, str]) -> Response:
    return json_error(422, "validation_failed", _("Some fields are not valid."), fields=fields)


def _read_json_object() -> dict[str, Any] | Response:
    raw = request.get_data(cache=False)  # a Content-Length over the limit: 413 from werkzeug
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A streamed (chunked) body is cut at the limit rather than refused: refuse it here.
        return json_error(413, "payload_too_large",
                          _("The request body is larger than %(n)d bytes.", n=limit))
    try:
        # Parsed here, not by request.get_json (which cleans): the caller checks the schema on
        # what was sent (a control character counts toward maxLength), then cleans it.
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return json_error(400, "invalid_json", _("The request body is not valid JSON."))
    if not isinstance(payload, dict):
        return json_error(400, "invalid_json", _("The request body must be a JSON object."))
    return payload


@bp.post("/daily-logs")
@rate_limited
def create_daily_log() -> Response:
    """Create an entry from the seed's payload; 201 with the entry."""
    user = api_user()
    payload = _read_json_object()
    if isinstance(payload, Response):
        return payload
    schema_errors = body_errors("DailyLogCreate", payload)
    if schema_errors:
        return _validation_failed(field_messages(schema_errors))
    payload = clean_data(payload)
    values, type_errors = payloads.form_values(payload)
    if type_errors:
        return _validation_failed(field_messages(type_errors))
    data, errors = log_service.validate_entry(values, user.today())
    if data is None:
        web_messages = field_messages(errors)
        fields = {}
        for api_field, (form_field, _code) in payloads.api_errors(errors).items():
            message = web_messages[form_field]
            if api_field == "context":
                message = f"{form_field.capitalize()}: {message}"
            fields[api_field] = message
        return _validation_failed(fields)
    entry = log_service.create_entry(user, data, ctx=request_context())
    db.session.commit()
    response = jsonify(entry_json(entry))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_daily_log", entry_id=entry.id)
    return response


def _query_errors() -> tuple[dict[str, Any], FieldErrors]:
    args: dict[str, Any] = {}
    errors: FieldErrors = {}
    # As the OpenAPI document says: a parameter given is a parameter checked ("?to=" is no date).
    for name in request.args:  # as the OpenAPI document says: no other parameters
        if name not in ("from", "to", "page", "per_page"):
            errors[name or "(empty name)"] = FieldError(Problem.UNKNOWN)
    for name in ("from", "to"):
        value = request.args.get(name)
        if value is None:
            continue
        try:
            if not _DATE.match(value):
                raise ValueError(value)
            args[name] = date.fromisoformat(value)
        except ValueError:
            errors[name] = FieldError(Problem.DATE)
    for name, default, high in (("page", 1, PAGE_MAX), ("per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX)):
        value = request.args.get(name)
        number = default if value is None else parse_int(value, 1, high)
        if number is None:
            errors[name] = FieldError(Problem.INTEGER, high, low=1)
        else:
            args[name] = number
    return args, errors


@bp.get("/daily-logs")
@rate_limited
@conditional("api")
def list_daily_logs() -> Response:
    """Your entries, newest first, optionally between two dates; paginated."""
    args, errors = _query_errors()
    if errors:
        return json_error(400, "invalid_parameter", _("Some query parameters are not valid."),
                          fields=field_messages(errors))
    filters = LogFilters(date_from=args.get("from"), date_to=args.get("to"), page=args["page"])
    stmt = entries_select([api_user().id], filters, db.engine.dialect.name)
    page = entries_page(stmt, args["page"], args["per_page"])
    return jsonify({
        "items": [entry_json(entry) for entry in page.items],
        "page": page.page,
        "per_page": args["per_page"],
        "has_next": page.has_next,
        "next_page": page.page + 1 if page.has_next else None,
    })


@bp.get("/daily-logs/<int:entry_id>")
@rate_limited
def get_daily_log(entry_id: int) -> Response:
    """One of your entries; anyone else's id answers 404."""
    entry = get_entry_for(api_user(), entry_id, Action.WRITE)  # the API serves its owner only
    return jsonify(entry_json(entry))


@bp.get("/weekly-reviews/<week>")
@rate_limited
def get_weekly_review(week: str) -> Response:
    """Your review of one ISO week, e.g. 2026-W47."""
    if not _WEEK.match(week):
        return json_error(400, "invalid_week",
                          _("A week looks like 2026-W47 (an ISO year and week number)."))
    try:
        IsoWeek.parse(week)
    except ValueError:  # well formed but not in the calendar (2025-W53, year 0): no such review
        return json_error(404, "not_found", _("You have no review for %(week)s.", week=week))
    review = db.session.scalar(
        sa.select(WeeklyReview).where(WeeklyReview.user_id == api_user().id,
                                      WeeklyReview.week == week)
    )
    if review is None:
        return json_error(404, "not_found", _("You have no review for %(week)s.", week=week))
    return jsonify(review_json(review))


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API (public)."""
    response = jsonify(build_openapi(current_app.config["APP_VERSION"]))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response

"""Reading a request: integers, pages, the request id, who is asking and from where."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import Response, abort, current_app, g, jsonify, request
from flask import session as flask_session
from flask_login import current_user

from app.models import User
from app.services.accounts.auth import LockoutPolicy
from app.services.audit import record_event
from app.services.context import RequestContext

REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


ID_MAX = 2**31 - 1  # ids and versions are 32-bit INTEGER columns on PostgreSQL


def parse_int(raw: str | None, minimum: int = 0, maximum: int = ID_MAX) -> int | None:
    """`raw` as an integer a column can hold, else None (ASCII digits only: "²" is no number)."""
    if not raw or not (raw.isascii() and raw.isdecimal()) or len(raw) > len(str(maximum)):
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


MAX_PAGE = 10_000  # deeper pages than anyone pages to; keeps OFFSET bounded


def page_arg(name: str = "page", maximum: int = MAX_PAGE) -> int:
    """The 1-based page number in the query string: 1 when missing or not a number, clamped."""
    value = parse_int(request.args.get(name), minimum=0, maximum=ID_MAX)
    return min(max(value or 1, 1), maximum)


def form_int(name: str) -> int:
    """A required integer form field (e.g. the version an edit started from); 400 when it is not."""
    value = parse_int(request.form.get(name))
    if value is None:
        abort(400)
    return value


def request_id() -> str:
    """This request's id: a sane incoming X-Request-ID, else a new one; fixed on first use.

    Errors raised by extensions' before_request hooks (CSRF, rate limits, body too large) run
    before the app's own hook has assigned the id, so it is also made here on demand.
    """
    current = g.get("request_id")
    if not current:
        given = request.headers.get("X-Request-ID", "")
        current = given if REQUEST_ID_RE.fullmatch(given) else uuid.uuid4().hex
        g.request_id = current
    return current


def client_ip() -> str | None:
    """The client's address as stored (columns hold 45 characters: a full IPv6 address)."""
    return request.remote_addr[:45] if request.remote_addr else None


def me() -> User:
    """The signed-in user (the model itself, not Flask-Login's proxy)."""
    return current_user._get_current_object()


def request_context() -> RequestContext:
    """Who is acting in this request and from where: what services and the audit log get."""
    return RequestContext(
        actor=me() if current_user.is_authenticated else None,
        ip=client_ip(),
        request_id=request_id(),
        user_agent=request.user_agent.string or None,
    )


def lockout_policy() -> LockoutPolicy:
    cfg = current_app.config
    return LockoutPolicy(
        cfg["LOCKOUT_THRESHOLD"], cfg["LOCKOUT_BASE_SECONDS"], cfg["LOCKOUT_MAX_SECONDS"]
    )


def audit(action: str, **kwargs: Any) -> None:
    """Record an audit event for the current request's user, IP and request id."""
    record_event(action, request_context(), **kwargs)


def wants_json() -> bool:
    """API paths and clients that prefer JSON get JSON; browsers and htmx get HTML."""
    if request.path.startswith("/api/") or request.path == "/api":
        return True
    if request.headers.get("HX-Request") == "true":  # htmx wants HTML fragments
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes[
        "text/html"
    ]


def json_error(status: int, code: str, message: str, **extra: Any) -> Response:
    body = {"error": code, "message": message, "request_id": request_id(), **extra}
    response = jsonify(body)
    response.status_code = status
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go to after login; anything else falls back to `default`."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    return target


def pop_flashes() -> list[tuple[str, str]]:
    return flask_session.pop("_flashes", []) if "_flashes" in flask_session else []

"""Error responses: a page for browsers, a toast for htmx, JSON for API clients."""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, g, render_template, request
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db, login_manager
from app.logging_setup import loaded_user_id
from app.metrics import count_auth_attempt, count_error, count_rate_limit_exceeded
from app.web import json_error, request_id, wants_json

log = logging.getLogger("worklog.errors")

ERROR_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "insufficient_permissions",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def _messages() -> dict[int, tuple[str, str]]:
    # Built per request so they are translated into the user's language.
    return {
        400: (
            _("Bad request"),
            _("The request could not be understood. Reload the page and try again."),
        ),
        401: (
            _("Sign-in required"),
            _("Please sign in to continue."),
        ),
        403: (
            _("Not allowed"),
            _("You do not have permission to do that."),
        ),
        404: (
            _("Not found"),
            _("There is nothing here. It may have been moved or deleted, or you may not have access to it."),  # noqa: E501
        ),
        405: (
            _("Method not allowed"),
            _("That action cannot be done this way."),
        ),
        413: (
            _("Too large"),
            _("What you sent is larger than the server accepts. Shorten it and try again."),
        ),
        422: (
            _("Check your input"),
            _("Some of what you entered is not valid."),
        ),
        429: (
            _("Too many requests"),
            _("You are going too fast. Wait a moment and try again."),
        ),
        500: (
            _("Something went wrong"),
            _("The error has been logged. Your last change may not have been saved; try again in a moment."),  # noqa: E501
        ),
        503: (
            _("Temporarily unavailable"),
            _("The service is temporarily unavailable. Try again in a moment."),
        ),
    }


def retry_after_seconds() -> int | None:
    """Seconds until the limit this request broke lets requests through again."""
    from app.extensions import limiter

    try:
        breached = limiter.current_limit
        if breached is None:
            return None
        return max(1, math.ceil(breached.reset_at - time.time()))
    except Exception:  # noqa: BLE001 - a storage hiccup must not break the error page
        return None


def error_response(status: int, message: str | None = None, code: str | None = None) -> Response:
    title, default_message = _messages().get(status, _messages()[500])
    message = message or default_message
    code = code or ERROR_CODES.get(status, "error")
    if wants_json():
        return json_error(status, code, message)
    context = {"status": status, "title": title, "message": message, "request_id": request_id()}
    try:
        return _html_error(status, context)
    except Exception:  # noqa: BLE001 - the error page itself failed; still answer cleanly
        log.exception("error_page_failed")
        text = f"{title}\n\n{message}\n\nRequest ID: {context['request_id']}\n"
        return Response(text, status=status, mimetype="text/plain")


def _html_error(status: int, context: dict) -> Response:
    if request.headers.get("HX-Request") == "true":
        body = render_template("errors/_toast.html", **context)
        response = Response(body, status=status, mimetype="text/html")
        # htmx swaps error responses (see the htmx-config meta) into the toast area.
        response.headers["HX-Retarget"] = "#flashes"
        response.headers["HX-Reswap"] = "afterbegin"
        return response
    body = render_template("errors/error.html", **context)
    return Response(body, status=status, mimetype="text/html")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        log.info("csrf_failed", extra={"reason": error.description})
        return error_response(
            400,
            _("This form has expired or was not sent from Worklog. Reload the page and try again."),
            code="csrf_failed",
        )

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(error: RateLimitExceeded) -> Response:
        retry = retry_after_seconds()
        log.warning(
            "rate_limit_exceeded",
            extra={"event": "rate_limit_exceeded", "client_ip": request.remote_addr,
                   "limit": str(error.description), "endpoint": request.endpoint},
        )
        count_rate_limit_exceeded(request.url_rule.rule if request.url_rule else None)
        if request.endpoint == "auth.login":
            count_auth_attempt("rate_limited")
        message = (
            _("Too many requests. Try again in %(seconds)d seconds.", seconds=retry)
            if retry else None
        )
        response = error_response(429, message)
        if retry:
            response.headers["Retry-After"] = str(retry)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        response = error_response(status)
        if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unhandled(error: Exception) -> Response:
        if isinstance(error, HTTPException):  # pragma: no cover - handled above
            return http_error(error)
        _recover_session(error)
        log.exception("unhandled_exception", exc_info=error)
        # A database that is down or too slow is temporary; say so rather than "we broke".
        status = 503 if isinstance(error, DATABASE_UNAVAILABLE) else 500
        count_error(status, error)
        return error_response(status)

    @app.errorhandler(InternalServerError)
    def internal(error: InternalServerError) -> Response:
        original = getattr(error, "original_exception", None)
        _recover_session(original or error)
        if original is not None:
            log.error("unhandled_exception", exc_info=original)
        count_error(500, original or error)
        return error_response(500)


DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.TimeoutError)


def _recover_session(error: BaseException) -> None:
    """Undo the failed request's writes and make sure the error page itself can render.

    The page (its language, its navigation) reads the signed-in user. If loading that user
    is what failed, e.g. the database is down, loading it again would fail the error page too,
    so the page is rendered for an anonymous visitor instead. The same when the user was
    loaded but the database has since failed: the rollback expires the user, and reading its
    language would go back to that database (gunicorn then answered its own bare 500).
    """
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection must not stop the error page
        log.warning("rollback_failed", exc_info=True)
    if isinstance(error, DATABASE_UNAVAILABLE):
        # Log lines still name the user (read without a query); the page does not.
        g.log_user_id = loaded_user_id(g.get("_login_user"))
        g._login_user = login_manager.anonymous_user()
        return
    if "_login_user" in g:
        return
    try:
        current_user._get_current_object()
        return
    except Exception:  # noqa: BLE001
        db.session.rollback()
    g._login_user = login_manager.anonymous_user()

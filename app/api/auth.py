"""Who is calling /api (a Bearer personal API token, never a cookie), CORS, body size, limits."""

from __future__ import annotations

import logging

from flask import Response, current_app, g, make_response, request
from flask_babel import gettext as _

from app import Anonymous
from app.api import bp
from app.extensions import limiter
from app.models import User
from app.models.token import ApiToken
from app.services.accounts import tokens as token_service
from app.web import json_error

log = logging.getLogger("worklog.api")

PUBLIC_ENDPOINTS = {"api.openapi"}
CORS_ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID"
CORS_EXPOSE_HEADERS = (
    "Location, Retry-After, X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)
CORS_MAX_AGE = "600"


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def api_user() -> User:
    return g.api_user


def api_token() -> ApiToken:
    return g.api_token


def unauthorized(message: str, *, invalid: bool) -> Response:
    response = json_error(401, "invalid_token" if invalid else "authentication_required", message)
    challenge = 'Bearer realm="worklog"'
    if invalid:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _allowed_origin(origin: str | None) -> str | None:
    if not origin:
        return None
    allowed = current_app.config.get("CORS_ORIGINS") or []
    if "*" in allowed:
        return "*"
    return origin if origin.rstrip("/") in {o.rstrip("/") for o in allowed} else None


def _preflight() -> Response:
    response = make_response("", 204)
    origin = _allowed_origin(request.headers.get("Origin"))
    if origin:
        # Every method any route at this path takes (GET and POST are separate rules).
        adapter = current_app.create_url_adapter(request)
        methods = set(adapter.allowed_methods() if adapter is not None else ["GET", "HEAD", "OPTIONS"])
        response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(methods))
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    return response


@bp.before_request
def authenticate() -> Response | None:
    """Runs before every /api view: preflight, body limit, and the Bearer token."""
    # Nothing under /api reads the cookie session: a signed-in browser is anonymous here.
    g._login_user = Anonymous()
    limit = current_app.config["API_MAX_BODY_BYTES"]
    request.max_content_length = min(limit, current_app.config.get("MAX_CONTENT_LENGTH") or limit)
    if request.method == "OPTIONS":
        return _preflight()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    raw = _bearer()
    if raw is None:
        return unauthorized(_("Send a personal API token as \"Authorization: Bearer <token>\"."),
                            invalid=False)
    record = token_service.authenticate(raw)
    if record is None:
        log.warning("auth_failed", extra={"event": "auth_failed", "method": "api_token",
                                          "client_ip": request.remote_addr})
        return unauthorized(_("The API token is invalid, expired or revoked."), invalid=True)
    g.api_token = record
    g.api_user = record.user
    g._login_user = record.user  # so messages use the owner's language and logs carry the user id
    if request.content_length is not None and request.content_length > request.max_content_length:
        return json_error(413, "payload_too_large",
                          _("The request body is larger than %(n)d bytes.", n=request.max_content_length))
    return None


@bp.after_app_request
def cors_and_caching(response: Response) -> Response:
    """CORS headers for allowed origins, on /api only (404s under /api included)."""
    if not is_api_path(request.path):
        return response
    response.vary.add("Origin")
    response.headers.setdefault("Cache-Control", "no-store")
    origin = _allowed_origin(request.headers.get("Origin"))
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
    return response


def _token_key() -> str:
    token = g.get("api_token")
    return f"api-token:{token.id}" if token is not None else "api-token:none"


def _api_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


# One budget per token, shared by every limited endpoint and, through Redis, every instance.
rate_limited = limiter.shared_limit(_api_limit, scope="api", key_func=_token_key)

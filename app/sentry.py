"""Error reporting to Sentry when SENTRY_DSN is set, with nothing sensitive in what is sent.

The SDK sends no default PII (no IP, no cookies, no user details). `scrub_event` then goes
over the whole event before it leaves: headers that carry credentials are dropped, values
under sensitive keys (password, token, secret, key, cookie, authorization, ...) are replaced,
and every other string, exception messages and breadcrumbs included, goes through the
same masking as the logs (emails, phone numbers, employee numbers, Bearer tokens, keys).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from app.logging_setup import FILTERED, is_sensitive_key, mask

log = logging.getLogger("worklog.sentry")

_DROP_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-csrftoken", "x-csrf-token",
    "x-api-key", "x-metrics-token",
})
_KEEP_USER_KEYS = ("id",)


def _scrub(value: Any, key: str | None = None) -> Any:
    if key is not None and is_sensitive_key(key):
        return FILTERED if value not in (None, "", [], {}) else value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {k: _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _scrub_headers(headers: Any) -> Any:
    if isinstance(headers, Mapping):
        return {k: _scrub(v, k) for k, v in headers.items() if str(k).lower() not in _DROP_HEADERS}
    if isinstance(headers, list):  # [[name, value], ...]
        return [[k, _scrub(v, k)] for k, v in headers if str(k).lower() not in _DROP_HEADERS]
    return headers


def scrub_event(event: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """before_send / before_send_transaction: return the event with secrets and PII removed."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("env", None)  # REMOTE_ADDR and server internals
        if "headers" in request:
            request["headers"] = _scrub_headers(request["headers"])
        if isinstance(request.get("query_string"), str):
            request["query_string"] = mask(request["query_string"])
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {k: user[k] for k in _KEEP_USER_KEYS if k in user}
    return _scrub(event)


def scrub_breadcrumb(crumb: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return _scrub(crumb)


def init_sentry(config: Mapping[str, Any]) -> bool:
    """Start the SDK if SENTRY_DSN is set; True when it was started."""
    dsn = config.get("SENTRY_DSN")
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        release=f"worklog@{config.get('APP_VERSION', 'unknown')}",
        environment=config.get("APP_ENV", "development"),
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
        integrations=[
            FlaskIntegration(transaction_style="url"),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
    )
    log.info("sentry_enabled", extra={"environment": config.get("APP_ENV")})
    return True

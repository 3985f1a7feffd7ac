"""Absolute links the app writes outside a response, and which hosts it answers for.

A link that leaves the request (a Slack/Teams message, an invite link to copy, an API `url`
field) must never be built from the request's `Host` header, which the client chooses: it is
built from `BASE_URL`, the canonical external address (required in staging and production).
Without `BASE_URL` (development only) links fall back to the request's host.

In production a request for any host other than `BASE_URL`'s (and `TRUSTED_HOSTS`) gets 400.
The operational endpoints (/health, /ready, /metrics) are exempt: probes and scrapers call
them by the pod's address.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, url_for
from werkzeug.sansio.utils import host_is_trusted

EXEMPT_BLUEPRINTS = ("ops",)


def base_url_problem(value: str | None) -> str | None:
    """Why `value` cannot be BASE_URL, or None when it can (or is unset)."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"BASE_URL must be an absolute http(s) URL such as https://worklog.example.com; got {value!r}."
    if parts.query or parts.fragment or parts.username or parts.password:
        return "BASE_URL must be just scheme, host, port and an optional path (no query, fragment or user)."
    return None


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of `endpoint`, on BASE_URL when it is set (never on the request's Host)."""
    base = current_app.config.get("BASE_URL")
    if not base:
        return url_for(endpoint, _external=True, **values)
    parts = urlsplit(base)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path.rstrip("/") or "/", url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def trusted_hosts(config: dict[str, Any]) -> list[str]:
    hosts = list(config.get("TRUSTED_HOSTS_EXTRA") or [])
    base = config.get("BASE_URL")
    if base and urlsplit(base).hostname:
        hosts.insert(0, urlsplit(base).hostname)
    return hosts


def install_host_check(app: Flask) -> None:
    """In production, 400 for requests whose Host (or trusted X-Forwarded-Host) is not ours."""
    if app.config["APP_ENV"] != "production":
        return
    allowed = trusted_hosts(app.config)

    def check_host() -> None:
        if request.blueprint in EXEMPT_BLUEPRINTS:
            return
        if not host_is_trusted(request.host, allowed):
            abort(400)

    app.before_request_funcs.setdefault(None, []).insert(0, check_host)

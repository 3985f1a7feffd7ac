"""Talking to other services: how their addresses may be shown, how long they ask us to wait."""

from __future__ import annotations

import email.utils
import time
from urllib.parse import urlsplit, urlunsplit

_SECRET_PATH_HINTS = ("hooks", "webhook", "office.com")


def mask_url(url: str | None, *, secret_path: bool = False) -> str:
    """A URL as it may be shown or logged: scheme, host, port and (for databases) the path;
    passwords hidden, and the path too when it is the secret (webhooks, or `secret_path`)."""
    if not url:
        return "(not set)"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid url>"
    if port:
        host += f":{port}"
    user = parts.username
    if user:
        host = (f"{user}:******@" if parts.password else "******@") + host
        if parts.scheme.startswith(("postgres", "redis", "rediss", "sqlite")) and not parts.password:
            host = f"{user}@" + host.split("@", 1)[1]
    path = parts.path
    if secret_path or any(hint in host or hint in path for hint in _SECRET_PATH_HINTS):
        path = "/******"
    return urlunsplit((parts.scheme, host, path, "", ""))


def parse_retry_after(value: str | None, *, cap: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), at least 0 and at
    most `cap`; None when it is missing or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    seconds = max(seconds, 0.0)
    return min(seconds, cap) if cap is not None else seconds

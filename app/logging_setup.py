"""Log lines: JSON in production, readable console lines in development; secrets masked.

Masking happens twice over: every record is masked as it is made (message and exception text,
by a log record factory, so whatever handler writes it — ours, gunicorn's, pytest's — sees only
the masked text), and our formatters mask the extra fields. There is one handler chain: the
app's handler on the root logger (gunicorn.conf.py gives the root logger none of its own).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context, request

FILTERED = "[MASKED]"

# Order matters: credentials in URLs, cookies, tokens and keys before the looser patterns.
_MASKS: list[tuple[re.Pattern[str], str]] = [
    # scheme://user:password@host: keep the user, hide the password.
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1[MASKED]@"),
    # A whole Cookie / Set-Cookie header value: every cookie in it.
    (re.compile(r"(?i)\b((?:set-)?cookie\"?\s*[=:]\s*\"?)[^\"\r\n]+"), r"\1[MASKED]"),
    (re.compile(r"(?i)\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 [MASKED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), "[JWT]"),
    (re.compile(r"\b(sk|wl|pk|rk)[-_][A-Za-z0-9_-]{8,}"), r"\1-[MASKED]"),
    (re.compile(r"\b(gh[pousr]_|xox[abpr]-|AKIA)[A-Za-z0-9_-]{8,}"), r"\1[MASKED]"),
    # Password hashes wherever they appear (a row dumped in a database error, say).
    (re.compile(r"\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+(?:\$[A-Za-z0-9+/.=-]+){1,2}"),
     "[HASH]"),
    (re.compile(r"\$(?:argon2(?:id|i|d)|2[aby]|scrypt|pbkdf2[\w-]*)\$[^\s'\",)\]}]+"), "[HASH]"),
    (re.compile(r"(?i)\b([\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|session|"
                r"authorization|hash)[\w-]*)"
                r"(\"?\s*[=:]\s*\"?)(?!(?:Bearer|Basic|Token) )[^\s\"&,;]+"),
     r"\1\2[MASKED]"),
    # Hex digests of 160 bits or more (token and invite hashes); request ids are 128 bits.
    (re.compile(r"(?i)(?<![0-9a-f])[0-9a-f]{40,}(?![0-9a-f])"), "[HASH]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[EMAIL]"),
    (re.compile(r"(?<!\d)(?:\+?82[- ]?)?0?1[016789][- ]?\d{3,4}[- ]?\d{4}(?!\d)"), "[PHONE]"),
    (re.compile(r"(?<!\d)\+?\d{1,3}[- ]\(?\d{2,4}\)?[- ]\d{3,4}[- ]\d{3,4}(?!\d)"), "[PHONE]"),
    (re.compile(r"(?i)\b(?:emp|employee|사번)[ #:_-]*\d{4,10}\b"), "[EMPLOYEE_NO]"),
]
# Keys whose values are secrets whatever they look like (log extras, Sentry event fields).
_SENSITIVE_KEY = re.compile(
    r"(?i)(passw|passwd|pwd|secret|token|api[_-]?key|apikey|authorization|cookie|credential|"
    r"private[_-]?key|dsn|csrf|hash)"
)


def is_sensitive_key(key: str) -> bool:
    return bool(_SENSITIVE_KEY.search(key))


_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def mask(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


# The ids the app makes (uuid4 hex request ids, UUIDs): opaque, never personal data, and the
# phone-number patterns would otherwise rewrite runs of their digits ("[PHONE]b10499…").
_OPAQUE_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ID_KEYS = frozenset({"request_id", "trace_id", "span_id", "job_id"})


def _mask_value(value: Any, key: str | None = None) -> Any:
    if key is not None and value is not None and is_sensitive_key(key):
        return FILTERED
    if key in _ID_KEYS and isinstance(value, str) and _OPAQUE_ID.fullmatch(value):
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _mask_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(v) for v in value]
    return value


def _masking_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call: leave it to the handler's error path
            return record
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return record

    factory._worklog_masking = True  # type: ignore[attr-defined]
    return factory


def install_record_masking() -> None:
    """Mask every log record of the process as it is made (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "_worklog_masking", False):
        logging.setLogRecordFactory(_masking_factory(current))


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    text = record.exc_text or formatter.formatException(record.exc_info)  # type: ignore[arg-type]
    return mask(text)


class RequestContextFilter(logging.Filter):
    """Adds request_id, user_id, method and path to every record made during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = getattr(record, "request_id", None) or g.get("request_id")
            record.method = getattr(record, "method", None) or request.method
            record.path = getattr(record, "path", None) or request.path
            if getattr(record, "user_id", None) is None:
                record.user_id = loaded_user_id(g.get("_login_user")) or g.get("log_user_id")
        return True


def loaded_user_id(user: Any) -> Any:
    """The signed-in user's id without touching the database.

    After a failed request is rolled back the user object is expired, and reading `user.id`
    would load it again: with the database down (or its pool exhausted) that raised inside
    the error handler's own log call, and gunicorn answered a bare 500 instead of the 503 page.
    """
    if user is None:
        return None
    try:
        from sqlalchemy import inspect

        state = inspect(user, raiseerr=False)
        if state is not None:
            return state.identity[0] if state.identity else None
        return getattr(user, "id", None)
    except Exception:  # noqa: BLE001 - a log line must never fail the request it describes
        return None


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and v is not None}


class RateLimitStorageFilter(logging.Filter):
    """Names Flask-Limiter's storage messages as events operators can alert on.

    When Redis is unreachable Flask-Limiter switches to per-process memory (limits keep
    working, but per worker rather than shared) and logs one warning; it logs again when
    Redis is back.
    """

    EVENTS = {
        "Rate limit storage unreachable": ("rate_limit_storage_unavailable", logging.ERROR),
        "Rate limit storage recovered": ("rate_limit_storage_recovered", logging.WARNING),
    }

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for prefix, (event, level) in self.EVENTS.items():
            if message.startswith(prefix):
                record.event = event
                record.levelno, record.levelname = level, logging.getLevelName(level)
                record.msg, record.args = f"{event}: {message}", None
                record.fallback = "in-memory, per process" if level == logging.ERROR else None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        entry.update(_mask_value(_extras(record)))
        if record.exc_info:
            entry["exception"] = _exception_text(self, record)
        return json.dumps(entry, ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = _extras(record)
        rid = _mask_value(extras.pop("request_id", None), "request_id")
        extras = _mask_value(extras)
        tail = " ".join(f"{k}={v}" for k, v in extras.items())
        line = f"{when} {record.levelname:<7} {record.name}: {mask(record.getMessage())}"
        if tail:
            line += f"  {tail}"
        if rid:
            line += f"  [{rid}]"
        if record.exc_info:
            line += "\n" + _exception_text(self, record)
        return line


def configure_logging(level: str, fmt: str) -> None:
    install_record_masking()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_worklog", False):
            root.removeHandler(existing)
    handler._worklog = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, RateLimitStorageFilter) for f in limiter_log.filters):
        limiter_log.addFilter(RateLimitStorageFilter())
    # Werkzeug's own access line duplicates ours.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

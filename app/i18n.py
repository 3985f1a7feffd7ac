"""Language and timezone of each request: the user's setting first, then the browser's."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from babel.dates import format_interval, format_skeleton
from flask import Flask, current_app, g, request
from flask_babel import Babel, format_date, get_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user

TRANSLATIONS_DIR = str(Path(__file__).parent / "translations")
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}
ROLE_LABELS = {"member": _l("Member"), "lead": _l("Lead"), "admin": _l("Admin")}
STATUS_LABELS = {
    "draft": _l("Draft"), "submitted": _l("Submitted"), "approved": _l("Approved"),
    "changes_requested": _l("Changes requested"),
}
IMPACT_LABELS = {"Low": _l("Low"), "Medium": _l("Medium"), "High": _l("High")}
FIELD_LABELS = {
    "work_date": _l("Date"), "title": _l("Title"), "situation": _l("Situation"),
    "task": _l("Task"), "action": _l("Action"), "result": _l("Result"),
    "category": _l("Category"), "impact": _l("Impact"), "tags": _l("Tech stack and tags"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def impact_label(impact: str) -> str:
    return str(IMPACT_LABELS.get(impact, impact))


def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


def select_locale() -> str:
    return locale_for(current_user.locale if current_user.is_authenticated else None)


def locale_for(preferred: str | None) -> str:
    """The request's language: the account's choice, else the `lang` cookie, else the browser's."""
    languages = current_app.config["LANGUAGES"]
    if preferred in languages:
        return preferred
    chosen = request.cookies.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str | None:
    if current_user.is_authenticated:
        return current_user.timezone
    return None


_TIMEZONES: list[str] | None = None


def timezone_names() -> list[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = sorted(tz for tz in available_timezones() if "/" in tz or tz == "UTC")
    return _TIMEZONES


def request_translations() -> Any:
    """The request's translations, looked up once (Flask-Babel's own lookup runs per call).

    Keyed on the locale object of the request, so `force_locale` (mail in the recipient's
    language) still switches language.
    """
    ctx = g.get("_flask_babel")
    if ctx is not None:
        cached = getattr(ctx, "worklog_translations", None)
        if cached is not None and cached[0] is getattr(ctx, "babel_locale", None):
            return cached[1]
    translations = get_translations()
    ctx = g.get("_flask_babel")
    if ctx is not None:
        ctx.worklog_translations = (getattr(ctx, "babel_locale", None), translations)
    return translations


@lru_cache(maxsize=8192)
def _formatted_date(day: Any, fmt: str | None, locale: str) -> str:
    return format_date(day, fmt, rebase=False)


def dateformat(value: Any, format: str | None = None, rebase: bool = True) -> str:  # noqa: A002 - Flask-Babel's name
    """Flask-Babel's `dateformat` filter, remembered per (date, format, locale).

    Only plain dates are cached: a datetime is shown in the user's timezone, so it goes
    through Flask-Babel each time.
    """
    if type(value) is date:
        return _formatted_date(value, format, str(get_locale()))
    return format_date(value, format, rebase)
def skeleton_date(day: date, skeleton: str = "MMMEd") -> str:
    """`day` in the locale's own order for the fields of `skeleton` (CLDR): "MMMEd" reads
    "Mon, Nov 23" in English and "11월 23일 (월)" in Korean. Never a fixed pattern."""
    return _skeleton_date(day, skeleton, str(get_locale() or "en"))


@lru_cache(maxsize=8192)
def _skeleton_date(day: date, skeleton: str, locale: str) -> str:
    return format_skeleton(skeleton, day, locale=locale)


def date_range(start: date, end: date, skeleton: str = "yMMMd") -> str:
    """Two dates as one range in the locale's way ("Nov 17 – 23, 2026", "2026년 11월 17일~23일")."""
    return format_interval(start, end, skeleton, locale=str(get_locale() or "en"))


def init_i18n(app: Flask, babel: Babel) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_translation_directories=TRANSLATIONS_DIR,
    )
    # Templates call gettext hundreds of times a page: resolve the translations once a request.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters["dateformat"] = dateformat
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    app.jinja_env.globals["role_label"] = role_label
    app.jinja_env.globals["impact_label"] = impact_label
    app.jinja_env.globals["status_label"] = status_label
    app.jinja_env.globals["field_label"] = field_label
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["skeleton"] = skeleton_date
    app.jinja_env.filters["date_range"] = date_range

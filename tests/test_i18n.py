"""Languages and time zones: complete Korean catalog, locale choice, times in the user's zone.

The compiled catalogs (.mo) are build outputs (git-ignored, made by `make setup`). So that
`pytest` alone works too, this module compiles every catalog under app/translations when
it is imported: collection happens before any test runs, so every test of the run sees
the current translations.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import force_locale, gettext

from app.extensions import db
from app.models import User

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
BABEL_CFG = ROOT / "babel.cfg"
KO_PO = TRANSLATIONS / "ko" / "LC_MESSAGES" / "messages.po"
# The same keywords as `make messages` (pybabel extract -k _l).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}

HANGUL = re.compile(r"[\uac00-\ud7a3]")
HTML_LANG = re.compile(r'<html lang="([^"]*)"')
# A %-placeholder: %(name)s, %(n)d, %s, %5.2f ...; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>\w+)\))?[#0\- +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?P<conv>[diouxXeEfFgGcrsa%])"
)


# --- building the catalogs -------------------------------------------------------------


def _read_catalog(po: Path):
    locale = po.parent.parent.name
    with po.open("rb") as fh:
        return read_po(fh, locale=locale, domain=po.stem)


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every messages.po below `directory` next to itself, like `pybabel compile`.

    Fuzzy messages are left out, as pybabel does; unlike `pybabel compile`, a catalog
    without a header (the Makefile extracts with --omit-header) is not skipped as "fuzzy".
    A .mo is rewritten only when its content changes, atomically, so a running server
    never reads half a file.
    """
    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        buffer = io.BytesIO()
        write_mo(buffer, _read_catalog(po), use_fuzzy=False)
        data = buffer.getvalue()
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.read_bytes() == data:
            continue
        fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=".messages-", suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, mo)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(mo)
    return written


compile_catalogs()


# --- the catalog is complete -------------------------------------------------------------


def extracted_messages() -> dict[tuple[str | tuple[str, ...], str | None], list[str]]:
    """The UI strings in the source now, as `make messages` extracts them.

    {(msgid, context): ["file:line", ...]}
    """
    from babel.messages.frontend import parse_mapping_cfg

    with BABEL_CFG.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, filename=str(BABEL_CFG))
    found: dict[tuple[str | tuple[str, ...], str | None], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault((message, context), []).append(f"{filename}:{lineno}")
    return found


def placeholders(text: str) -> Counter:
    found = PLACEHOLDER.finditer(text)
    return Counter((m.group("name"), m.group("conv")) for m in found if m.group("conv") != "%")


def test_korean_catalog_translates_every_ui_string() -> None:
    extracted = extracted_messages()
    assert len(extracted) > 50, "extraction found almost nothing; is babel.cfg still right?"
    catalog = _read_catalog(KO_PO)

    problems = []
    for (message, context), where in sorted(extracted.items(), key=lambda item: str(item[0])):
        msgid = message[0] if isinstance(message, tuple) else message
        if not msgid:
            continue  # _("") is not a UI string
        entry = catalog.get(msgid, context=context)
        place = ", ".join(where[:3])
        if entry is None:
            problems.append(f"not in the catalog (run `make messages`): {msgid!r} ({place})")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {msgid!r} ({place})")
        elif entry.fuzzy:
            problems.append(f"fuzzy (check it, then drop the flag): {msgid!r} ({place})")
        else:
            ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
            expected = placeholders(ids[-1])
            for s in strings:
                if placeholders(s) != expected:
                    problems.append(
                        f"placeholders differ: {msgid!r} -> {s!r}: "
                        f"{sorted(placeholders(s).elements())} != {sorted(expected.elements())}"
                    )
    where = KO_PO.relative_to(ROOT)
    assert not problems, f"{len(problems)} problem(s) in {where}:\n" + "\n".join(problems)


def test_make_setup_compiles_the_korean_catalog() -> None:
    # `pybabel compile` (make setup / make translations) skips a catalog whose header is
    # fuzzy or missing, and then the app silently shows English. This module compiles the
    # catalogs itself, so without this check the suite would not notice.
    catalog = _read_catalog(KO_PO)
    assert not catalog.fuzzy, (
        f"{KO_PO.relative_to(ROOT)} has no header or a fuzzy one, so `pybabel compile` skips it. "
        "Restore the header without '#, fuzzy' (and run `pybabel update` without --omit-header)."
    )
    assert str(catalog.locale) == "ko"


def test_placeholder_check_catches_mistakes() -> None:
    assert placeholders("%(n)d sessions ended.") == placeholders("세션 %(n)d개를 종료했습니다.")
    assert placeholders("%(n)d ended.") != placeholders("%(n)s개 종료")
    assert placeholders("%(n)d ended.") != placeholders("%(count)d개 종료")
    assert placeholders("100%% done") == Counter()


def test_compiled_korean_catalog_is_the_one_the_app_uses(app: Flask) -> None:
    catalog = _read_catalog(KO_PO)
    translated = [m for m in catalog if m.id and m.string and not m.fuzzy and isinstance(m.id, str)]
    assert translated
    with app.test_request_context("/"), force_locale("ko"):
        wrong = [
            (m.id, gettext(m.id)) for m in translated
            if not placeholders(m.id) and gettext(m.id) != m.string
        ]
    assert not wrong, f"the compiled catalog disagrees with messages.po: {wrong[:5]}"


# --- choosing the language ---------------------------------------------------------------


def _lang(html: str) -> str | None:
    match = HTML_LANG.search(html)
    return match.group(1) if match else None


def test_browser_asking_for_korean_gets_the_korean_login_page(client) -> None:
    response = client.get("/auth/login", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _lang(html) == "ko"
    assert "로그인" in html
    assert "Worklog 로그인" in html
    assert "비밀번호" in html  # a form label, translated lazily
    assert "Sign in to Worklog" not in html


def test_browser_asking_for_english_gets_english(client) -> None:
    response = client.get("/auth/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _lang(html) == "en"
    assert "Sign in to Worklog" in html
    assert not HANGUL.search(html.replace("한국어", "")), "Korean text on the English page"


def test_unsupported_language_falls_back_to_english(client) -> None:
    html = client.get("/auth/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert _lang(html) == "en"
    assert "Sign in to Worklog" in html


def _post_preferences(client, user: User, locale: str, timezone: str, headers=None):
    return client.post_form(
        "/account",
        {"display_name": user.display_name, "locale": locale, "timezone": timezone},
        headers=headers or {},
    )


def _set_preferences(client, user: User, locale: str, timezone: str, headers=None) -> None:
    """Save the preferences form, as a user would, and check it was accepted."""
    response = _post_preferences(client, user, locale, timezone, headers)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]


def _stored(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def test_users_language_setting_wins_over_the_browser(app, client, auth, actors) -> None:
    english = {"Accept-Language": "en"}
    assert auth.login(actors.member, headers=english).status_code == 302
    home = client.get("/log", headers=english).get_data(as_text=True)
    assert _lang(home) == "en" and "<h1>Work log</h1>" in home

    _set_preferences(client, actors.member, "ko", "Asia/Seoul", headers=english)
    stored = _stored(app, actors.member.id)
    assert (stored.locale, stored.timezone) == ("ko", "Asia/Seoul")

    home = client.get("/log", headers=english).get_data(as_text=True)
    assert _lang(home) == "ko"
    assert "<h1>업무 일지</h1>" in home
    assert "로그아웃" in home and "Sign out" not in home

    # "Same as my browser" clears the setting: the browser's language applies again.
    _set_preferences(client, actors.member, "", "Asia/Seoul", headers=english)
    assert _stored(app, actors.member.id).locale is None
    home = client.get("/log", headers=english).get_data(as_text=True)
    assert _lang(home) == "en" and "<h1>Work log</h1>" in home


def test_preferences_refuse_an_unknown_locale_or_timezone(app, client, auth, actors) -> None:
    auth.login(actors.member)
    response = _post_preferences(client, actors.member, "xx", "Mars/Olympus_Mons")
    assert response.status_code == 422
    stored = _stored(app, actors.member.id)
    assert stored.locale is None and stored.timezone == "UTC"


# --- times in the user's time zone -------------------------------------------------------

SIGNED_IN_CELL = re.compile(r'<td><time datetime="([^"]+)">([^<]+)</time></td>')
CLOCK = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})\s*([AP]M)")


def _signed_in_time(client) -> tuple[datetime, str]:
    """The stored sign-in time and its rendering, from this session's row of /account/sessions."""
    response = client.get("/account/sessions", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    match = SIGNED_IN_CELL.search(response.get_data(as_text=True))
    assert match, "no sign-in time on /account/sessions"
    stored = datetime.fromisoformat(match.group(1))
    if stored.tzinfo is None:
        stored = stored.replace(tzinfo=UTC)
    return stored, match.group(2).strip()


def _hour24(rendered: str) -> tuple[int, str]:
    match = CLOCK.search(rendered)
    assert match, f"no h:mm:ss AM/PM in {rendered!r}"
    hour = int(match.group(1)) % 12 + (12 if match.group(4) == "PM" else 0)
    return hour, f"{match.group(2)}:{match.group(3)}"


def test_session_times_are_shown_in_the_users_time_zone(app, client, auth, actors) -> None:
    auth.login(actors.member)

    _set_preferences(client, actors.member, "en", "UTC")
    stored, as_utc = _signed_in_time(client)

    _set_preferences(client, actors.member, "en", "Asia/Seoul")
    stored_again, as_seoul = _signed_in_time(client)
    assert stored_again == stored  # the same session row, rendered twice

    assert as_utc == format_datetime(stored, "medium", tzinfo=ZoneInfo("UTC"), locale="en")
    assert as_seoul == format_datetime(stored, "medium", tzinfo=ZoneInfo("Asia/Seoul"), locale="en")

    utc_hour, utc_rest = _hour24(as_utc)
    seoul_hour, seoul_rest = _hour24(as_seoul)
    assert utc_hour == stored.astimezone(UTC).hour
    assert (seoul_hour - utc_hour) % 24 == 9  # Seoul is UTC+9, no daylight saving time
    assert seoul_rest == utc_rest


@pytest.mark.parametrize("timezone", ["America/New_York", "Asia/Kolkata"])
def test_session_times_follow_other_zones_too(app, client, auth, actors, timezone: str) -> None:
    auth.login(actors.member)
    _set_preferences(client, actors.member, "en", timezone)
    stored, rendered = _signed_in_time(client)
    assert rendered == format_datetime(stored, "medium", tzinfo=ZoneInfo(timezone), locale="en")

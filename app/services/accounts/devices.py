"""A session's device in words: "Chrome 131 on macOS", from its User-Agent header.

The rules are ua-parser's maintained set (ua-parser-builtins), updated with the package."""

from __future__ import annotations

from functools import lru_cache

from flask_babel import gettext as _
from ua_parser import parse

# ua-parser's family names, as people know them today.
OS_NAMES = {"Mac OS X": "macOS", "Windows": "Windows", "Chrome OS": "ChromeOS"}


@lru_cache(maxsize=1024)
def _parts(user_agent: str) -> tuple[str, str]:
    result = parse(user_agent)
    browser = ""
    if result.user_agent and result.user_agent.family != "Other":
        browser = result.user_agent.family
        if result.user_agent.major:
            browser += f" {result.user_agent.major}"
    system = ""
    if result.os and result.os.family != "Other":
        system = OS_NAMES.get(result.os.family, result.os.family)
        # macOS versions in user agents are frozen at 10.15; other systems' majors mean something.
        if result.os.major and result.os.family not in ("Mac OS X", "Linux", "Ubuntu"):
            system += f" {result.os.major}"
    return browser, system


def describe_device(user_agent: str | None) -> str:
    """"Chrome 131 on macOS", "Safari 18 on iOS 18", the browser or system alone, or "Unknown"."""
    if not user_agent:
        return _("Unknown")
    browser, system = _parts(user_agent[:512])
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown device")

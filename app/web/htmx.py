"""htmx in one place: is this an htmx request, does it want a fragment, events to trigger.

`request.htmx` comes from htmx-flask (installed on the app in app/extensions.py): it is
truthy for requests htmx sent and exposes their headers (`target`, `current_url`,
`history_restore_request`, ...).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Response, make_response, redirect, render_template, request

TRIGGER = "HX-Trigger"


def is_htmx() -> bool:
    """An htmx request that wants a fragment back (a history restore wants the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def wants_fragment(target: str) -> bool:
    """An htmx request aimed at the element with id `target`."""
    return is_htmx() and request.htmx.target == target


def trigger(response: Response, event: str, detail: Any = None) -> Response:
    """Ask htmx to fire `event` on the page, keeping any event already on the response."""
    current = response.headers.get(TRIGGER)
    events: dict[str, Any] = {}
    if current:
        try:
            parsed = json.loads(current)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            events.update(parsed)
        else:  # the plain form: "a, b"
            events.update({name.strip(): None for name in current.split(",") if name.strip()})
    events[event] = detail
    if all(value is None for value in events.values()):
        response.headers[TRIGGER] = ", ".join(events)
    else:
        response.headers[TRIGGER] = json.dumps(events, ensure_ascii=False)
    return response


def render_page_or_fragment(page: str, fragment: str, **context: Any) -> str:
    """`fragment` for an htmx request, the whole `page` otherwise."""
    return render_template(fragment if is_htmx() else page, **context)


def current_page_path() -> str:
    """The page the user is on: for htmx requests the browser's URL, not the fragment's."""
    if is_htmx() or request.headers.get("HX-Request") == "true":
        current = request.headers.get("HX-Current-URL")
        if current:
            parts = urlsplit(current)
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.full_path.rstrip("?")


def htmx_redirect(location: str) -> Response:
    """A client-side redirect htmx performs itself (a 302 would be followed and swapped)."""
    response = make_response("", 200)
    response.headers["HX-Redirect"] = location
    return response


def redirect_for(location: str) -> Response:
    """Go to `location`: through htmx for htmx requests, a plain redirect otherwise."""
    if request.headers.get("HX-Request") == "true":
        return htmx_redirect(location)
    return redirect(location)

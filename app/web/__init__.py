"""What every blueprint shares about requests and responses.

- `app.web.requests`: integers and pages from the query string, the request id, the
  signed-in user (`me()`), the request context services receive, JSON errors, safe redirects.
- `app.web.htmx`: htmx detection, fragments, merged `HX-Trigger` events, htmx redirects.
"""

from app.web.htmx import (
    current_page_path,
    htmx_redirect,
    is_htmx,
    redirect_for,
    render_page_or_fragment,
    trigger,
    wants_fragment,
)
from app.web.requests import (
    ID_MAX,
    MAX_PAGE,
    audit,
    client_ip,
    form_int,
    json_error,
    lockout_policy,
    me,
    page_arg,
    parse_int,
    pop_flashes,
    request_context,
    request_id,
    safe_next,
    wants_json,
)

__all__ = [
    "ID_MAX", "MAX_PAGE", "audit", "client_ip", "current_page_path", "form_int", "htmx_redirect",
    "is_htmx", "json_error", "lockout_policy", "me", "page_arg", "parse_int", "pop_flashes",
    "redirect_for", "render_page_or_fragment", "request_context", "request_id", "safe_next",
    "trigger", "wants_fragment", "wants_json",
]

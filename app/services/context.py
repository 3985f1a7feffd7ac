"""Who is acting and from where: one value from the route (or CLI command, or job) to the
services and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.models import User


@dataclass(frozen=True)
class RequestContext:
    """The actor, client address, request id and user agent of one action.

    Routes build it with `app.web.request_context()`; the CLI and background work use the
    default (no request: every field None) or name the actor.
    """

    actor: User | None = None
    ip: str | None = None
    request_id: str | None = None
    user_agent: str | None = None

    def acting(self, actor: User | None) -> RequestContext:
        """The same request, acted on by `actor` (e.g. the user who just signed in)."""
        return RequestContext(actor, self.ip, self.request_id, self.user_agent)


NO_REQUEST = RequestContext()

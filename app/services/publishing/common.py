"""What both publishers share: the review as published, and the failure they raise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATUS_LABELS = {"approved": "Approved", "changes_requested": "Changes requested",
                 "submitted": "Submitted", "draft": "Draft"}
RETRY_AFTER_MAX_SECONDS = 600.0


class PublishError(Exception):
    """A failed call. `reason` is for people (the review page, the admin page): no secret in it."""

    def __init__(self, reason: str, *, retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:480]
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class ReviewDoc:
    review_id: int
    week: str
    author: str
    team: str
    status: str
    approved_by: str
    approved_at: datetime | None
    entries_count: int
    link: str
    body: str
    version: int
    link_for: Callable[[int], str | None] = field(compare=False)

    @property
    def title(self) -> str:
        return f"{self.week} · {self.author}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass
class PageRef:
    """The external page, as the publication row stores it (the publisher updates it)."""

    external_id: str | None
    url: str | None
    state: str
    save: Callable[[], None] = field(repr=False)

    @classmethod
    def over(cls, row: Any) -> PageRef:
        """A PageRef over a stored publication (or mirror) row: `save()` writes the page's id,
        address and state back and commits at once, so a retried run finds the page."""
        from app.extensions import db
        from app.models.base import utcnow

        def save() -> None:
            row.external_id, row.url, row.state = page.external_id, page.url, page.state
            row.updated_at = utcnow()
            db.session.commit()

        page = cls(row.external_id, row.url, row.state, save)
        return page

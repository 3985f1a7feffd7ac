"""AI drafts of weekly reviews: build the task from the author's own week, stream, save.

Only the author's own live entries of that week go into the prompt, whoever asks; the ids
given are kept on the review so citations can be checked against them later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import current_app

from app.models import LogEntry, User, WeeklyReview
from app.services.context import NO_REQUEST, RequestContext
from app.services.isoweek import IsoWeek
from app.services.llm import get_llm, weekly_review_task
from app.services.reviews.workflow import (
    EDITABLE,
    ReviewError,
    find_review,
    save_body,
    week_entries,
)


@dataclass
class Draft:
    """One draft in the making: iterate `chunks()`, then `save()` what came out."""

    author: User
    week: IsoWeek
    entries: list[LogEntry]
    locale: str
    parts: list[str] = field(default_factory=list)

    @property
    def given_ids(self) -> list[int]:
        return [e.id for e in self.entries]

    def chunks(self) -> Iterator[str]:
        """The text as the model writes it. Raises LLMError (nothing is saved then)."""
        task = weekly_review_task(self.entries, week=str(self.week), locale=self.locale)
        for chunk in get_llm(current_app.config).stream(task, user_id=self.author.id):
            self.parts.append(chunk)
            yield chunk

    @property
    def text(self) -> str:
        return "".join(self.parts).strip() + "\n"

    def save(self, expected_version: int, info: RequestContext | None = None) -> WeeklyReview:
        return save_body(self.author, self.week, self.text, expected_version, info=info or NO_REQUEST,
                         drafted_by_ai=True, given_ids=self.given_ids)


def start_draft(author: User, week: IsoWeek, locale: str) -> Draft:
    """Check a draft may be written now (before any call to the model) and gather its entries.

    ReviewError "not_editable" while the review is submitted or approved, "no_entries" when the
    week has nothing to draft from.
    """
    review = find_review(author, week)
    if review is not None and review.status not in EDITABLE:
        raise ReviewError("not_editable", review)
    entries = week_entries(author, week)
    if not entries:
        raise ReviewError("no_entries", review)
    # Read everything the prompt needs now: the model call ends the session's transaction.
    for entry in entries:
        _ = entry.tags
    return Draft(author=author, week=week, entries=entries, locale=locale)

"""Free text from outside the entry form (Slack, a pull request) as proposed entry values: the
same "Structure with AI" service the form uses; when the model fails, the text is kept as is."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from app.models import User
from app.models.log import TAGS_MAX, TITLE_MAX
from app.services.llm import LLMError, propose_structure
from app.services.log.entries import parse_tags
from app.services.log.query import categories_of
from app.services.log.structuring import STRUCTURE_TEXT_MAX, apply_proposal
from app.services.text import one_line

log = logging.getLogger("app.capture")


def draft_from_text(user: User, text: str, *, title: str | None = None, locale: str | None = None,
                    extra_tags: Iterable[str] = ()) -> dict[str, str]:
    """Entry form values (title, STAR parts, category, impact, tags) proposed from `text`."""
    text = text.strip()[:STRUCTURE_TEXT_MAX]
    values: dict[str, str] = {"title": (title or "").strip()[:TITLE_MAX], "situation": text,
                              "tags": ", ".join(extra_tags)}
    try:
        proposal = propose_structure(text, user_id=user.id, categories=categories_of(user.id),
                                     locale=locale or user.locale or "en")
        values = apply_proposal(values, proposal)
    except LLMError as exc:
        log.warning("structuring failed; the text is kept as it is: %s", type(exc).__name__)
    if not (values.get("title") or "").strip():
        values["title"] = one_line(text)[:TITLE_MAX] or "—"
    values["title"] = one_line(values["title"])[:TITLE_MAX]
    values["tags"] = ", ".join(parse_tags(values.get("tags") or "")[:TAGS_MAX])
    return values

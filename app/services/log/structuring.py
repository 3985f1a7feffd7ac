"""Structure with AI, the rules: what the model reads from a form, and how its proposal is put
back into the form's values (nothing is saved here; the user saves the form)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from app.models.log import STAR_PARTS, TAGS_MAX, Impact
from app.services.llm import LLMError, propose_structure
from app.services.log.entries import parse_tags

STRUCTURE_TEXT_MAX = 10_000


def source_text(values: Mapping[str, str]) -> str:
    """What the model reads: the STAR boxes the user wrote in (quick capture's notes are the
    first), or the title alone when they are all empty."""
    parts = [(values.get(part) or "").strip() for part in STAR_PARTS]
    return "\n\n".join(p for p in parts if p) or (values.get("title") or "").strip()


def apply_proposal(values: Mapping[str, str], proposal: Mapping[str, Any]) -> dict[str, str]:
    """The form values with the proposal put in.

    The STAR parts and the impact are the proposal (they are rewritten from the whole text);
    a title or category the user already typed stays, and tags are the user's plus the new ones.
    """
    merged = dict(values)
    for part in STAR_PARTS:
        merged[part] = proposal.get(part) or ""
    if not (values.get("title") or "").strip():
        merged["title"] = proposal.get("title") or ""
    if not (values.get("category") or "").strip():
        merged["category"] = proposal.get("category") or ""
    merged["impact"] = proposal.get("impact") or values.get("impact") or Impact.MEDIUM.value
    tags = parse_tags([*parse_tags(values.get("tags") or ""), *(proposal.get("tags") or [])])
    merged["tags"] = ", ".join(tags[:TAGS_MAX])
    return merged


def propose(values: dict[str, str], categories: list[str], *, user_id: int,
            locale: str) -> tuple[dict[str, str], dict, int]:
    """(form values, what to tell the user, status). Failures keep `values` untouched."""
    text = source_text(values)
    if not text:
        return values, {"error": _("Write what you did first (a title or notes), then press "
                                   "Structure with AI.")}, 422
    if len(text) > STRUCTURE_TEXT_MAX:
        return values, {"error": _("Structure with AI reads at most %(n)s characters. Shorten "
                                   "the text and try again.", n=f"{STRUCTURE_TEXT_MAX:,}")}, 422
    try:
        proposal = propose_structure(text, user_id=user_id, categories=categories, locale=locale)
    except LLMError as exc:
        return values, {"error": str(exc.user_message)}, 503
    return apply_proposal(values, proposal), {"proposed": True, "source": text}, 200

"""Ask your log: answer a question from the entries the asker may see.

    result = ask_question(user, "what did I ship for payments in October?", include_team=False,
                          locale="en")      # raises QuestionInvalid or LLMError; the caller commits

Only entries the asker may read are ever searched (app/access.py), so only they can reach the
prompt: their own, and for a lead who asks for it, their team members'. When nothing matches,
no model is asked: there is nothing to ground an answer on, and saying so costs nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from babel.dates import format_interval
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from app.access import visible_owner_ids
from app.extensions import db
from app.models import User
from app.models.ask import QUESTION_MAX, AskQuestion
from app.services.ask.cache import answer_cache, cache_key, fingerprint, lookup, store
from app.services.ask.dates import parse_dates
from app.services.ask.retrieval import (
    DEFAULT_EMBEDDING_CANDIDATES,
    DEFAULT_MAX_ENTRIES,
    Retrieval,
    retrieve,
)
from app.services.llm import LLM, ask_task, get_llm
from app.services.llm.base import MAX_OUTPUT_CHARS, release_session
from app.services.llm.embeddings import Embedder, get_embedder
from app.services.llm.ledger import record_call
from app.services.markdown import cited_ids

log = logging.getLogger(__name__)

class QuestionInvalid(ValueError):
    """A question refused before anything else happens; `message` is shown to the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def validate_question(raw: str | None) -> str:
    """The question, trimmed; QuestionInvalid when empty or longer than 500 characters."""
    question = (raw or "").replace("\r\n", "\n").strip()
    if not question:
        raise QuestionInvalid("empty", _("Type a question first."))
    if len(question) > QUESTION_MAX:  # characters, so 500 Hangul syllables are fine
        raise QuestionInvalid("too_long", _(
            "Your question has %(n)d characters; the limit is %(max)d. Shorten it and ask again.",
            n=len(question), max=QUESTION_MAX))
    return question


@dataclass
class Answer:
    question: AskQuestion
    retrieval: Retrieval | None  # None for an answer from the cache


def ask_question(user: User, raw_question: str, *, include_team: bool, locale: str,
                 llm: LLM | None = None, embedder: Embedder | None = None) -> Answer:
    """Answer a question from the asker's visible entries; the row is added and flushed, and
    the caller commits.

    Raises QuestionInvalid before any work, LLMError when the model fails (nothing is added).
    The model call and the ledger need no open transaction: this reads, ends its read
    transaction, calls, then writes.
    """
    question = validate_question(raw_question)
    user_id = user.id  # read once: after the call the ORM would reload it in a new transaction
    include_team = bool(include_team and user.leads_team)
    config = current_app.config
    model = llm or get_llm(config)
    embedder = embedder or get_embedder(config)
    owners = visible_owner_ids(user, include_team=include_team)
    today = user.today()
    key = cache_key(user_id=user.id, include_team=include_team, owner_ids=owners, question=question,
                    data_fingerprint=fingerprint(owners), today=today, locale=locale,
                    model=f"{model.provider}/{model.model}" + (
                        f"+embeddings:{embedder.model}" if embedder else ""))
    cache = answer_cache()
    started = time.monotonic()
    cached = lookup(cache, user.id, key)
    if cached is not None:
        # The ledger writes in its own session: this one must hold no (SQLite: locking) transaction.
        release_session()
        record_call(user_id=user_id, purpose="ask", provider=model.provider, model=model.model,
                    prompt_tokens=0, completion_tokens=0, usage_estimated=False,
                    latency_ms=round((time.monotonic() - started) * 1000), attempts=0, outcome="ok",
                    cache_hit=True)
        row = AskQuestion(user_id=user_id, question=question, answer=cached["answer"],
                          cited_entry_ids=cached["cited"], entries_used=cached.get("entries_used", 0),
                          include_team=include_team, provider=cached.get("provider"),
                          model=cached.get("model"), cache_hit=True, cache_key=key)
        db.session.add(row)
        db.session.flush()
        return Answer(row, None)

    found = retrieve(owners, question, today, int(config.get("ASK_MAX_ENTRIES") or DEFAULT_MAX_ENTRIES),
                     embedder=embedder, user_id=user_id,
                     max_candidates=int(config.get("ASK_EMBEDDINGS_MAX_CANDIDATES")
                                        or DEFAULT_EMBEDDING_CANDIDATES))
    if not found.entries:
        with force_locale(locale):
            text = nothing_found(found, question, today)
        row = AskQuestion(user_id=user_id, question=question, answer=text, cited_entry_ids=[],
                          entries_used=0, include_team=include_team, cache_key=None)
        db.session.add(row)
        db.session.flush()
        return Answer(row, found)

    # Read before the call: it ends the transaction, which expires the entries.
    sent = {e.id for e in found.entries}
    used = len(found.entries)
    period = (found.period.start, found.period.end) if found.period else None
    text = model.complete(ask_task(question, found.entries, locale=locale, period=period),
                          user_id=user_id)
    cited = [i for i in cited_ids(text) if i in sent]
    row = AskQuestion(user_id=user_id, question=question, answer=text, cited_entry_ids=cited,
                      entries_used=used, include_team=include_team,
                      provider=model.provider, model=model.model,
                      cache_key=key if found.cacheable else None)
    db.session.add(row)
    db.session.flush()
    if found.cacheable:
        store(cache, user_id, key, row.cache_value())
    return Answer(row, found)


def nothing_found(found: Retrieval, question: str, today: date) -> str:
    """No entry matched: say so, and what was looked for, so the asker knows what to change."""
    text = _("I found nothing in the entries you can see that matches this question.")
    looked: list[str] = []
    # The question's own words that were searched (the terms are stems: "kubernet").
    _period, rest = parse_dates(question, today)
    searched = [w.strip("?!.,;:\"'") for w in rest.split()
                if any(t in w.lower() for t in found.terms)]
    if searched:
        looked.append(_("words: %(words)s", words=", ".join(f"“{w}”" for w in dict.fromkeys(searched))))
    if found.period:
        looked.append(_("dates: %(range)s",
                        range=format_interval(found.period.start, found.period.end, "yMMMd",
                                              locale=str(get_locale() or "en"))))
    if looked:
        text += " " + _("Searched for %(what)s.", what="; ".join(looked))
    return text + " " + _("Try other words or a wider date range.")


def shown_answer(text: str | None) -> str:
    """An answer as it is shown: new ones are bounded before they are stored, but one stored
    before that may be far longer; only the bound's worth is rendered, with a mark."""
    limit = MAX_OUTPUT_CHARS["ask"]
    if len(text or "") <= limit:
        return text or ""
    return (text or "")[:limit] + "\n\n*" + _(
        "(Cut here: this answer is longer than %(n)d characters.)", n=limit) + "*"


def recent_questions(user: User, page: int, per_page: int) -> tuple[list[AskQuestion], bool]:
    rows = list(db.session.scalars(
        sa.select(AskQuestion).where(AskQuestion.user_id == user.id)
        .order_by(AskQuestion.created_at.desc(), AskQuestion.id.desc())
        .limit(per_page + 1).offset((page - 1) * per_page)
    ))
    return rows[:per_page], len(rows) > per_page


def question_for(user: User, question_id: int) -> AskQuestion | None:
    """The question if `user` asked it; anyone else gets None (and so a 404)."""
    row = db.session.get(AskQuestion, question_id)
    return row if row is not None and row.user_id == user.id else None

"""Ask your log: find the entries a question is about, among those the asker may see, and answer.

    result = ask_question(user, "what did I ship for payments in October?", include_team=False,
                          locale="en")      # raises QuestionInvalid or LLMError

Only entries the asker may read are ever searched, so only they can reach the prompt: their
own, and for a lead who asks for it, their team members'. When nothing matches, no model is
asked: there is nothing to ground an answer on, and saying so costs nothing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from app.extensions import db
from app.models import User
from app.models.ask import QUESTION_MAX, AskQuestion
from app.models.log import LogEntry
from app.services.ask_cache import answer_cache, cache_key, fingerprint, lookup, store
from app.services.ask_dates import DateRange, parse_dates
from app.services.llm import LLM, ask_task, get_llm
from app.services.llm.ledger import record_call
from app.services.llm.text import terms
from app.services.log_query import _rank, _term_condition
from app.services.markdown import cited_ids

DEFAULT_MAX_ENTRIES = 15
MAX_TERMS = 12
NAMED_ID = re.compile(r"#(\d{1,9})\b")
# Question words and endings that say nothing about the work ("뭐 했는지 알려줘").
_KOREAN_NOISE = frozenset("""
언제 무슨 어디 어떻 어떤 뭐했 했니 했나 했을 했습 습니 니까 해줘 줘요 려줘 려주 알려 주세 세요 해서 했던
했는 는지 나요 인가 건가 였나 있나 었나 했지 했어 작업 업무 내용 한일
""".split())  # noqa: SIM905 - a word list reads better as text


class QuestionInvalid(ValueError):
    """A question refused before anything else happens; `message` is shown to the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass
class Retrieval:
    entries: list[LogEntry]
    period: DateRange | None
    terms: list[str]


def user_today(user: User) -> date:
    try:
        return datetime.now(ZoneInfo(user.timezone or "UTC")).date()
    except (KeyError, ValueError):
        return datetime.now(ZoneInfo("UTC")).date()


def team_member_ids(user: User) -> list[int]:
    """Everyone in the user's team, when the user leads it (can_read in app/log/access.py)."""
    if not user.is_lead or user.team_id is None:
        return []
    return list(db.session.scalars(sa.select(User.id).where(User.team_id == user.team_id)))


def searchable_owner_ids(user: User, include_team: bool) -> list[int]:
    owners = {user.id}
    if include_team:
        owners.update(team_member_ids(user))
    return sorted(owners)


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


def keyword_terms(text: str) -> list[str]:
    found = sorted(t for t in terms(text) if t not in _KOREAN_NOISE)
    return found[:MAX_TERMS]


def retrieve(owner_ids: list[int], question: str, today: date, limit: int) -> Retrieval:
    """The live entries of `owner_ids` the question is most about: one query.

    Dates in the question narrow the range; each keyword (English word or Hangul pair, matched
    as a substring like the log's search) and each "#id" named adds to an entry's score; title
    hits count most. A question with no keywords gets the newest entries of its period.
    """
    period, rest = parse_dates(question, today)
    named = [int(n) for n in NAMED_ID.findall(rest)][:10]
    rest = NAMED_ID.sub(" ", rest)
    words = keyword_terms(rest)
    dialect = db.engine.dialect.name
    stmt = sa.select(LogEntry).where(LogEntry.user_id.in_(owner_ids), LogEntry.deleted_at.is_(None))
    if period is not None:
        stmt = stmt.where(LogEntry.work_date.between(period.start, period.end))
    conditions = [_term_condition(t, dialect) for t in words]
    if named:
        conditions.append(LogEntry.id.in_(named))
    order: list[Any] = [LogEntry.work_date.desc(), LogEntry.id.desc()]
    if conditions:
        stmt = stmt.where(sa.or_(*conditions))
        score: sa.ColumnElement[int] = _rank(words) if words else sa.literal(0)
        for condition in conditions:
            score = score + sa.case((condition, 2), else_=0)
        order.insert(0, score.desc())
    entries = list(db.session.scalars(stmt.order_by(*order).limit(limit)))
    return Retrieval(entries, period, words)


@dataclass
class Answer:
    question: AskQuestion
    retrieval: Retrieval | None  # None for an answer from the cache


def ask_question(user: User, raw_question: str, *, include_team: bool, locale: str,
                 llm: LLM | None = None) -> Answer:
    """Answer a question from the asker's visible entries; the row is saved and committed.

    Raises QuestionInvalid before any work, LLMError when the model fails (nothing is saved).
    """
    question = validate_question(raw_question)
    user_id = user.id  # read once: after a commit the ORM would reload it in a new transaction
    include_team = bool(include_team and user.is_lead and user.team_id is not None)
    config = current_app.config
    model = llm or get_llm(config)
    owners = searchable_owner_ids(user, include_team)
    today = user_today(user)
    key = cache_key(user_id=user.id, include_team=include_team, owner_ids=owners, question=question,
                    data_fingerprint=fingerprint(owners), today=today, locale=locale,
                    model=f"{model.provider}/{model.model}")
    cache = answer_cache()
    started = time.monotonic()
    cached = lookup(cache, user.id, key)
    if cached is not None:
        row = AskQuestion(user_id=user.id, question=question, answer=cached["answer"],
                          cited_entry_ids=cached["cited"], entries_used=cached.get("entries_used", 0),
                          include_team=include_team, provider=cached.get("provider"),
                          model=cached.get("model"), cache_hit=True, cache_key=key)
        db.session.add(row)
        db.session.commit()
        # The ledger writes in its own session: this one must hold no (SQLite: locking) transaction.
        record_call(user_id=user_id, purpose="ask", provider=model.provider, model=model.model,
                    prompt_tokens=0, completion_tokens=0, usage_estimated=False,
                    latency_ms=round((time.monotonic() - started) * 1000), attempts=0, outcome="ok",
                    cache_hit=True)
        return Answer(row, None)

    found = retrieve(owners, question, today, int(config.get("ASK_MAX_ENTRIES") or DEFAULT_MAX_ENTRIES))
    if not found.entries:
        with force_locale(locale):
            text = _("I found nothing in the entries you can see that matches this question. "
                     "Try other words or a wider date range.")
        row = AskQuestion(user_id=user.id, question=question, answer=text, cited_entry_ids=[],
                          entries_used=0, include_team=include_team, cache_key=None)
        db.session.add(row)
        db.session.commit()
        return Answer(row, found)

    text = model.complete(ask_task(question, found.entries, locale=locale), user_id=user.id)
    sent = {e.id for e in found.entries}
    cited = [i for i in cited_ids(text) if i in sent]
    row = AskQuestion(user_id=user.id, question=question, answer=text, cited_entry_ids=cited,
                      entries_used=len(found.entries), include_team=include_team,
                      provider=model.provider, model=model.model, cache_key=key)
    db.session.add(row)
    db.session.commit()
    store(cache, user.id, key, row.cache_value())
    return Answer(row, found)


def readable_entry_ids(user: User, entry_ids: set[int]) -> set[int]:
    """Which of `entry_ids` the user may open now (own, or their team's for a lead): one query."""
    if not entry_ids:
        return set()
    owners = searchable_owner_ids(user, include_team=True)
    return set(db.session.scalars(
        sa.select(LogEntry.id).where(LogEntry.id.in_(entry_ids), LogEntry.user_id.in_(owners),
                                     LogEntry.deleted_at.is_(None))
    ))


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

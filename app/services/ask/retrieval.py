"""Finding the entries a question is about, among those the asker may see.

Retrieval is by keywords and dates; with ASK_EMBEDDINGS_MODEL set, also by meaning over the
same entries (`_hybrid`), falling back to keywords alone whenever the embeddings endpoint fails.
Vectors are saved in a session of their own: a cache of the entries' meaning, never part of
the asker's transaction.
"""

from __future__ import annotations

import logging
import math
import operator
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models.base import utcnow
from app.models.embedding import EntryEmbedding, content_hash, pack_vector, unpack_vector
from app.models.log import STAR_PARTS, LogEntry, LogEntryTag
from app.services.ask.dates import DateRange, parse_dates
from app.services.llm import LLMError
from app.services.llm.embeddings import Embedder
from app.services.llm.text import terms
from app.services.log.query import rank_by_terms, term_condition

log = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 15
DEFAULT_EMBEDDING_CANDIDATES = 2000
EMBED_PER_QUESTION = 200  # entries (re-)embedded for one question at most; the rest on later ones
EMBED_BATCH = 50  # entries per embeddings request
# How much of an entry is embedded, in ASCII characters; other characters count 3, so ~2,000
# Hangul. Either stays well under the 8,192-token input limit of OpenAI's embedding models.
EMBED_TEXT_BUDGET = 6000
RRF_K = 60  # the usual reciprocal-rank-fusion constant: damps the weight of the very top ranks
MAX_TERMS = 12
NAMED_ID = re.compile(r"#(\d{1,9})\b")
# Question words and endings that say nothing about the work ("뭐 했는지 알려줘").
_KOREAN_NOISE = frozenset("""
언제 무슨 어디 어떻 어떤 뭐했 했니 했나 했을 했습 습니 니까 해줘 줘요 려줘 려주 알려 주세 세요 해서 했던
했는 는지 나요 인가 건가 였나 있나 었나 했지 했어 작업 업무 내용 한일
""".split())  # noqa: SIM905 - a word list reads better as text


@dataclass
class Retrieval:
    entries: list[LogEntry]
    period: DateRange | None
    terms: list[str]
    embeddings: str = "off"  # off | used | failed (the endpoint failed: keyword ranking alone)
    # False when the answer should not be reused: embeddings failed, or entries still wait for
    # their vectors (so the same question later may find more).
    cacheable: bool = True


def keyword_terms(text: str) -> list[str]:
    found = sorted(t for t in terms(text) if t not in _KOREAN_NOISE)
    return found[:MAX_TERMS]


def retrieve(owner_ids: list[int], question: str, today: date, limit: int, *,
             embedder: Embedder | None = None, user_id: int | None = None,
             max_candidates: int = DEFAULT_EMBEDDING_CANDIDATES) -> Retrieval:
    """The live entries of `owner_ids` the question is most about.

    Dates in the question narrow the range; each keyword (English word or Hangul pair, matched
    as a substring like the log's search) and each "#id" named adds to an entry's score; title
    hits count most. With dates, every entry of the period is a candidate and the keywords
    only rank them; a question with no keywords gets the newest entries of its period. One
    query. With an `embedder`, this keyword ranking is fused with a ranking by meaning (see
    `_hybrid`), still only over these entries.
    """
    period, rest = parse_dates(question, today)
    named = [int(n) for n in NAMED_ID.findall(rest)][:10]
    rest = NAMED_ID.sub(" ", rest)
    words = keyword_terms(rest)
    dialect = db.engine.dialect.name
    stmt = sa.select(LogEntry).where(*_visible(owner_ids, period))
    conditions = [term_condition(t, dialect) for t in words]
    if named:
        conditions.append(LogEntry.id.in_(named))
    order: list[Any] = [LogEntry.work_date.desc(), LogEntry.id.desc()]
    if conditions:
        # With dates, the period's entries are the answer and the words only rank them ("what
        # did I ship in October?" is every October entry, not the one that says "shipped").
        if period is None:
            stmt = stmt.where(sa.or_(*conditions))
        score: sa.ColumnElement[int] = rank_by_terms(words) if words else sa.literal(0)
        for condition in conditions:
            score = score + sa.case((condition, 2), else_=0)
        order.insert(0, score.desc())
    stmt = stmt.order_by(*order).limit(limit)
    about = " ".join(rest.split())
    if embedder is None or not about:
        return Retrieval(list(db.session.scalars(stmt)), period, words)
    keyword_ids = list(db.session.scalars(stmt.with_only_columns(LogEntry.id)))
    return _hybrid(owner_ids, period, words, keyword_ids, about, limit, embedder, user_id,
                   max_candidates)


def _visible(owner_ids: list[int], period: DateRange | None) -> list[sa.ColumnElement[bool]]:
    conditions = [LogEntry.user_id.in_(owner_ids), LogEntry.deleted_at.is_(None)]
    if period is not None:
        conditions.append(LogEntry.work_date.between(period.start, period.end))
    return conditions


# -- retrieval by meaning (optional: ASK_EMBEDDINGS_MODEL) ----------------------------------


@dataclass
class _Candidate:
    id: int
    stored: bytes | None  # the stored vector under this model, if any
    stored_hash: str | None
    current: bool  # stored after the entry's last change
    vector: Sequence[float] | None = None  # unit length, when known to match the entry


def _hybrid(owner_ids: list[int], period: DateRange | None, words: list[str], keyword_ids: list[int],
            about: str, limit: int, embedder: Embedder, user_id: int | None,
            max_candidates: int) -> Retrieval:
    """Keyword ranking and similarity ranking, fused by reciprocal rank.

    The candidates are the newest `max_candidates` entries the keyword search could return (same
    owners, period, not deleted): nothing else is embedded or compared. The question is embedded
    once; then up to EMBED_PER_QUESTION entries whose vector is missing or stale, in batches,
    and stored. A fixed number of queries whatever the data size. If the endpoint fails, the
    answer comes from the keyword ranking alone and is not cached.
    """
    candidates = _candidates(owner_ids, period, embedder.model, max_candidates)
    if not candidates:
        return Retrieval([], period, words)
    suspects = [c for c in candidates if not c.current]
    checked = suspects[:EMBED_PER_QUESTION]
    read_at = utcnow()  # before the texts are read: an edit after this makes the vector stale
    texts = _entry_texts([c.id for c in checked])
    todo: list[tuple[_Candidate, str]] = []  # (candidate, hash of its text) to embed
    unchanged: set[int] = set()  # edited, but not in what is embedded (e.g. only the category)
    for candidate in checked:
        if candidate.id not in texts:
            continue
        digest = content_hash(texts[candidate.id])
        if candidate.stored is not None and digest == candidate.stored_hash:
            unchanged.add(candidate.id)
        else:
            todo.append((candidate, digest))
    deadline = time.monotonic() + embedder.budget
    vectors: list[list[float]] = []
    try:
        [question] = embedder.embed([about], user_id=user_id, deadline=deadline)
        for start in range(0, len(todo), EMBED_BATCH):
            batch = [texts[c.id] for c, _digest in todo[start:start + EMBED_BATCH]]
            vectors += embedder.embed(batch, user_id=user_id, deadline=deadline)
    except LLMError as exc:
        log.warning("embeddings unavailable; answering from keyword search alone: %s", exc,
                    extra={"purpose": "ask"})
        _store(embedder.model, todo[:len(vectors)], vectors, unchanged, read_at)  # what did arrive
        return Retrieval(_load(owner_ids, keyword_ids), period, words, embeddings="failed",
                         cacheable=False)
    _store(embedder.model, todo, vectors, unchanged, read_at)
    for candidate in candidates:
        if candidate.current or candidate.id in unchanged:
            candidate.vector = unpack_vector(candidate.stored or b"")
    for (candidate, _digest), vector in zip(todo, vectors, strict=True):
        candidate.vector = _unit(vector)
    similar = _by_similarity(_unit(question), candidates, limit)
    fused = _fuse(keyword_ids, similar)[:limit]
    return Retrieval(_load(owner_ids, fused), period, words, embeddings="used",
                     cacheable=len(suspects) <= EMBED_PER_QUESTION)


def _candidates(owner_ids: list[int], period: DateRange | None, model: str,
                max_candidates: int) -> list[_Candidate]:
    """The newest visible entries of the period with their stored vectors: one query."""
    rows = db.session.execute(
        sa.select(LogEntry.id, EntryEmbedding.vector, EntryEmbedding.content_hash,
                  EntryEmbedding.created_at >= LogEntry.updated_at)
        .outerjoin(EntryEmbedding, sa.and_(EntryEmbedding.entry_id == LogEntry.id,
                                           EntryEmbedding.model == model))
        .where(*_visible(owner_ids, period))
        .order_by(LogEntry.work_date.desc(), LogEntry.id.desc())
        .limit(max_candidates)
    )
    return [_Candidate(entry_id, stored, digest, bool(stored is not None and current))
            for entry_id, stored, digest, current in rows]


def entry_text(title: str, parts: Sequence[str | None], tags: Sequence[str]) -> str:
    """What is embedded for an entry: title, STAR parts and tags, clipped."""
    pieces = [title, *(p.strip() for p in parts if p and p.strip())]
    if tags:
        pieces.append("Tags: " + ", ".join(tags))
    text = "\n".join(pieces)[:EMBED_TEXT_BUDGET]
    used = 0
    for i, ch in enumerate(text):
        used += 1 if ord(ch) < 128 else 3
        if used > EMBED_TEXT_BUDGET:
            return text[:i]
    return text


def _entry_texts(entry_ids: list[int]) -> dict[int, str]:
    """entry id -> text to embed, for these entries: two queries (entries, tags)."""
    if not entry_ids:
        return {}
    tags: dict[int, list[str]] = {}
    for entry_id, tag in db.session.execute(
            sa.select(LogEntryTag.entry_id, LogEntryTag.tag).where(LogEntryTag.entry_id.in_(entry_ids))
            .order_by(LogEntryTag.entry_id, LogEntryTag.position)):
        tags.setdefault(entry_id, []).append(tag)
    parts = [getattr(LogEntry, part) for part in STAR_PARTS]
    return {row[0]: entry_text(row[1], row[2:], tags.get(row[0], []))
            for row in db.session.execute(
                sa.select(LogEntry.id, LogEntry.title, *parts).where(LogEntry.id.in_(entry_ids)))}


def _store(model: str, done: list[tuple[_Candidate, str]], vectors: list[list[float]],
           unchanged: set[int], read_at: datetime) -> None:
    """Save new vectors (insert or replace) and mark unchanged ones current: two statements.

    A failure here (the entry purged meanwhile, a concurrent question saving the same vector)
    costs only the saving: this question still uses the vectors it has.
    """
    rows = []
    for (candidate, digest), vector in zip(done, vectors, strict=True):
        unit = _unit(vector)
        if unit is not None:
            rows.append({"entry_id": candidate.id, "model": model, "content_hash": digest,
                         "dims": len(unit), "vector": pack_vector(unit), "created_at": read_at})
    if not rows and not unchanged:
        return
    try:
        # A session of its own: the vectors are a cache, never part of the asker's transaction.
        with so.Session(db.engine) as session, session.begin():
            if rows:
                insert = (sqlite_insert if db.engine.dialect.name == "sqlite" else pg_insert)(EntryEmbedding)
                session.execute(insert.on_conflict_do_update(
                    index_elements=[EntryEmbedding.entry_id],
                    set_={name: insert.excluded[name]
                          for name in ("model", "content_hash", "dims", "vector", "created_at")}), rows)
            if unchanged:
                session.execute(sa.update(EntryEmbedding).where(EntryEmbedding.entry_id.in_(unchanged))
                                .values(created_at=read_at))
    except SQLAlchemyError:
        log.warning("could not save entry embeddings", exc_info=True, extra={"purpose": "ask"})


def _unit(vector: Sequence[float]) -> list[float] | None:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm and math.isfinite(norm) else None


def _by_similarity(question: Sequence[float] | None, candidates: list[_Candidate],
                   limit: int) -> list[int]:
    """The `limit` candidates closest in meaning (cosine > 0), closest first, then newest."""
    if question is None:
        return []
    scored = []
    for position, candidate in enumerate(candidates):
        vector = candidate.vector
        if vector is None or len(vector) != len(question):
            continue  # never embedded yet, or by a model of another size
        similarity = sum(map(operator.mul, question, vector))
        if similarity > 0:
            scored.append((-similarity, position, candidate.id))
    return [entry_id for _s, _p, entry_id in sorted(scored)[:limit]]


def _fuse(*rankings: list[int]) -> list[int]:
    """Reciprocal rank fusion: each ranking adds 1 / (RRF_K + rank); ties go to the better rank."""
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for ranking in rankings:
        for rank, entry_id in enumerate(ranking, start=1):
            scores[entry_id] = scores.get(entry_id, 0.0) + 1.0 / (RRF_K + rank)
            best[entry_id] = min(best.get(entry_id, rank), rank)
    return sorted(scores, key=lambda i: (-scores[i], best[i]))


def _load(owner_ids: list[int], entry_ids: list[int]) -> list[LogEntry]:
    """These entries, in this order, if still visible: one query (and one for their tags)."""
    if not entry_ids:
        return []
    found = {e.id: e for e in db.session.scalars(
        sa.select(LogEntry).where(LogEntry.id.in_(entry_ids), LogEntry.user_id.in_(owner_ids),
                                  LogEntry.deleted_at.is_(None)))}
    return [found[i] for i in entry_ids if i in found]



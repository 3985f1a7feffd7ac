"""The provider-independent part of the LLM layer: the task, the error, and the ledgered call."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy.orm as so
from flask import Flask, current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from app.db_events import FLUSHED_WRITES
from app.extensions import db
from app.services.llm.ledger import record_call

log = logging.getLogger(__name__)

PURPOSES = ("weekly_review", "structure", "ask")

# outcome -> what the user is told. Outcomes are also the ledger's `outcome` values.
_USER_MESSAGES = {
    "timeout": _l("The AI took too long to answer. Please try again."),
    "rate_limited": _l("The AI service is busy right now. Please try again in a minute."),
    "unavailable": _l("The AI service is not available right now. Please try again later."),
    "malformed": _l("The AI gave an answer that could not be read. Please try again."),
    "interrupted": _l("The AI stopped before finishing its answer. Please try again."),
    "error": _l("Something went wrong while talking to the AI. Please try again."),
}
_NOT_CONFIGURED = _l("AI is not set up on this server: the API key is missing. Ask an administrator.")
_REJECTED = _l("The AI service refused the request. Ask an administrator to check the AI settings.")


@dataclass(frozen=True)
class LLMTask:
    """What to ask a model: instructions (system prompt) kept apart from the data they apply to.

    `data` must be JSON-serialisable and hold only what the requesting user may see.
    """

    purpose: str
    instructions: str
    data: list[Any] | dict[str, Any]
    question: str | None = None
    locale: str = "en"

    def __post_init__(self) -> None:
        if self.purpose not in PURPOSES:
            raise ValueError(f"unknown LLM purpose {self.purpose!r}; one of {', '.join(PURPOSES)}")
        json.dumps(self.data)  # fail here, in the caller, not half-way through a call


class LLMError(Exception):
    """A call that gave no usable answer. `user_message` is safe and translated for display.

    `outcome` is the ledger outcome (timeout, rate_limited, unavailable, malformed, interrupted,
    cancelled, error); `code` is finer (http_429, read_timeout, missing_api_key, ...); `detail`
    is a short technical note for logs and the ledger, never shown to users, with no secrets.
    """

    def __init__(self, outcome: str, code: str, detail: str = "", *, retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{outcome}/{code}: {detail}" if detail else f"{outcome}/{code}")
        self.outcome = outcome
        self.code = code
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after

    @property
    def user_message(self) -> Any:
        if self.code == "missing_api_key":
            return _NOT_CONFIGURED
        if self.code in ("http_400", "http_401", "http_403", "http_404", "http_422"):
            return _REJECTED
        return _USER_MESSAGES.get(self.outcome, _USER_MESSAGES["error"])


@dataclass
class Usage:
    """Filled in by a provider while it answers."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    attempts: int = 1
    parts: list[str] = field(default_factory=list)


def estimate_tokens(text: str) -> int:
    """A rough count for when the server reports none: ~4 ASCII characters or 1 Hangul/CJK per token."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return (ascii_chars + 3) // 4 + (len(text) - ascii_chars)


class LLM:
    """One model behind one interface. Subclasses implement `_generate`."""

    provider = "base"

    def __init__(self, model: str) -> None:
        self.model = model

    def stream(self, task: LLMTask, *, user_id: int | None) -> Iterator[str]:
        """Yield the answer's text as it arrives. Nothing happens until the first `next()`.

        Raises LLMError while iterating. Text already yielded stays yielded: a failure after
        the first chunk is outcome "interrupted". Closing the iterator early records "cancelled".
        """
        return self._ledgered(current_app._get_current_object(), task, user_id, streaming=True)

    def complete(self, task: LLMTask, *, user_id: int | None) -> str:
        """The whole answer at once. Raises LLMError."""
        return "".join(self._ledgered(current_app._get_current_object(), task, user_id,
                                      streaming=False))

    # -- for providers -----------------------------------------------------------------

    def _generate(self, task: LLMTask, usage: Usage, *, streaming: bool) -> Iterator[str]:
        raise NotImplementedError

    # -- the one place a call is timed and written to the ledger ----------------------

    def _ledgered(self, app: Flask, task: LLMTask, user_id: int | None, *,
                  streaming: bool) -> Iterator[str]:
        with _context(app):
            release_session()
        started = time.monotonic()
        usage = Usage()
        outcome, code, detail = "ok", None, None
        yielded = False
        try:
            for chunk in self._generate(task, usage, streaming=streaming):
                if not chunk:
                    continue
                usage.parts.append(chunk)
                yielded = True
                yield chunk
        except LLMError as exc:
            if yielded and streaming and exc.outcome not in ("timeout", "cancelled"):
                exc.outcome = "interrupted"
            outcome, code, detail = exc.outcome, exc.code, exc.detail
            log.warning("llm call failed: %s", exc, extra={"purpose": task.purpose})
            raise
        except GeneratorExit:
            outcome, code, detail = "cancelled", "closed_by_caller", "the caller stopped reading"
            raise
        except Exception as exc:
            log.exception("llm call failed unexpectedly", extra={"purpose": task.purpose})
            outcome, code, detail = "error", "internal", type(exc).__name__
            raise LLMError("error", "internal", type(exc).__name__) from exc
        finally:
            with _context(app):
                release_session(quiet=True)
                self._record(task, user_id, usage, started, outcome, code, detail)

    def _record(self, task: LLMTask, user_id: int | None, usage: Usage, started: float,
                outcome: str, code: str | None, detail: str | None) -> None:
        from app.services.llm.prompts import build_messages

        estimated = usage.prompt_tokens is None or usage.completion_tokens is None
        prompt_tokens = usage.prompt_tokens
        if prompt_tokens is None:
            sent = build_messages(task)
            prompt_tokens = estimate_tokens("".join(m["content"] for m in sent)) if outcome in (
                "ok", "interrupted", "cancelled", "timeout") else 0
        completion_tokens = usage.completion_tokens
        if completion_tokens is None:
            completion_tokens = estimate_tokens("".join(usage.parts))
        record_call(
            user_id=user_id, purpose=task.purpose, provider=self.provider, model=self.model,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            usage_estimated=estimated, latency_ms=round((time.monotonic() - started) * 1000),
            attempts=usage.attempts, outcome=outcome, error_code=code, error_message=detail,
        )


class UncommittedWork(RuntimeError):
    """A model call was started while the caller's transaction held unsaved writes."""


def has_unsaved_writes(session: so.Session) -> bool:
    """Pending objects, or statements flushed in the current transaction (tracked by
    app/db_events.py) that no commit has made permanent yet."""
    if session.new or session.deleted or session.info.get(FLUSHED_WRITES):
        return True
    return any(session.is_modified(obj) for obj in session.dirty)


def release_session(*, quiet: bool = False) -> None:
    """End db.session's read transaction before a call that may take a minute or more.

    On SQLite every transaction here holds the write lock (BEGIN IMMEDIATE), and on PostgreSQL
    it holds a pooled connection; neither may be held across a network call. The LLM layer
    never commits the caller's work: the transaction is rolled back, and a caller holding
    unsaved writes is a programming error (UncommittedWork) — it commits first, or writes after
    the call. The ledger writes in a session of its own (ledger.record_call).
    """
    session = db.session()
    if not session.in_transaction():
        return
    if has_unsaved_writes(session):
        if quiet:  # after a call: never lose the caller's work to the ledger; skip releasing
            log.error("a model call ended with unsaved writes in the caller's transaction")
            return
        raise UncommittedWork("commit (or roll back) the caller's writes before calling the model")
    try:
        session.rollback()
    except SQLAlchemyError:
        if not quiet:
            raise
        log.exception("could not end the session's transaction before writing the LLM ledger")


def _context(app: Flask) -> Any:
    return nullcontext() if has_app_context() else app.app_context()

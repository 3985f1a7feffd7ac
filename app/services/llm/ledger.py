"""Writing the LLM call ledger, and the single place usage is reported to metrics."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.orm as so
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.metrics import count_llm_request, count_llm_tokens
from app.models.llm import ERROR_CODE_MAX, ERROR_MESSAGE_MAX, LLMCall

log = logging.getLogger(__name__)


def record_call(**fields: Any) -> LLMCall:
    """Write one ledger row in its own transaction, so it survives the caller's rollback.

    A ledger failure is logged and swallowed: the user's answer is not thrown away for it.
    """
    fields["error_code"] = (fields.get("error_code") or None) and fields["error_code"][:ERROR_CODE_MAX]
    fields["error_message"] = (fields.get("error_message") or None) and (
        fields["error_message"][:ERROR_MESSAGE_MAX])
    call = LLMCall(**fields)
    try:
        with so.Session(db.engine, expire_on_commit=False) as session:
            session.add(call)
            session.commit()
    except SQLAlchemyError:
        log.exception("could not write the LLM call ledger row")
    _observe(call)
    return call


def _observe(call: LLMCall) -> None:
    """The one call site that reports an LLM call to the metrics (llm_requests_total, llm_tokens_total)."""
    try:
        count_llm_request(call.purpose, call.outcome)
        count_llm_tokens(call.purpose, "prompt", call.prompt_tokens or 0)
        count_llm_tokens(call.purpose, "completion", call.completion_tokens or 0)
    except Exception:  # metrics must never fail a user's request
        log.exception("could not report LLM metrics")

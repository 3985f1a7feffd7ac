"""Embeddings for Ask your log: one interface (`Embedder.embed`) over an OpenAI-compatible endpoint.

    embedder = get_embedder(current_app.config)      # None unless ASK_EMBEDDINGS_MODEL is set
    vectors = embedder.embed(["what did I ship?"], user_id=user.id)   # raises LLMError

Every call writes one ledger row (purpose "ask", the embeddings model, prompt tokens as the
server reports them) when it ends, however it ends.

Time is bounded as for the chat provider, whose deadlines, retry and error handling this reuses
(openai_provider.py, deadline.py): each attempt ends within LLM_TIMEOUT_SECONDS (connect 5 s),
enforced at every socket read, 429 and 5xx retried with back-off, a deadline not retried.
The budget is smaller, BUDGET_SECONDS for all the embedding calls of
one question (the caller passes one deadline to each), because the answer comes after them:
15 s of embeddings + the chat provider's budget of 60 s stays under gunicorn's 120 s.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from app.services.llm.base import LLMError, Usage, estimate_tokens, release_session
from app.services.llm.deadline import CallClock
from app.services.llm.ledger import record_call
from app.services.llm.openai_provider import OpenAILLM

log = logging.getLogger(__name__)

BUDGET_SECONDS = 15.0
# The most one vector may take in a JSON answer: 3,072 floats at ~25 characters, and then some.
BYTES_PER_VECTOR = 128 * 1024


class Embedder:
    """One embeddings model behind one interface. Subclasses implement `_embed`."""

    provider = "base"
    budget = BUDGET_SECONDS

    def __init__(self, model: str) -> None:
        self.model = model

    def embed(self, texts: list[str], *, user_id: int | None,
              deadline: float | None = None) -> list[list[float]]:
        """One vector per text, in order. Raises LLMError. `deadline` is a time.monotonic()."""
        release_session()  # no transaction may be held across the call, nor while the ledger writes
        started = time.monotonic()
        usage = Usage()
        outcome, code, detail = "ok", None, None
        try:
            vectors = self._embed(texts, usage, deadline or started + self.budget)
            _check(vectors, len(texts))
            return vectors
        except LLMError as exc:
            outcome, code, detail = exc.outcome, exc.code, exc.detail
            log.warning("embeddings call failed: %s", exc, extra={"purpose": "ask"})
            raise
        except Exception as exc:
            log.exception("embeddings call failed unexpectedly", extra={"purpose": "ask"})
            outcome, code, detail = "error", "internal", type(exc).__name__
            raise LLMError("error", "internal", type(exc).__name__) from exc
        finally:
            release_session(quiet=True)
            estimated = usage.prompt_tokens is None
            prompt_tokens = usage.prompt_tokens
            if prompt_tokens is None:
                prompt_tokens = estimate_tokens("".join(texts)) if outcome in (
                    "ok", "timeout", "deadline") else 0
            record_call(
                user_id=user_id, purpose="ask", provider=self.provider, model=self.model,
                prompt_tokens=prompt_tokens, completion_tokens=0, usage_estimated=estimated,
                latency_ms=round((time.monotonic() - started) * 1000), attempts=usage.attempts,
                outcome=outcome, error_code=code, error_message=detail,
            )

    def _embed(self, texts: list[str], usage: Usage, deadline: float) -> list[list[float]]:
        raise NotImplementedError


def _check(vectors: Any, count: int) -> None:
    """One finite, non-empty vector per text, all of one size; anything else is malformed."""
    if not isinstance(vectors, list) or len(vectors) != count:
        raise LLMError("malformed", "bad_response", f"expected {count} embeddings")
    sizes = {len(v) if isinstance(v, list) else -1 for v in vectors}
    if len(sizes) > 1 or min(sizes, default=1) < 1:
        raise LLMError("malformed", "bad_response", "embeddings of different or no dimensions")
    for vector in vectors:
        if not all(isinstance(x, int | float) and math.isfinite(x) for x in vector):
            raise LLMError("malformed", "bad_response", "an embedding holds a non-number")


class OpenAIEmbedder(Embedder):
    """`client.embeddings.create` on any OpenAI-compatible server."""

    provider = "openai"

    def __init__(self, *, api_key: str | None, base_url: str | None, model: str,
                 transport: OpenAILLM) -> None:
        super().__init__(model)
        self._api_key = api_key
        self.base_url = base_url
        # The chat provider's timeouts, retries and error classification, so both behave alike.
        self._transport = transport

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OpenAIEmbedder:
        model = str(config["ASK_EMBEDDINGS_MODEL"]).strip()
        base_url = config.get("ASK_EMBEDDINGS_BASE_URL") or config.get("OPENAI_BASE_URL")
        transport = OpenAILLM.from_config({**config, "LLM_MODEL": model, "OPENAI_BASE_URL": base_url,
                                           "LLM_TOTAL_BUDGET_SECONDS": BUDGET_SECONDS})
        return cls(api_key=config.get("OPENAI_API_KEY"), base_url=base_url, model=model,
                   transport=transport)

    def _embed(self, texts: list[str], usage: Usage, deadline: float) -> list[list[float]]:
        if not self._api_key:
            raise LLMError("error", "missing_api_key", "OPENAI_API_KEY is not set")
        transport = self._transport
        clock = CallClock(attempt_seconds=transport.timeout, deadline=deadline,
                          byte_limit=len(texts) * BYTES_PER_VECTOR + 64 * 1024)
        client = transport.client(clock)
        try:
            response = transport._with_retries(
                lambda timeout: client.embeddings.create(
                    model=self.model, input=texts, encoding_format="float", timeout=timeout),
                usage, clock)
        finally:
            client.close()
        try:
            items = sorted(response.data, key=lambda item: item.index)
            vectors = [list(item.embedding) for item in items]
        except (AttributeError, TypeError) as exc:
            raise LLMError("malformed", "bad_response", "no data[].embedding in the answer") from exc
        reported = getattr(response, "usage", None)
        if reported is not None and isinstance(getattr(reported, "prompt_tokens", None), int):
            usage.prompt_tokens = reported.prompt_tokens
        return vectors


def get_embedder(config: Mapping[str, Any]) -> Embedder | None:
    """The configured embeddings model, or None when ASK_EMBEDDINGS_MODEL is unset (the default)."""
    if not str(config.get("ASK_EMBEDDINGS_MODEL") or "").strip():
        return None
    return OpenAIEmbedder.from_config(config)

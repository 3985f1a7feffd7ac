"""The openai provider: any OpenAI-compatible server through the official client.

Time is bounded by hard deadlines, enforced at every socket operation (deadline.py), not by
the client's per-read timeouts, which a server trickling one byte at a time never trips: each
attempt, from connecting to the last byte of the answer (stream included), ends within
LLM_TIMEOUT_SECONDS (default 30 s; connecting within 5 s), and the whole call, retries and
back-off included, within LLM_TOTAL_BUDGET_SECONDS (default 60 s). No attempt starts with less
than 2 s left and none is given more time than is left; a deadline or timeout is not retried
(it would only double the wait); no wait is longer than LLM_RETRY_AFTER_MAX_SECONDS (20 s) or
past the deadline. A call ended by its deadline has the ledger outcome "deadline". Worst case:
the budget, 60 s, under gunicorn's 120 s.

Output is bounded too: `max_tokens` per purpose is asked of the server (base.MAX_TOKENS), and an
answer read whole (not streamed) may not be larger than its character bound allows, in bytes,
so a 3 MB answer is refused while it downloads.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import openai

from app.services.llm.base import LLM, LLMError, LLMTask, Usage
from app.services.llm.deadline import CallClock, deadline_client
from app.services.llm.prompts import build_messages
from app.services.outbound import parse_retry_after

try:  # openai >= 3 ships on httpx2; older releases on httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
DEFAULT_BUDGET = 60.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_AFTER_MAX = 20.0
MIN_ATTEMPT_SECONDS = 2.0  # not worth starting an attempt with less time than this left
RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}


class OpenAILLM(LLM):
    provider = "openai"

    def __init__(self, *, api_key: str | None, base_url: str | None, model: str,
                 timeout: float = DEFAULT_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT,
                 budget: float = DEFAULT_BUDGET, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 retry_after_max: float = DEFAULT_RETRY_AFTER_MAX,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(model)
        self._api_key = api_key
        self.base_url = base_url
        self.timeout = min(timeout, budget)
        self.connect_timeout = connect_timeout
        self.budget = budget
        self.max_attempts = max(1, max_attempts)
        self.retry_after_max = retry_after_max
        self._sleep = sleep
        self._stream_usage = True  # ask for usage in streams until a server says it can't

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OpenAILLM:
        return cls(
            api_key=config.get("OPENAI_API_KEY"),
            base_url=config.get("OPENAI_BASE_URL"),
            model=config.get("LLM_MODEL") or "gpt-4o-mini",
            timeout=float(config.get("LLM_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT),
            budget=float(config.get("LLM_TOTAL_BUDGET_SECONDS") or DEFAULT_BUDGET),
            max_attempts=int(config.get("LLM_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS),
            retry_after_max=float(config.get("LLM_RETRY_AFTER_MAX_SECONDS") or DEFAULT_RETRY_AFTER_MAX),
        )

    # -- one call ---------------------------------------------------------------------

    def _generate(self, task: LLMTask, usage: Usage, *, streaming: bool) -> Iterator[str]:
        if not self._api_key:
            raise LLMError("error", "missing_api_key", "OPENAI_API_KEY is not set")
        messages = build_messages(task)
        clock = CallClock(attempt_seconds=self.timeout, budget=self.budget,
                          byte_limit=None if streaming else answer_byte_limit(task.max_chars))
        client = self.client(clock)
        try:
            if streaming:
                yield from self._stream(client, messages, usage, clock, task.max_tokens)
            else:
                yield self._complete(client, messages, usage, clock, task.max_tokens)
        finally:
            client.close()

    def client(self, clock: CallClock) -> openai.OpenAI:
        """An openai client whose every request ends by `clock`'s deadlines."""
        return openai.OpenAI(api_key=self._api_key, base_url=self.base_url, max_retries=0,
                             timeout=self._timeout(clock),
                             http_client=deadline_client(clock, self.base_url))

    def _complete(self, client: openai.OpenAI, messages: list[dict[str, str]], usage: Usage,
                  clock: CallClock, max_tokens: int) -> str:
        response = self._with_retries(
            lambda timeout: client.chat.completions.create(
                model=self.model, messages=messages, timeout=timeout,  # type: ignore[arg-type]
                max_tokens=max_tokens),
            usage, clock)
        try:
            text = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as exc:
            raise LLMError("malformed", "bad_response", "no choices[0].message in the answer") from exc
        if not isinstance(text, str) or not text.strip():
            raise LLMError("malformed", "empty_response", "the answer has no text")
        reported = getattr(response, "usage", None)
        if reported is not None and getattr(reported, "prompt_tokens", None) is not None:
            usage.prompt_tokens = reported.prompt_tokens
            usage.completion_tokens = reported.completion_tokens
        return text

    def _stream(self, client: openai.OpenAI, messages: list[dict[str, str]], usage: Usage,
                clock: CallClock, max_tokens: int) -> Iterator[str]:
        def open_stream(timeout: Any) -> Any:
            kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                      "timeout": timeout, "max_tokens": max_tokens}
            if self._stream_usage:
                try:
                    return client.chat.completions.create(
                        **kwargs, stream_options={"include_usage": True})
                except openai.BadRequestError as exc:
                    if "stream_options" not in str(exc) and "include_usage" not in str(exc):
                        raise
                    self._stream_usage = False  # an older server: estimate tokens instead
            return client.chat.completions.create(**kwargs)

        stream = self._with_retries(open_stream, usage, clock)
        got_text = False
        try:
            for chunk in stream:
                if clock.left() <= 0:
                    clock.expired = True
                    raise self._deadline(clock)
                reported = getattr(chunk, "usage", None)
                if reported is not None and getattr(reported, "prompt_tokens", None) is not None:
                    usage.prompt_tokens = reported.prompt_tokens
                    usage.completion_tokens = reported.completion_tokens
                for choice in getattr(chunk, "choices", None) or []:
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None) if delta is not None else None
                    if text:
                        got_text = True
                        yield text
        except LLMError:
            raise
        except Exception as exc:
            raise self._classify(exc, clock) from exc
        finally:
            stream.close()
        if not got_text:
            raise LLMError("malformed", "empty_response", "the stream ended with no text")

    # -- retries ----------------------------------------------------------------------

    def _timeout(self, clock: CallClock) -> openai.Timeout:
        left = max(clock.left(), 0.1)
        return openai.Timeout(min(self.timeout, left), connect=min(self.connect_timeout, left))

    def _with_retries(self, send: Callable[[Any], T], usage: Usage, clock: CallClock) -> T:
        attempt = 0
        while True:
            attempt += 1
            usage.attempts = attempt
            clock.start_attempt()
            try:
                return send(self._timeout(clock))
            except Exception as exc:
                failure = self._classify(exc, clock)
                if not failure.retryable or attempt >= self.max_attempts:
                    raise failure from exc
                wait = failure.retry_after if failure.retry_after is not None else _backoff(attempt)
                if wait > self.retry_after_max or (
                        time.monotonic() + wait + MIN_ATTEMPT_SECONDS > clock.deadline):
                    failure.detail += f"; not retried (wait {wait:.1f} s exceeds the budget)"
                    raise failure from exc
                self._sleep(wait)

    def _deadline(self, clock: CallClock) -> LLMError:
        spent = time.monotonic() - clock.started
        bound = "call budget" if clock.attempt_deadline >= clock.deadline else "attempt deadline"
        return LLMError("deadline", "deadline",
                        f"ended by the {bound} after {spent:.1f} s (timeout {self.timeout:g} s, "
                        f"budget {self.budget:g} s)")

    def _classify(self, exc: BaseException, clock: CallClock | None = None) -> LLMError:
        """Any failure from the client as an LLMError; the detail never includes the API key."""
        if isinstance(exc, LLMError):
            return exc
        if clock is not None and clock.too_large:
            return LLMError("too_long", "answer_bytes",
                            f"the answer passed {clock.byte_limit} bytes and was not read further")
        if clock is not None and clock.expired:
            return self._deadline(clock)
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return LLMError("timeout", "read_timeout", f"no answer within {self.timeout:g} s")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = self._scrub(f"HTTP {status}: {_message(exc)}")
            if status == 429:
                return LLMError("rate_limited", "http_429", detail, retryable=True,
                                retry_after=_retry_after(exc.response))
            if status in RETRY_STATUSES or status >= 500:
                return LLMError("unavailable", f"http_{status}", detail, retryable=True,
                                retry_after=_retry_after(exc.response))
            return LLMError("error", f"http_{status}", detail)
        if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
            return LLMError("unavailable", "connection", self._scrub(f"{type(exc).__name__}: {exc}"),
                            retryable=True)
        if isinstance(exc, openai.APIResponseValidationError | ValueError | TypeError | KeyError):
            return LLMError("malformed", "bad_response", type(exc).__name__)
        if isinstance(exc, openai.APIError):  # e.g. an error event inside a stream
            return LLMError("unavailable", "stream_error", self._scrub(_message(exc)))
        return LLMError("error", "internal", type(exc).__name__)

    def _scrub(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text[:250]


def answer_byte_limit(max_chars: int) -> int:
    """Bytes an answer read whole may take: its characters as \\uXXXX escapes, plus the JSON."""
    return max_chars * 6 + 64 * 1024


def _message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])[:200]
    return str(getattr(exc, "message", "") or exc)[:200]


def _backoff(attempt: int) -> float:
    base = min(1.0 * 2 ** (attempt - 1), 8.0)
    return base * random.uniform(0.8, 1.2)


def _retry_after(response: Any) -> float | None:
    """Seconds to wait from Retry-After-Ms, or Retry-After (seconds or an HTTP date)."""
    headers = getattr(response, "headers", None) or {}
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))

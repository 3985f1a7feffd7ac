"""A hard deadline on every model call, enforced at each socket read and write.

The HTTP client's timeouts are per operation: a read timeout of 30 s is met by a server that
sends one byte every 29 s, for ever. So the client used for model calls gets a network backend
(httpcore's, wrapped) whose every connect, read and write is given only the time left before the
attempt's deadline, and is refused once it has passed. A trickling server is cut off at the
deadline, whether it trickles headers, a JSON body or a stream.

    clock = CallClock(budget=60, attempt_seconds=30)   # the whole call / one attempt
    client = deadline_client(clock)                    # an httpx client for openai.OpenAI
    clock.start_attempt(); ... ; clock.expired         # True when the deadline ended a read

`byte_limit`, when set, also bounds how much one attempt may read (a 3 MB answer is not
downloaded whole to be refused afterwards).
"""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

try:  # openai >= 3 ships on httpx2/httpcore2; older releases on httpx/httpcore
    import httpcore2 as httpcore
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpcore  # type: ignore[no-redef]
    import httpx  # type: ignore[no-redef]

# A read given less time than this is refused: the deadline has come.
_MIN_LEFT = 0.005


class CallClock:
    """The deadlines of one call to a model: the whole call, retries and waits included
    (`budget` seconds from now, or `deadline`, a time.monotonic()), and the current attempt
    (`attempt_seconds` from its start, never past the call's deadline)."""

    def __init__(self, *, attempt_seconds: float, budget: float | None = None,
                 deadline: float | None = None, byte_limit: int | None = None) -> None:
        now = time.monotonic()
        self.started = now
        self.deadline = deadline if deadline is not None else now + (budget or attempt_seconds)
        self.attempt_seconds = attempt_seconds
        self.attempt_deadline = min(now + attempt_seconds, self.deadline)
        self.byte_limit = byte_limit
        self.bytes_read = 0
        self.expired = False  # the deadline ended a read or write
        self.too_large = False  # the answer passed byte_limit

    def start_attempt(self) -> None:
        self.attempt_deadline = min(time.monotonic() + self.attempt_seconds, self.deadline)
        self.bytes_read = 0
        self.expired = False
        self.too_large = False

    def left(self) -> float:
        """Seconds left in the current attempt."""
        return self.attempt_deadline - time.monotonic()

    def bound(self, timeout: float | None) -> float:
        """`timeout` (None: none) cut to the time left; DeadlineExceeded when none is left."""
        left = self.left()
        if left <= _MIN_LEFT:
            self.expired = True
            raise DeadlineExceeded("the call's deadline has passed")
        return left if timeout is None else min(timeout, left)


class DeadlineExceeded(httpcore.ReadTimeout):
    """Raised by the network layer at the deadline; the client reports it as a timeout."""


class AnswerTooLarge(httpcore.ReadError):
    """Raised by the network layer when an attempt has read more than its byte limit."""


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: Any, clock: CallClock) -> None:
        self._inner = inner
        self._clock = clock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        clock = self._clock
        try:
            data: bytes = self._inner.read(max_bytes, clock.bound(timeout))
        except httpcore.ReadTimeout:
            if clock.left() <= 0.05:  # the read was cut short by the deadline, not its own timeout
                clock.expired = True
            raise
        clock.bytes_read += len(data)
        if clock.byte_limit is not None and clock.bytes_read > clock.byte_limit:
            clock.too_large = True
            raise AnswerTooLarge(f"the answer passed {clock.byte_limit} bytes")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._clock.bound(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        upgraded = self._inner.start_tls(ssl_context, server_hostname, self._clock.bound(timeout))
        return _DeadlineStream(upgraded, self._clock)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, clock: CallClock) -> None:
        self._inner = httpcore.SyncBackend()
        self._clock = clock

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self._clock.bound(timeout), local_address,
                                         socket_options)
        return _DeadlineStream(stream, self._clock)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, self._clock.bound(timeout), socket_options)
        return _DeadlineStream(stream, self._clock)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_client(clock: CallClock, base_url: str | None = None) -> httpx.Client:
    """An httpx client whose every network operation ends by `clock`'s deadlines.

    A proxy from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) is honoured for `base_url`,
    as the openai client's own would be."""
    transport = httpx.HTTPTransport(proxy=_proxy_for(base_url or "https://api.openai.com/v1"))
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
        # Only with a proxy (HTTP(S)_PROXY) or an httpx that changed its insides; fail loudly in
        # tests rather than run calls without their deadline.
        raise RuntimeError("cannot enforce the LLM deadline on this HTTP transport")
    pool._network_backend = _DeadlineBackend(clock)
    return httpx.Client(transport=transport, follow_redirects=False)


def _proxy_for(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    proxy = urllib.request.getproxies().get(parts.scheme or "https")
    if not proxy or (host and urllib.request.proxy_bypass(host)):
        return None
    return proxy

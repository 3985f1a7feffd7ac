"""Slack stand-ins on 127.0.0.1: the Web API (chat.postMessage) and response_url receivers,
and requests signed like Slack signs them (HMAC-SHA256 over v0:timestamp:body)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.fake_http import LoopbackServer

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


class SlackStandIn(LoopbackServer):
    """Records every POST (path, parsed body) and answers {"ok": true}."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self._serve_with(self._handler())

    @property
    def api_url(self) -> str:
        return self.base + "/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.base}/commands/T0001/{name}"

    def posted(self, path_part: str) -> list[Any]:
        with self.lock:
            return [body for path, body in self.calls if path_part in path]

    def wait(self, path_part: str, n: int = 1, timeout: float = 60) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len([1 for p, _ in self.calls if path_part in p]) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {n} POST(s) to {path_part} after {timeout} s: {self.calls}")
                self.arrived.wait(left)
        return self.posted(path_part)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                with stand_in.arrived:
                    stand_in.calls.append((self.path, body))
                    stand_in.arrived.notify_all()
                answer = json.dumps({"ok": True, "channel": "D0001", "ts": "1.2"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        return Handler


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers Slack sends with `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}

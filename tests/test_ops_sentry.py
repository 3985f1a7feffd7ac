"""Sentry gets errors with release and environment, and nothing secret: proven on the wire."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.sentry import scrub_event
from tests.ops_support import ROOT

SECRETS = [
    "sk-live-0123456789abcdef",         # API key in the exception message
    "member.secret@example.com",        # email in a log breadcrumb
    "TopSecretBearer123",               # Authorization header
    "cookie-session-value-42",          # Cookie header
    "010-9876-5432",                    # phone number in the message
    "querytoken987654",                 # token in the query string
    "hunter2hunter2",                   # password in the form body
]


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        elif encoding == "br":
            import brotli

            raw = brotli.decompress(raw)
        _Collector.bodies.append(raw)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args):
        pass


@pytest.fixture
def sentry_server():
    _Collector.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


SCRIPT = textwrap.dedent("""
    import logging, sys
    import sentry_sdk
    from app import create_app

    app = create_app({
        "SENTRY_DSN": sys.argv[1], "APP_ENV": "staging", "LOG_FORMAT": "json",
        "BASE_URL": "https://worklog.example.com",
        "SECRET_KEY": "sentry-test-secret-key-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[2], "WTF_CSRF_ENABLED": False,
    })

    @app.post("/explode")
    def explode():
        logging.getLogger("worklog.test").warning("looking up member.secret@example.com")
        raise RuntimeError("upstream refused key sk-live-0123456789abcdef for 010-9876-5432")

    client = app.test_client()
    client.set_cookie("worklog_session", "cookie-session-value-42")
    response = client.post(
        "/explode?token=querytoken987654", data={"password": "hunter2hunter2"},
        headers={"Authorization": "Bearer TopSecretBearer123"},
    )
    assert response.status_code == 500, response.status_code
    sentry_sdk.flush(5)
    print("sent")
""")


def test_events_reach_the_dsn_without_secrets(sentry_server, tmp_path):
    dsn = f"http://publickey@127.0.0.1:{sentry_server.server_address[1]}/42"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SCRIPT, dsn, str(tmp_path / "s.db")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "WORKLOG_INSTANCE_PATH": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    wire = b"\n".join(_Collector.bodies).decode("utf-8", errors="replace")
    events = [json.loads(line) for line in wire.splitlines()
              if line.startswith("{") and '"exception"' in line]
    assert events, f"no error event reached the DSN: {wire[:2000]}"
    event = events[0]
    assert event["environment"] == "staging"
    assert event["release"].startswith("worklog@")
    assert "RuntimeError" in json.dumps(event["exception"])
    for secret in SECRETS:
        assert secret not in wire, f"{secret} was sent to Sentry"
    headers = {k.lower() for k in (event.get("request", {}).get("headers") or {})}
    assert not headers & {"authorization", "cookie"}
    assert "cookies" not in event.get("request", {})
    assert "ip_address" not in json.dumps(event.get("user", {}))


def test_scrub_event_cleans_every_place_a_secret_can_hide():
    event = {
        "message": "login for ana@example.com with password=pw123456",
        "request": {
            "headers": {"Authorization": "Bearer abcdefgh", "Cookie": "a=b", "User-Agent": "pytest",
                        "X-Api-Key": "k"},
            "cookies": {"worklog_session": "zzz"},
            "env": {"REMOTE_ADDR": "203.0.113.5"},
            "query_string": "token=abcdef123&page=2",
            "data": {"password": "pw", "title": "call 010-1111-2222"},
        },
        "user": {"id": 7, "email": "ana@example.com", "ip_address": "203.0.113.5"},
        "exception": {"values": [{"type": "ValueError", "value": "bad key sk-abcdef0123456789"}]},
        "breadcrumbs": {"values": [{"message": "Authorization: Bearer qwertyuiop"}]},
        "extra": {"openai_api_key": "x", "nested": [{"secret": "y"}]},
    }
    text = json.dumps(scrub_event(event, {}))
    for leaked in ("ana@example.com", "pw123456", "abcdefgh", "zzz", "203.0.113.5", "abcdef123",
                   "010-1111-2222", "sk-abcdef0123456789", "qwertyuiop", '"x"', '"y"', '"pw"'):
        assert leaked not in text, leaked
    assert '"User-Agent": "pytest"' in text and '"id": 7' in text and "page=2" in text

"""A stand-in for Confluence Cloud's REST API v2 on 127.0.0.1, for tests and the demo.

Checks basic auth (401), the space (an unknown key lists nothing; an unknown id is 404), that
page bodies are well-formed storage format (XHTML with ac:/ri: elements), unique titles in a
space (400), and version numbers: an update must send the current version + 1, otherwise 409.
`bump_next_update` makes someone else save a version just before our next update (a 409).
It answers 429 with Retry-After past RATE requests per second.

    python -m tests.fake_confluence --port 8766
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import itertools
import time
import xml.etree.ElementTree as ET
from typing import Any

from tests.fake_http import FakeServer, Reply

EMAIL = "worklog@example.com"
TOKEN = "fake-confluence-api-token-0123456789"
SPACE_KEY = "ENG"
SPACE_ID = "98304"
HOME_ID = "1000"
_WRAP = ('<root xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource">'
         '{}</root>')


def _error(status: int, message: str, headers: dict | None = None) -> Reply:
    return Reply(status, {"errors": [{"status": status, "title": message}]}, headers)


class FakeConfluence(FakeServer):
    def __init__(self, port: int = 0, *, rate: float = 10.0) -> None:
        super().__init__(port=port)
        self.rate = rate
        self.credentials = {(EMAIL, TOKEN)}
        self.pages: dict[str, dict[str, Any]] = {HOME_ID: {
            "id": HOME_ID, "title": "Engineering home", "parentId": None, "spaceId": SPACE_ID,
            "version": 1, "body": "<p>Home</p>"}}
        self.requests: list[tuple[float, str, str]] = []
        self.conflicts = 0
        self.bump_next_update = False
        self._ids = itertools.count(2000)

    def by_title(self, title: str) -> dict[str, Any] | None:
        with self.lock:
            return next((p for p in self.pages.values() if p["title"] == title), None)

    def handle(self, method: str, path: str, query: dict, headers: Any, body: Any) -> tuple:
        if path.startswith("/wiki/spaces/") and method == "GET":
            page = self.pages.get(path.rsplit("/", 1)[-1])
            title = html.escape(page["title"]) if page else "Not found"
            return 200, f"<!doctype html><title>{title}</title><h1>{title}</h1>" + (
                page["body"] if page else "")
        now = time.time()
        with self.lock:
            recent = [t for t, _m, _p in self.requests if t > now - 1.0]
            self.requests.append((now, method, path))
            if len(recent) >= self.rate:
                raise _error(429, "Rate limited", {"Retry-After": "1"})
        auth = headers.get("Authorization") or ""
        try:
            email, token = base64.b64decode(auth[6:]).decode().split(":", 1)
        except ValueError:
            email, token = "", ""
        if not auth.startswith("Basic ") or (email, token) not in self.credentials:
            raise _error(401, "Unauthorized")
        if not path.startswith("/wiki/api/v2/"):
            raise _error(404, "Not found")
        parts = path[len("/wiki/api/v2/"):].split("/")
        with self.lock:
            return self._route(method, parts, query, body or {})

    def _json(self, page: dict[str, Any], with_body: bool = True) -> dict[str, Any]:
        out = {"id": page["id"], "title": page["title"], "parentId": page["parentId"],
               "spaceId": page["spaceId"], "status": "current",
               "version": {"number": page["version"]},
               "_links": {"webui": f"/spaces/{SPACE_KEY}/pages/{page['id']}"}}
        if with_body:
            out["body"] = {"storage": {"representation": "storage", "value": page["body"]}}
        return out

    def _check_body(self, body: dict) -> str:
        storage = body.get("body") or {}
        if storage.get("representation") != "storage":
            raise _error(400, "body.representation must be storage")
        value = storage.get("value") or ""
        try:
            ET.fromstring(_WRAP.format(value))
        except ET.ParseError as exc:
            raise _error(400, f"Error parsing xhtml: {exc}") from None
        return value

    def _route(self, method: str, parts: list[str], query: dict, body: dict) -> tuple:
        if parts == ["spaces"] and method == "GET":
            keys = (query.get("keys") or "").split(",")
            found = [{"id": SPACE_ID, "key": SPACE_KEY, "name": "Engineering",
                      "homepageId": HOME_ID}] if SPACE_KEY in keys else []
            return 200, {"results": found, "_links": {}}
        if parts == ["pages"] and method == "GET":
            if query.get("space-id") != SPACE_ID:
                raise _error(404, "Space not found")
            found = [self._json(p) for p in self.pages.values()
                     if not query.get("title") or p["title"] == query["title"]]
            return 200, {"results": found, "_links": {}}
        if parts == ["pages"] and method == "POST":
            if body.get("spaceId") != SPACE_ID:
                raise _error(404, "Space not found")
            value = self._check_body(body)
            title = (body.get("title") or "").strip()
            if not title:
                raise _error(400, "A page title is required")
            if any(p["title"] == title for p in self.pages.values()):
                raise _error(400, "A page with this title already exists")
            parent = body.get("parentId")
            if parent and parent not in self.pages:
                raise _error(404, "Parent page not found")
            page_id = str(next(self._ids))
            self.pages[page_id] = {"id": page_id, "title": title, "parentId": parent,
                                   "spaceId": SPACE_ID, "version": 1, "body": value}
            return 200, self._json(self.pages[page_id])
        if len(parts) == 2 and parts[0] == "pages":
            page = self.pages.get(parts[1])
            if page is None:
                raise _error(404, "Page not found")
            if method == "GET":
                return 200, self._json(page)
            if method == "PUT":
                if self.bump_next_update:
                    self.bump_next_update = False
                    page["version"] += 1
                number = int(((body.get("version") or {}).get("number")) or 0)
                if number != page["version"] + 1:
                    self.conflicts += 1
                    raise _error(409, f"Version must be {page['version'] + 1}")
                page["body"] = self._check_body(body)
                page["title"] = body.get("title") or page["title"]
                page["version"] = number
                return 200, self._json(page)
        raise _error(404, "Not found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    fake = FakeConfluence(args.port)
    print(f"Fake Confluence on {fake.url}\n  CONFLUENCE_BASE_URL={fake.url}\n"
          f"  CONFLUENCE_USER_EMAIL={EMAIL}\n  CONFLUENCE_API_TOKEN={TOKEN}\n"
          f"  CONFLUENCE_SPACE_KEY={SPACE_KEY}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.server.serve_forever()


if __name__ == "__main__":
    main()

"""A stand-in for the Notion API (version 2025-09-03) on 127.0.0.1, for tests and the demo.

It checks what the real API checks for the endpoints Worklog uses: the Notion-Version header,
the bearer token (401), that the database / data source / page is shared (404), at most 100
children per request and two levels of nesting, at most 2,000 characters per text item and
100 items per rich-text array, property names and types against the data source's schema, and
at most RATE requests per second per token (429 with Retry-After). It records every request
(time, method, path) and how many went over the rate.

    python -m tests.fake_notion --port 8765
"""

from __future__ import annotations

import argparse
import contextlib
import html
import itertools
import time
import uuid
from typing import Any

from tests.fake_http import FakeServer, Reply

VERSION = "2025-09-03"
TOKEN = "secret_fake_notion_token_0123456789"
DATABASE = "11111111-2222-3333-4444-555555555555"
DATA_SOURCE = "66666666-7777-8888-9999-000000000000"
TEAM_DATABASE = "22222222-3333-4444-5555-666666666666"
TEAM_SOURCE = "77777777-8888-9999-0000-111111111111"
ENTRIES_DATABASE = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
ENTRIES_SOURCE = "ffffffff-1111-2222-3333-444444444444"
ENTRIES_SCHEMA = {"Name": "title", "Date": "date", "Author": "rich_text", "Category": "rich_text",
                  "Impact": "rich_text", "Tags": "rich_text", "Worklog link": "url"}
SCHEMA = {
    "Name": "title", "Week": "rich_text", "Author": "rich_text", "Team": "rich_text",
    "Status": "select", "Approved by": "rich_text", "Approved at": "date",
    "Entries count": "number", "Worklog link": "url",
}


def _error(status: int, code: str, message: str, headers: dict | None = None) -> Reply:
    return Reply(status, {"object": "error", "status": status, "code": code, "message": message},
                 headers)


class FakeNotion(FakeServer):
    def __init__(self, port: int = 0, *, rate: float = 3.0, token: str = TOKEN,
                 schema: dict[str, str] | None = None) -> None:
        super().__init__(port=port)
        self.rate = rate
        self.tokens = {token}
        self.databases = {DATABASE: [DATA_SOURCE], ENTRIES_DATABASE: [ENTRIES_SOURCE],
                          TEAM_DATABASE: [TEAM_SOURCE]}
        self.sources: dict[str, dict[str, str]] = {DATA_SOURCE: dict(schema or SCHEMA),
                                                   ENTRIES_SOURCE: dict(ENTRIES_SCHEMA),
                                                   TEAM_SOURCE: dict(schema or SCHEMA)}
        self.pages: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, str] = {}  # block id -> page id
        self.requests: list[tuple[float, str, str]] = []
        self.over_limit = 0
        self.by_token: dict[str, list[float]] = {}
        self.problems: list[str] = []  # request shapes the real API would refuse
        self.stall_after_create: float = 0.0
        self.fail_next: list[int] = []
        self._ids = itertools.count(1)

    # -- inspection helpers for tests ------------------------------------------------------
    def live_pages(self, source: str = DATA_SOURCE) -> list[dict[str, Any]]:
        with self.lock:
            return [p for p in self.pages.values() if not p["in_trash"] and p["source"] == source]

    def max_in_any_second(self) -> int:
        """The most requests of one token seen within one second."""
        return max((self._max_in_second(times) for times in self.by_token.values()), default=0)

    @staticmethod
    def _max_in_second(times: list[float]) -> int:
        times = sorted(times)
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - 1.0:
                j += 1
            best = max(best, i - j + 1)
        return best

    # -- the API ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, headers: Any, body: Any) -> tuple:
        if path.startswith("/pages/") and method == "GET":
            return 200, self._html(path.rsplit("/", 1)[-1])
        now = time.time()
        auth = headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.lock:
            # Notion's limit is per integration (token).
            seen = self.by_token.setdefault(token, [])
            window = [t for t in seen[-50:] if t > now - 1.0]
            seen.append(now)
            self.requests.append((now, method, path))
            if len(window) >= self.rate:
                self.over_limit += 1
                raise _error(429, "rate_limited", "Rate limited.", {"Retry-After": "1"})
            if self.fail_next:
                status = self.fail_next.pop(0)
                raise _error(status, "service_unavailable" if status >= 500 else "rate_limited",
                             "Try again.", {"Retry-After": "0"})
        if headers.get("Notion-Version") != VERSION:
            raise _error(400, "missing_version", f"Notion-Version must be {VERSION}.")
        if token not in self.tokens:
            raise _error(401, "unauthorized", "API token is invalid.")
        parts = [p for p in path.split("/") if p][1:]  # drop "v1"
        with self.lock:
            return self._route(method, parts, query, body or {})

    def _route(self, method: str, parts: list[str], query: dict, body: dict) -> tuple:
        head = parts[0] if parts else ""
        if head == "users" and parts[1:] == ["me"]:
            return 200, {"object": "user", "type": "bot", "name": "Worklog (fake)"}
        if head == "databases" and method == "GET":
            sources = self.databases.get(parts[1])
            if sources is None:
                raise _error(404, "object_not_found", "Could not find database.")
            return 200, {"object": "database", "id": parts[1],
                         "data_sources": [{"id": s, "name": "Reviews"} for s in sources]}
        if head == "data_sources":
            schema = self.sources.get(parts[1])
            if schema is None:
                raise _error(404, "object_not_found", "Could not find data source.")
            if len(parts) == 3 and parts[2] == "query" and method == "POST":
                return 200, self._query(parts[1], body)
            if method == "PATCH":
                for name, spec in (body.get("properties") or {}).items():
                    schema[name] = next(iter(spec))
            return 200, {"object": "data_source", "id": parts[1], "properties": {
                name: {"id": name, "name": name, "type": kind} for name, kind in schema.items()}}
        if head == "pages" and method == "POST":
            return 200, self._create(body)
        if head == "pages" and method == "PATCH":
            page = self._page(parts[1])
            self._check_properties(page["source"], body.get("properties") or {})
            page["properties"].update(body.get("properties") or {})
            if "in_trash" in body:
                page["in_trash"] = bool(body["in_trash"])
            return 200, self._page_json(page)
        if head == "blocks" and len(parts) == 3 and parts[2] == "children":
            page = self._page(parts[1])
            if method == "GET":
                size = int(query.get("page_size", 100))
                start = int(query.get("start_cursor", 0) or 0)
                chunk = page["children"][start:start + size]
                more = start + size < len(page["children"])
                return 200, {"object": "list", "results": chunk, "has_more": more,
                             "next_cursor": str(start + size) if more else None}
            children = body.get("children") or []
            self._check_children(children)
            page["children"].extend(self._with_ids(children, page["id"]))
            return 200, {"object": "list", "results": children}
        if head == "blocks" and method == "DELETE":
            page_id = self.blocks.pop(parts[1], None)
            if page_id is None:
                raise _error(404, "object_not_found", "Could not find block.")
            page = self.pages[page_id]
            page["children"] = [b for b in page["children"] if b["id"] != parts[1]]
            return 200, {"object": "block", "id": parts[1], "in_trash": True}
        raise _error(400, "invalid_request_url", "Invalid request URL.")

    def _page(self, page_id: str) -> dict[str, Any]:
        page = self.pages.get(page_id)
        if page is None:
            raise _error(404, "object_not_found", "Could not find page.")
        return page

    def _page_json(self, page: dict[str, Any]) -> dict[str, Any]:
        return {"object": "page", "id": page["id"], "url": f"{self.url}/pages/{page['id']}",
                "in_trash": page["in_trash"], "properties": page["properties"]}

    def _query(self, source: str, body: dict) -> dict[str, Any]:
        flt = body.get("filter") or {}
        results = []
        for page in self.pages.values():
            if page["source"] != source:
                continue
            if flt:
                value = (page["properties"].get(flt.get("property")) or {}).get("url")
                if value != (flt.get("url") or {}).get("equals"):
                    continue
            results.append(self._page_json(page))
        return {"object": "list", "results": results, "has_more": False, "next_cursor": None}

    def _create(self, body: dict) -> dict[str, Any]:
        parent = body.get("parent") or {}
        if parent.get("type") != "data_source_id" or parent.get("data_source_id") not in self.sources:
            raise _error(404 if parent.get("type") == "data_source_id" else 400,
                         "object_not_found", "Could not find data source.")
        self._check_properties(parent["data_source_id"], body.get("properties") or {}, create=True)
        children = body.get("children") or []
        self._check_children(children)
        page_id = str(uuid.uuid4())
        page = {"id": page_id, "source": parent["data_source_id"], "in_trash": False,
                "properties": body.get("properties") or {}, "children": []}
        page["children"] = self._with_ids(children, page_id)
        self.pages[page_id] = page
        if self.stall_after_create:
            self.lock.release()
            try:
                time.sleep(self.stall_after_create)
            finally:
                self.lock.acquire()
        return self._page_json(page)

    def _with_ids(self, blocks: list[dict], page_id: str) -> list[dict]:
        out = []
        for block in blocks:
            block = {**block, "id": str(uuid.uuid4())}
            self.blocks[block["id"]] = page_id
            out.append(block)
        return out

    def _check_properties(self, source: str, props: dict, create: bool = False) -> None:
        schema = self.sources[source]
        for name, value in props.items():
            kind = schema.get(name)
            if kind is None:
                raise _error(400, "validation_error", f"{name} is not a property that exists.")
            if kind not in value:
                raise _error(400, "validation_error", f"{name} is expected to be {kind}.")
            if kind in ("title", "rich_text"):
                self._check_rich(value[kind])
        if create and "title" not in {schema.get(n) for n in props}:
            raise _error(400, "validation_error", "Title is required.")

    def _check_rich(self, items: list[dict]) -> None:
        if len(items) > 100:
            raise _error(400, "validation_error", "rich_text length should be ≤ 100.")
        for item in items:
            if len((item.get("text") or {}).get("content") or "") > 2000:
                raise _error(400, "validation_error", "text.content length should be ≤ 2000.")
            link = (item.get("text") or {}).get("link")
            if link and not str(link.get("url", "")).startswith(("http://", "https://", "mailto:")):
                raise _error(400, "validation_error", "Invalid URL for link.")

    def _check_children(self, children: list[dict], depth: int = 1) -> None:
        if len(children) > 100:
            raise _error(400, "validation_error", "body.children length should be ≤ 100.")
        for block in children:
            kind = block.get("type")
            content = block.get(kind)
            if not kind or not isinstance(content, dict):
                raise _error(400, "validation_error", "Invalid block.")
            if "rich_text" in content:
                self._check_rich(content["rich_text"])
            for cells in (content.get("cells") or []):
                self._check_rich(cells)
            nested = content.get("children")
            if nested:
                if depth >= 2 and kind != "table_row" and kind != "table":
                    raise _error(400, "validation_error",
                                 "Children may be nested at most two levels in one request.")
                self._check_children(nested, depth + 1)

    def _html(self, page_id: str) -> str:
        page = self.pages.get(page_id)
        if page is None:
            return "<h1>Not found</h1>"
        title = "".join(t["text"]["content"] for p in page["properties"].values()
                        if "title" in p for t in p["title"])
        status = (page["properties"].get("Status") or {}).get("select") or {}
        return (f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
                f"<p>Status: {html.escape(status.get('name', ''))} · fake Notion</p>"
                f"<p>{len(page['children'])} blocks</p>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate", type=float, default=3.0)
    args = parser.parse_args()
    fake = FakeNotion(args.port, rate=args.rate)
    print(f"Fake Notion on {fake.url}\n  NOTION_BASE_URL={fake.url}\n  NOTION_API_KEY={TOKEN}\n"
          f"  NOTION_DATABASE_ID={DATABASE}\n  NOTION_ENTRIES_DATABASE_ID={ENTRIES_DATABASE}",
          flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.server.serve_forever()


if __name__ == "__main__":
    main()

"""A GitHub and GitLab stand-in on 127.0.0.1 with real-shaped answers: `Link` pagination,
ETags and 304, `X-RateLimit-Remaining`/`X-RateLimit-Reset`, and per-token users."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_http import LoopbackServer

TOKENS = {"ghp_octo_token_0000000000000000": "octo", "ghp_mona_token_1111111111111111": "mona",
          "glpat-octo-2222222222222222": "octo"}


def _pr(base: str, repo: str, number: int, author: str, title: str, body: str, day: int) -> dict:
    return {
        "url": f"{base}/repos/{repo}/issues/{number}", "repository_url": f"{base}/repos/{repo}",
        "html_url": f"https://github.example/{repo}/pull/{number}", "id": 1000 + number,
        "number": number, "title": title, "user": {"login": author}, "state": "closed",
        "body": body, "closed_at": f"2026-11-{day:02d}T10:00:00Z",
        "pull_request": {"url": f"{base}/repos/{repo}/pulls/{number}",
                         "html_url": f"https://github.example/{repo}/pull/{number}",
                         "merged_at": f"2026-11-{day:02d}T10:00:00Z"},
    }


class RepoStandIn(LoopbackServer):
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.version = 1  # bumps the ETag when the lists change
        self.rate_limit_left: int | None = None  # None: unlimited
        self.reset_at = int(time.time()) + 3600
        self.lock = threading.Lock()
        self._serve_with(self._handler())

    def paths(self) -> list[str]:
        with self.lock:
            return [p for p, _ in self.requests]

    # -- data ---------------------------------------------------------------------------------

    def github_items(self, login: str, kind: str) -> list[dict]:
        b = self.base
        prs = {
            "octo": [_pr(b, "octo/app", 12, "octo", "Fix flaky payment test",
                         "The retry loop raced the clock.", 18),
                     _pr(b, "octo/app", 15, "octo", "Add rate limiter", "Limits per token.", 17),
                     _pr(b, "octo/infra", 3, "octo", "Cut deploy time in half",
                         "Parallel image builds.", 16)],
            "mona": [_pr(b, "mona/site", 7, "mona", "Mona's redesign", "New landing page.", 18)],
        }
        issues = {"octo": [{**_pr(b, "octo/app", 20, "octo", "Crash on empty cart", "", 19),
                            "pull_request": None,
                            "html_url": "https://github.example/octo/app/issues/20"}], "mona": []}
        return (prs if kind == "pr" else issues).get(login, [])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any = None, headers: dict | None = None) -> None:
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if stand_in.rate_limit_left is not None:
                    self.send_header("X-RateLimit-Remaining", str(max(stand_in.rate_limit_left, 0)))
                    self.send_header("X-RateLimit-Reset", str(stand_in.reset_at))
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802
                with stand_in.lock:
                    stand_in.requests.append((self.path, dict(self.headers.items())))
                auth = self.headers.get("Authorization", "").removeprefix("Bearer ") or \
                    self.headers.get("PRIVATE-TOKEN", "")
                login = TOKENS.get(auth)
                if login is None:
                    return self._send(401, {"message": "Bad credentials"})
                if stand_in.rate_limit_left is not None:
                    if stand_in.rate_limit_left <= 0:
                        return self._send(403, {"message": "API rate limit exceeded"})
                    stand_in.rate_limit_left -= 1
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/user":
                    return self._send(200, {"login": login, "id": 1})
                if url.path == "/api/v4/user":
                    return self._send(200, {"username": login, "id": 1})
                if url.path == "/search/issues":
                    kind = "pr" if "is:pr" in query.get("q", "") else "issue"
                    owner = query["q"].split("author:" if kind == "pr" else "assignee:")[1].split()[0]
                    if owner != login:  # the search runs as the token's user
                        return self._send(200, {"total_count": 0, "items": []})
                    return self._paged(f"{login}-{kind}", stand_in.github_items(login, kind), query,
                                       lambda items, total: {"total_count": total, "items": items,
                                                             "incomplete_results": False})
                if url.path.startswith("/repos/") and url.path.endswith("/languages"):
                    repo = url.path[len("/repos/"):-len("/languages")]
                    langs = {"octo/app": {"Python": 52000, "TypeScript": 9000},
                             "octo/infra": {"HCL": 3000, "Shell": 800}}.get(repo, {"Ruby": 100})
                    return self._send(200, langs)
                if url.path == "/api/v4/merge_requests":
                    mrs = [{"id": 501, "iid": 9, "project_id": 5, "title": "Speed up CI cache",
                            "description": "Cache keyed by lockfile.", "state": "merged",
                            "merged_at": "2026-11-18T12:00:00.000Z",
                            "web_url": "https://gitlab.example/octo/tools/-/merge_requests/9",
                            "references": {"full": "octo/tools!9"}, "author": {"username": login}}]
                    return self._paged(f"gl-{login}-mr", mrs, query, lambda items, total: items)
                if url.path == "/api/v4/issues":
                    return self._paged(f"gl-{login}-issue", [], query, lambda items, total: items)
                if url.path == "/api/v4/projects/5/languages":
                    return self._send(200, {"Go": 71.2, "Shell": 28.8})
                return self._send(404, {"message": "Not Found"})

            def _paged(self, name: str, items: list, query: dict, shape) -> None:
                etag = f'W/"{name}-v{stand_in.version}"'
                page = int(query.get("page", "1"))
                if page == 1 and self.headers.get("If-None-Match") == etag:
                    return self._send(304, None, {"ETag": etag})
                size = 2  # small pages, so paging is exercised
                chunk = items[(page - 1) * size: page * size]
                headers = {"ETag": etag}
                if page * size < len(items):
                    nxt = dict(query, page=str(page + 1))
                    from urllib.parse import urlencode

                    path = urlsplit(self.path).path
                    first = urlencode(dict(query, page="1"))
                    headers["Link"] = (f'<{stand_in.base}{path}?{urlencode(nxt)}>; rel="next", '
                                       f'<{stand_in.base}{path}?{first}>; rel="first"')
                return self._send(200, shape(chunk, len(items)), headers)

        return Handler

"""Suggestions from repositories: merged pull/merge requests and closed issues become
*suggested* entries (a STAR draft by Structure with AI, tags from the repository's languages,
a link to the PR) that the user accepts, edits or dismisses on /log. Nothing becomes an entry
without the user's action, and a dismissed (or accepted) item is never suggested again: the
suggestion row stays, unique per user and item.

Connections (GitHub or GitHub Enterprise with a personal access token; GitLab with a token and
base URL) are kept per user with the token encrypted (app/security/secrets.py). The periodic
task `repos.scan` (every 30 minutes) queues one `repos.fetch` job per connection; a fetch asks
only for what changed since its last run (a day of overlap), follows `Link: rel="next"` pages,
sends `If-None-Match` with the ETag of the first page (a 304 costs no rate limit and means
nothing new), and stops when `X-RateLimit-Remaining` is 0: the connection pauses until
`X-RateLimit-Reset`. Only the API sees the token; what the token cannot see is never fetched.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.models import RepoConnection, Suggestion, User
from app.models.base import utcnow
from app.models.log import TITLE_MAX
from app.security import secrets

log = logging.getLogger("app.repos")

PROVIDERS = ("github", "gitlab")
FETCH_TASK = "repos.fetch"
FIRST_RUN_DAYS = 14
OVERLAP = timedelta(days=1)
MAX_PAGES = 10
PER_PAGE = 50
BODY_MAX = 4000
LANGUAGES_MAX = 5


class RateLimited(Exception):  # noqa: N818
    def __init__(self, reset: datetime) -> None:
        super().__init__(f"rate limited until {reset.isoformat()}")
        self.reset = reset


class FetchError(Exception):
    pass


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _next_link(header: str | None) -> str | None:
    for part in (header or "").split(","):
        if 'rel="next"' in part:
            start, end = part.find("<"), part.find(">")
            if start != -1 and end > start:
                return part[start + 1:end].strip()
    return None


def _reset_time(headers: dict[str, str]) -> datetime:
    raw = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset")
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (TypeError, ValueError):
        return utcnow() + timedelta(minutes=15)


class Client:
    """A small JSON client for one connection: auth header, timeouts, rate limits."""

    def __init__(self, connection: RepoConnection, token: str) -> None:
        self.exhausted: datetime | None = None
        self.connection = connection
        # Nothing is written to the connection while fetching (the model may be called after,
        # and a failed run must not keep ETags of pages it never turned into suggestions).
        self.etags: dict[str, str] = dict(connection.etags or {})
        self.login: str | None = connection.login
        self.token = token
        self.timeout = float(current_app.config.get("REPOS_TIMEOUT_SECONDS") or 15)

    def _headers(self, etag: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "Worklog"}
        if self.connection.provider == "github":
            headers["Authorization"] = f"Bearer {self.token}"
            headers["Accept"] = "application/vnd.github+json"
        else:
            headers["PRIVATE-TOKEN"] = self.token
        if etag:
            headers["If-None-Match"] = etag
        return headers

    def get(self, url: str, etag: str | None = None) -> Answer:
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError("invalid URL")
        request = urllib.request.Request(url, headers=self._headers(etag))  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                headers = {k.lower(): v for k, v in response.headers.items()}
                body = json.loads(response.read(5_000_000) or b"null")
                answer = Answer(response.status, body, headers)
        except urllib.error.HTTPError as exc:
            headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            if exc.code == 304:
                return Answer(304, None, headers)
            if exc.code in (403, 429) and (headers.get("x-ratelimit-remaining") == "0"
                                           or exc.code == 429):
                raise RateLimited(_reset_time(headers)) from None
            raise FetchError(f"HTTP {exc.code} from {urlsplit(url).netloc}") from None
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise FetchError(f"{type(exc).__name__} from {urlsplit(url).netloc}") from None
        if headers.get("x-ratelimit-remaining") == "0":
            # This answer counts; the next request would be refused: stop after using it.
            self.exhausted = _reset_time(headers)
        return answer

    def pages(self, url: str, etag_key: str) -> list[Any]:
        """Every item of a paged list; [] when the first page's ETag says nothing changed."""
        etags = self.etags
        items: list[Any] = []
        first = True
        pages = 0
        while url and pages < MAX_PAGES:
            if self.exhausted is not None:
                raise RateLimited(self.exhausted)
            answer = self.get(url, etags.get(etag_key) if first else None)
            if answer.status == 304:
                return []
            if first and answer.headers.get("etag"):
                etags[etag_key] = answer.headers["etag"]
            body = answer.body
            items.extend(body.get("items", []) if isinstance(body, dict) else (body or []))
            url = _next_link(answer.headers.get("link"))
            first = False
            pages += 1
        return items


@dataclass
class Found:
    key: str
    url: str
    title: str
    body: str
    done_at: datetime | None
    languages_url: str | None


def _when(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _github(client: Client, connection: RepoConnection, since: datetime) -> list[Found]:
    base = connection.base_url.rstrip("/")
    if not client.login:
        me = client.get(base + "/user").body or {}
        client.login = str(me.get("login") or "")[:100] or None
        if not client.login:
            raise FetchError("the token's user is unknown")
    day = since.date().isoformat()
    found: list[Found] = []
    for kind, query in (("pr", f"is:pr is:merged author:{client.login} merged:>={day}"),
                        ("issue", f"is:issue is:closed assignee:{client.login} closed:>={day}")):
        url = f"{base}/search/issues?" + urlencode({"q": query, "sort": "updated", "order": "desc",
                                                    "per_page": PER_PAGE})
        for item in client.pages(url, f"github:{kind}"):
            repo_url = item.get("repository_url") or ""
            repo = "/".join(repo_url.rstrip("/").split("/")[-2:])
            merged = (item.get("pull_request") or {}).get("merged_at") or item.get("closed_at")
            found.append(Found(f"github:{repo}#{item.get('number')}", item.get("html_url") or "",
                               item.get("title") or "", item.get("body") or "", _when(merged),
                               repo_url + "/languages" if repo_url else None))
    return found


def _gitlab(client: Client, connection: RepoConnection, since: datetime) -> list[Found]:
    api = connection.base_url.rstrip("/") + "/api/v4"
    if not client.login:
        me = client.get(api + "/user").body or {}
        client.login = str(me.get("username") or "")[:100] or None
        if not client.login:
            raise FetchError("the token's user is unknown")
    after = since.isoformat().replace("+00:00", "Z")
    found: list[Found] = []
    lists = (("mr", "/merge_requests", {"scope": "created_by_me", "state": "merged"}),
             ("issue", "/issues", {"scope": "assigned_to_me", "state": "closed"}))
    for kind, path, params in lists:
        url = f"{api}{path}?" + urlencode({**params, "updated_after": after, "per_page": PER_PAGE})
        for item in client.pages(url, f"gitlab:{kind}"):
            ref = item.get("references", {}).get("full") or f"{item.get('project_id')}#{item.get('iid')}"
            done = item.get("merged_at") or item.get("closed_at")
            found.append(Found(f"gitlab:{ref}:{kind}", item.get("web_url") or "", item.get("title") or "",
                               item.get("description") or "", _when(done),
                               f"{api}/projects/{item.get('project_id')}/languages"
                               if item.get("project_id") else None))
    return found


def _languages(client: Client, url: str | None, cache: dict[str, list[str]]) -> list[str]:
    if not url:
        return []
    if url not in cache:
        try:
            body = client.get(url).body or {}
        except FetchError:
            body = {}
        ranked = sorted(body.items(), key=lambda kv: -float(kv[1] or 0)) if isinstance(body, dict) else []
        cache[url] = [str(name) for name, _ in ranked[:LANGUAGES_MAX]]
    return cache[url]


def fetch(connection: RepoConnection) -> int:
    """Fetch one connection; returns how many new suggestions were made. The caller commits."""
    from app.services.capture import draft_from_text

    user = db.session.get(User, connection.user_id)
    if user is None or not user.is_active:
        return 0
    client = Client(connection, secrets.decrypt(connection.token_encrypted))
    since = (connection.last_run_at - OVERLAP) if connection.last_run_at else \
        utcnow() - timedelta(days=FIRST_RUN_DAYS)
    started = utcnow()
    items = (_github if connection.provider == "github" else _gitlab)(client, connection, since)
    known = set(db.session.scalars(sa.select(Suggestion.external_key).where(
        Suggestion.user_id == user.id, Suggestion.external_key.in_([i.key for i in items] or [""]))))
    cache: dict[str, list[str]] = {}
    fresh: list[tuple[Found, list[str]]] = []
    for item in items:
        if urlsplit(item.url).scheme not in ("http", "https"):
            item.url = ""  # shown as a link: nothing but http(s) from another server
        if item.key in known or not item.title:
            continue
        known.add(item.key)
        fresh.append((item, _languages(client, item.languages_url, cache)))
    # Drafts first (the model is called with nothing pending), then every write at once.
    drafts = []
    for item, tags in fresh:
        text = f"{item.title}\n\n{item.body[:BODY_MAX]}".strip()
        draft = draft_from_text(user, text, title=item.title, extra_tags=tags)
        draft["link"] = item.url
        drafts.append((item, draft))
    made = 0
    for item, draft in drafts:
        try:
            with db.session.begin_nested():
                db.session.add(Suggestion(user_id=user.id, external_key=item.key[:300], url=item.url[:500],
                                          title=item.title[:TITLE_MAX], draft=draft,
                                          work_date=item.done_at))
                db.session.flush()
        except IntegrityError:
            continue
        made += 1
    connection.login = client.login
    connection.etags = client.etags
    connection.last_run_at = started
    connection.last_error = None
    connection.paused_until = None
    return made


@jobs.task(FETCH_TASK, queue="default", max_attempts=3)
def fetch_job(*, connection_id: int) -> str:
    connection = db.session.get(RepoConnection, connection_id)
    if connection is None:
        return "gone"
    if connection.paused_until is not None and connection.paused_until > utcnow():
        return "paused"
    try:
        made = fetch(connection)
    except RateLimited as exc:
        db.session.rollback()
        connection = db.session.get(RepoConnection, connection_id)
        connection.paused_until = exc.reset
        connection.last_error = f"Rate limit reached; paused until {exc.reset:%Y-%m-%d %H:%M} UTC"
        db.session.commit()
        return "rate_limited"
    except (FetchError, secrets.SecretUnreadable) as exc:
        db.session.rollback()
        connection = db.session.get(RepoConnection, connection_id)
        connection.last_error = str(exc)[:300]
        db.session.commit()
        return "failed"
    db.session.commit()
    log.info("repository suggestions fetched", extra={"provider": connection.provider, "new": made})
    return f"{made} new"


@jobs.task("repos.scan", queue="default", max_attempts=1, cron="*/30 * * * *")
def scan(timestamp: int | None = None) -> int:
    ids = db.session.scalars(sa.select(RepoConnection.id).join(User, User.id == RepoConnection.user_id)
                             .where(User.is_active.is_(True))).all()
    for connection_id in ids:
        jobs.enqueue(FETCH_TASK, connection_id=connection_id)
    db.session.commit()
    return len(ids)


# --- the user's side ------------------------------------------------------------------------


def default_base_url(provider: str) -> str:
    cfg = current_app.config
    return (cfg.get("GITHUB_API_URL") if provider == "github" else cfg.get("GITLAB_URL")) or ""


def connect(user: User, provider: str, token: str, base_url: str | None) -> RepoConnection:
    """Save (or replace) the user's connection; the token is stored encrypted."""
    if provider not in PROVIDERS:
        raise ValueError(provider)
    secrets.require_storable()
    base = (base_url or "").strip().rstrip("/") or default_base_url(provider)
    if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
        raise ValueError("base_url")
    row = db.session.scalar(sa.select(RepoConnection).where(
        RepoConnection.user_id == user.id, RepoConnection.provider == provider))
    if row is None:
        row = RepoConnection(user_id=user.id, provider=provider, etags={})
        db.session.add(row)
    if row.base_url != base:
        row.login, row.etags, row.last_run_at = None, {}, None
    row.base_url = base
    row.token_encrypted = secrets.encrypt(token.strip())
    row.token_hint = secrets.hint(token.strip())
    row.last_error = None
    row.paused_until = None
    db.session.flush()
    jobs.enqueue(FETCH_TASK, connection_id=row.id)
    return row


def suggestions_for(user: User, limit: int = 20) -> list[Suggestion]:
    return list(db.session.scalars(sa.select(Suggestion).where(
        Suggestion.user_id == user.id, Suggestion.status == "suggested")
        .order_by(Suggestion.work_date.desc().nulls_last(), Suggestion.id.desc()).limit(limit)))


def entry_values(row: Suggestion, today: str) -> dict[str, str]:
    """The suggestion's draft as entry form values, with the link to the PR kept in it."""
    values = {k: str(v) for k, v in (row.draft or {}).items() if k != "link"}
    if row.url and row.url not in values.get("situation", ""):
        values["situation"] = (values.get("situation", "").rstrip() + f"\n\n{row.url}").strip()
    values["work_date"] = row.work_date.date().isoformat() if row.work_date else today
    return values


def get_suggestion_for(user: User, suggestion_id: int) -> Suggestion | None:
    row = db.session.get(Suggestion, suggestion_id)
    return row if row is not None and row.user_id == user.id and row.status == "suggested" else None


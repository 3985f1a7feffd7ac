"""Publishing to Notion with the official client (`notion-client`), Notion-Version 2025-09-03.

Since API version 2025-09-03 a database is a container of one or more *data sources*; pages
are created in a data source (`parent: {"type": "data_source_id", ...}`), a data source holds
the properties (schema) and is what is queried (`POST /v1/data_sources/{id}/query`). An admin
gives the database id (what the Notion URL shows); the first data source of that database is
used unless a data source id is given instead. The version is pinned here (NOTION_VERSION),
not left to the client's default, so a client upgrade cannot change the API under us.

Every request goes through the shared rate limiter (ratelimit.slot) of its integration. The
client's own retries are off: a 429 or 5xx ends the attempt with a retryable PublishError that
carries Retry-After, and the job engine waits at least that long (the whole publish is
idempotent, so the next attempt resumes by updating the page).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from flask import current_app
from notion_client import Client
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from app.services.outbound import parse_retry_after
from app.services.publishing import ratelimit
from app.services.publishing.common import RETRY_AFTER_MAX_SECONDS, PageRef, PublishError, ReviewDoc
from app.services.publishing.destinations import Target
from app.services.publishing.notion_blocks import batches, markdown_to_blocks

log = logging.getLogger("app.publishing")

NOTION_VERSION = "2025-09-03"
# The properties Worklog writes, besides the data source's title property, and their types.
PROPERTIES: dict[str, str] = {
    "Week": "rich_text", "Author": "rich_text", "Team": "rich_text", "Status": "select",
    "Approved by": "rich_text", "Approved at": "date", "Entries count": "number",
    "Worklog link": "url",
}
STATUS_OPTIONS = ("Approved", "Changes requested", "Submitted", "Draft")
_SOURCE_CACHE: dict[tuple[str, str], tuple[float, str, str]] = {}
_CACHE_SECONDS = 600.0


class _LimitedClient(Client):
    """The official client, every request inside the integration's shared rate-limit slot."""

    def __init__(self, bucket: str, rate: float, **options: Any) -> None:
        super().__init__(**options)
        self._bucket, self._rate = bucket, rate

    def request(self, *args: Any, **kwargs: Any) -> Any:
        with ratelimit.slot(self._bucket, self._rate):
            return super().request(*args, **kwargs)


def client_for(target: Target) -> _LimitedClient:
    cfg = current_app.config
    options: dict[str, Any] = {
        "auth": target.token, "notion_version": NOTION_VERSION, "retry": False,
        "timeout_ms": int(float(cfg.get("PUBLISH_TIMEOUT_SECONDS") or 20) * 1000),
        "logger": logging.getLogger("app.publishing.notion_client"),
    }
    base = (target.get("base_url") or "").rstrip("/")
    if base:
        options["base_url"] = base
    return _LimitedClient(ratelimit.bucket_for("notion", target.token),
                          float(cfg.get("NOTION_REQUESTS_PER_SECOND") or 3.0), **options)


def _error(exc: Exception, what: str) -> PublishError:
    if isinstance(exc, HTTPResponseError):
        status = exc.status
        if status == 401:
            return PublishError("Notion rejected the integration token (401): check the token "
                                "at /admin/integrations.")
        if status == 403:
            return PublishError(f"The integration may not do this on the {what} (403): give it "
                                "insert and update content capabilities.")
        if status == 404:
            return PublishError(f"Notion cannot find the {what} (404): share it with the "
                                "integration (••• → Connections) and check the id.")
        if status == 409:
            return PublishError("Notion reported a conflict (409); trying again.", retryable=True)
        if status == 429 or status >= 500:
            wait = parse_retry_after(exc.headers.get("retry-after") if exc.headers else None,
                                     cap=RETRY_AFTER_MAX_SECONDS)
            label = "rate limited" if status == 429 else "unavailable"
            return PublishError(f"Notion is {label} ({status}); trying again.", retryable=True,
                                retry_after=wait)
        message = str(exc)[:200]
        return PublishError(f"Notion refused the request ({status}): {message}")
    if isinstance(exc, RequestTimeoutError | httpx.TimeoutException):
        return PublishError("Notion did not answer in time; trying again.", retryable=True)
    if isinstance(exc, httpx.TransportError):
        return PublishError(f"Cannot reach Notion ({type(exc).__name__}); trying again.",
                            retryable=True)
    raise exc


def _call(what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except (HTTPResponseError, RequestTimeoutError, httpx.HTTPError) as exc:
        raise _error(exc, what) from None


def data_source(client: Client, target: Target) -> tuple[str, str]:
    """(data source id, name of its title property), cached for a while per process."""
    key = (client._bucket, target.get("data_source_id") or target.get("database_id"))
    hit = _SOURCE_CACHE.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1], hit[2]
    source_id = target.get("data_source_id")
    if not source_id:
        database = _call("database", client.databases.retrieve, target.get("database_id"))
        sources = database.get("data_sources") or []
        if not sources:
            raise PublishError("The Notion database has no data source to write to.")
        source_id = sources[0]["id"]
    source = _call("data source", client.data_sources.retrieve, source_id)
    title = next((name for name, prop in (source.get("properties") or {}).items()
                  if prop.get("type") == "title"), "Name")
    _SOURCE_CACHE[key] = (time.monotonic() + _CACHE_SECONDS, source_id, title)
    return source_id, title


def missing_properties(source: dict[str, Any]) -> list[str]:
    have = {name: prop.get("type") for name, prop in (source.get("properties") or {}).items()}
    return [f"{name} ({kind})" for name, kind in PROPERTIES.items() if have.get(name) != kind]


def property_schema(names: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    for name in names:
        kind = PROPERTIES[name]
        if kind == "select":
            schema[name] = {"select": {"options": [{"name": o} for o in STATUS_OPTIONS]}}
        elif kind == "number":
            schema[name] = {"number": {"format": "number"}}
        else:
            schema[name] = {kind: {}}
    return schema


def _rich(text: str) -> list[dict[str, Any]]:
    text = text[:2000]
    return [{"type": "text", "text": {"content": text}}] if text else []


def properties(doc: ReviewDoc, title_property: str) -> dict[str, Any]:
    approved = doc.approved_at.isoformat() if doc.approved_at else None
    return {
        title_property: {"title": _rich(doc.title)},
        "Week": {"rich_text": _rich(doc.week)},
        "Author": {"rich_text": _rich(doc.author)},
        "Team": {"rich_text": _rich(doc.team)},
        "Status": {"select": {"name": doc.status_label}},
        "Approved by": {"rich_text": _rich(doc.approved_by)},
        "Approved at": {"date": {"start": approved} if approved else None},
        "Entries count": {"number": doc.entries_count},
        "Worklog link": {"url": doc.link},
    }


def _find_existing(client: Client, source_id: str, link: str) -> dict[str, Any] | None:
    found = _call("data source", client.data_sources.query, source_id, filter={
        "property": "Worklog link", "url": {"equals": link}}, page_size=5)
    pages = [p for p in found.get("results") or [] if not p.get("in_trash")]
    return pages[0] if pages else None


def _replace_children(client: Client, page_id: str, blocks: list[dict]) -> None:
    cursor: str | None = None
    old: list[str] = []
    while True:
        kwargs: dict[str, Any] = {"page_size": 100}
        if cursor:
            kwargs["start_cursor"] = cursor
        listing = _call("page", client.blocks.children.list, page_id, **kwargs)
        old.extend(block["id"] for block in listing.get("results") or [])
        if not listing.get("has_more"):
            break
        cursor = listing.get("next_cursor")
    for block_id in old:
        _call("page", client.blocks.delete, block_id)
    for batch in batches(blocks):
        _call("page", client.blocks.children.append, page_id, children=batch)


def publish(target: Target, doc: ReviewDoc, page: PageRef) -> None:
    """Create or update the review's page; `page` is updated (and saved) as it goes."""
    upsert(target, page, lambda title: properties(doc, title),
           markdown_to_blocks(doc.body, doc.link_for), doc.link)


def upsert(target: Target, page: PageRef, props_for: Any, blocks: list[dict], link: str) -> None:
    """Create the page (in the target's data source) or bring the existing one in step: its
    properties (`props_for(title property name)`) and its whole body."""
    client = client_for(target)
    source_id, title_property = data_source(client, target)
    props = props_for(title_property)
    if page.external_id is None and page.state == "creating":
        # An earlier attempt may have created the page and died before saving its id.
        existing = _find_existing(client, source_id, link)
        if existing is not None:
            page.external_id, page.url = existing["id"], existing.get("url")
            page.save()
    if page.external_id is None:
        page.state = "creating"
        page.save()
        chunks = batches(blocks)
        created = _call("database", client.pages.create,
                        parent={"type": "data_source_id", "data_source_id": source_id},
                        properties=props, children=chunks[0] if chunks else [])
        page.external_id, page.url = created["id"], created.get("url")
        page.save()
        for batch in chunks[1:]:
            _call("page", client.blocks.children.append, page.external_id, children=batch)
        return
    try:
        updated = _call("page", client.pages.update, page.external_id, properties=props,
                        in_trash=False)
    except PublishError as exc:
        if "(404)" not in exc.reason:
            raise
        # The page was deleted in Notion: make a new one.
        page.external_id, page.url, page.state = None, None, "queued"
        page.save()
        upsert(target, page, props_for, blocks, link)
        return
    page.url = updated.get("url") or page.url
    _replace_children(client, page.external_id, blocks)


def trash(target: Target, page_id: str) -> None:
    client = client_for(target)
    try:
        _call("page", client.pages.update, page_id, in_trash=True)
    except PublishError as exc:
        if "(404)" not in exc.reason:  # gone already: nothing to trash
            raise


def mark_status(target: Target, doc: ReviewDoc, page: PageRef) -> None:
    client = client_for(target)
    _call("page", client.pages.update, page.external_id,
          properties={"Status": {"select": {"name": doc.status_label}}})


def test_connection(target: Target, *, add_missing: bool = False) -> list[tuple[bool, str]]:
    """Checks, in order, each with a message; stops at the first failure."""
    client = client_for(target)
    results: list[tuple[bool, str]] = []
    try:
        me = _call("integration", client.users.me)
        results.append((True, f"Token accepted (integration “{me.get('name') or 'bot'}”)."))
        _SOURCE_CACHE.clear()
        source_id, _title = data_source(client, target)
        source = _call("data source", client.data_sources.retrieve, source_id)
        results.append((True, "The database is shared with the integration."))
        missing = missing_properties(source)
        if missing and add_missing:
            names = [m.split(" (")[0] for m in missing]
            _call("data source", client.data_sources.update, source_id,
                  properties=property_schema(names))
            results.append((True, "Added the missing properties: " + ", ".join(missing) + "."))
        elif missing:
            results.append((False, "The database lacks properties Worklog writes: "
                            + ", ".join(missing) + ". Use “Add missing properties”, or add "
                            "them in Notion."))
        else:
            results.append((True, "The database has every property Worklog writes."))
    except PublishError as exc:
        results.append((False, exc.reason))
    return results

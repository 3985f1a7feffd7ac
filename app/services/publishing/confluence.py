"""Publishing to Confluence Cloud through its documented REST API v2 (`/wiki/api/v2`), with
`requests` and basic auth (account e-mail + API token).

The review lands under the parent page (CONFLUENCE_PARENT_PAGE_ID, else the space's home
page): "Weekly reviews" → the week ("2026-W47") → the author's page ("2026-W47 · Author"), in
storage format (XHTML). An update PUTs the next version number; a 409 (someone else saved a
version meanwhile) is resolved by reading the current version and trying again. 429 and 5xx
end the attempt with Retry-After for the job engine.
"""

from __future__ import annotations

import html
import re
from typing import Any

import requests
from flask import current_app
from markdown_it import MarkdownIt
from markdown_it.token import Token

from app.services.markdown import CITATION
from app.services.outbound import parse_retry_after
from app.services.publishing.common import RETRY_AFTER_MAX_SECONDS, PageRef, PublishError, ReviewDoc
from app.services.publishing.destinations import Target

API = "/wiki/api/v2"
ROOT_TITLE = "Weekly reviews"
VERSION_CONFLICT_TRIES = 4
# The app's Markdown dialect, rendered as XHTML (storage format is XML): raw HTML stays text.
_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "xhtmlOut": True}).enable(
    "table").enable("strikethrough")
_STATUS_COLOUR = {"approved": "Green", "changes_requested": "Yellow"}


# -- storage format ----------------------------------------------------------------------------


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _code(renderer: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    language = re.sub(r"[^a-z0-9+#-]", "", (token.info or "").strip().split(" ")[0].lower())
    param = (f'<ac:parameter ac:name="language">{language}</ac:parameter>' if language else "")
    return (f'<ac:structured-macro ac:name="code">{param}<ac:plain-text-body>'
            f"{_cdata(token.content.rstrip(chr(10)))}</ac:plain-text-body></ac:structured-macro>")


_parser.add_render_rule("fence", _code)
_parser.add_render_rule("code_block", _code)


def _link_citations(tokens: list[Token], link_for: Any) -> None:
    for block in tokens:
        if block.type != "inline" or not block.children:
            continue
        out: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
            elif token.type == "link_close":
                in_link -= 1
            if token.type != "text" or in_link or not CITATION.search(token.content):
                out.append(token)
                continue
            position = 0
            for match in CITATION.finditer(token.content):
                href = link_for(int(match.group(1)))
                if not href:
                    continue
                out.append(_text(token.content[position:match.start()]))
                opening = Token("link_open", "a", 1)
                opening.attrs = {"href": href}
                out.extend([opening, _text(f"#{match.group(1)}"), Token("link_close", "a", -1)])
                position = match.end()
            out.append(_text(token.content[position:]))
        block.children = out


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def markdown_to_storage(text: str, link_for: Any) -> str:
    tokens = _parser.parse(text or "")
    _link_citations(tokens, link_for)
    return _parser.renderer.render(tokens, _parser.options, {})


def storage_page(doc: ReviewDoc) -> str:
    e = html.escape
    colour = _STATUS_COLOUR.get(doc.status, "Grey")
    status = (f'<ac:structured-macro ac:name="status"><ac:parameter ac:name="colour">{colour}'
              f'</ac:parameter><ac:parameter ac:name="title">{e(doc.status_label)}</ac:parameter>'
              "</ac:structured-macro>")
    approved = doc.approved_at.strftime("%Y-%m-%d %H:%M UTC") if doc.approved_at else "—"
    rows = [("Status", status), ("Week", e(doc.week)), ("Author", e(doc.author)),
            ("Team", e(doc.team or "—")), ("Approved by", e(doc.approved_by or "—")),
            ("Approved at", e(approved)), ("Entries count", str(doc.entries_count)),
            ("Worklog link", f'<a href="{e(doc.link)}">{e(doc.link)}</a>')]
    table = "<table><tbody>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) \
        + "</tbody></table>"
    return table + "<hr />" + markdown_to_storage(doc.body, doc.link_for)


# -- the API -----------------------------------------------------------------------------------


class Api:
    def __init__(self, target: Target) -> None:
        self.base = target.get("base_url").rstrip("/")
        self.session = requests.Session()
        self.session.auth = (target.get("email"), target.token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "Worklog"})
        self.timeout = float(current_app.config.get("PUBLISH_TIMEOUT_SECONDS") or 20)

    def call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, self.base + API + path, timeout=self.timeout,
                                            allow_redirects=False, **kwargs)
        except requests.Timeout:
            raise PublishError("Confluence did not answer in time; trying again.",
                               retryable=True) from None
        except requests.RequestException as exc:
            raise PublishError(f"Cannot reach Confluence ({type(exc).__name__}); trying again.",
                               retryable=True) from None
        status = response.status_code
        if status < 300:
            return response.json() if response.content else {}
        if status == 401:
            raise PublishError("Confluence rejected the e-mail and API token (401): check them "
                               "at /admin/integrations.")
        if status == 403:
            raise PublishError(f"The Confluence user may not do this on the {what} (403): give "
                               "it permission to add pages in the space.")
        if status == 404:
            raise PublishError(f"Confluence cannot find the {what} (404).")
        if status == 409:
            raise _Conflict()
        if status == 429 or status >= 500:
            wait = parse_retry_after(response.headers.get("Retry-After"),
                                     cap=RETRY_AFTER_MAX_SECONDS)
            label = "rate limited" if status == 429 else "unavailable"
            raise PublishError(f"Confluence is {label} ({status}); trying again.",
                               retryable=True, retry_after=wait)
        if status == 400 and "title" in response.text.lower() and "exist" in response.text.lower():
            raise _TitleTaken()
        if status in (301, 302, 303, 307, 308):
            raise PublishError("Confluence answered with a redirect: check the base URL "
                               "(https://your-site.atlassian.net).")
        raise PublishError(f"Confluence refused the request ({status}) on the {what}.")

    def space(self, key: str) -> dict[str, Any]:
        found = self.call("GET", "/spaces", "space", params={"keys": key}).get("results") or []
        if not found:
            raise PublishError(f"Confluence has no space with the key “{key}” that this user can "
                               "see: check the space key.")
        return found[0]

    def find(self, space_id: str, title: str) -> dict[str, Any] | None:
        found = self.call("GET", "/pages", "space", params={
            "space-id": space_id, "title": title, "status": "current",
            "body-format": "storage"}).get("results") or []
        return found[0] if found else None

    def create(self, space_id: str, parent_id: str | None, title: str, body: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"spaceId": space_id, "status": "current", "title": title,
                                   "body": {"representation": "storage", "value": body}}
        if parent_id:
            payload["parentId"] = parent_id
        return self.call("POST", "/pages", "space", json=payload)

    def update(self, page_id: str, title: str | None, body: str, message: str) -> dict[str, Any]:
        """A new version of the page (keeping its title when `title` is None)."""
        for _ in range(VERSION_CONFLICT_TRIES):
            current = self.call("GET", f"/pages/{page_id}", "page")
            number = int((current.get("version") or {}).get("number") or 1)
            try:
                return self.call("PUT", f"/pages/{page_id}", "page", json={
                    "id": page_id, "status": "current", "title": title or current.get("title"),
                    "body": {"representation": "storage", "value": body},
                    "version": {"number": number + 1, "message": message}})
            except _Conflict:
                continue  # someone saved a version meanwhile: read it again
        raise PublishError("Confluence kept reporting a newer version (409); trying again.",
                           retryable=True)

    def ensure(self, space_id: str, parent_id: str | None, title: str, body: str) -> dict[str, Any]:
        found = self.find(space_id, title)
        if found:
            return found
        try:
            return self.create(space_id, parent_id, title, body)
        except _TitleTaken:  # created meanwhile by another worker
            found = self.find(space_id, title)
            if not found:
                raise PublishError("Confluence says the page title exists but it cannot be "
                                   "read.") from None
            return found

    def url(self, page: dict[str, Any]) -> str | None:
        webui = (page.get("_links") or {}).get("webui")
        return f"{self.base}/wiki{webui}" if webui else None


class _Conflict(Exception):
    pass


class _TitleTaken(Exception):
    pass


def _carries(page: dict[str, Any], link: str) -> bool:
    body = ((page.get("body") or {}).get("storage") or {}).get("value") or ""
    return html.escape(link) in body


def publish(target: Target, doc: ReviewDoc, page: PageRef) -> None:
    api = Api(target)
    space = api.space(target.get("space_key"))
    space_id = str(space["id"])
    parent = target.get("parent_page_id") or (str(space.get("homepageId") or "") or None)
    root = api.ensure(space_id, parent, ROOT_TITLE,
                      "<p>Approved weekly reviews, published by Worklog.</p>")
    week = api.ensure(space_id, str(root["id"]), doc.week,
                      f"<p>Weekly reviews of {html.escape(doc.week)}.</p>")
    body = storage_page(doc)
    message = f"Worklog: {doc.status_label} (review version {doc.version})"
    if page.external_id:
        try:
            updated = api.update(page.external_id, None, body, message)
            page.url = api.url(updated) or page.url
            return
        except PublishError as exc:
            if "(404)" not in exc.reason:
                raise
            page.external_id, page.url, page.state = None, None, "queued"
    title = doc.title
    existing = api.find(space_id, title)
    if existing is not None and not _carries(existing, doc.link):
        # Another review has this title (two people with one name): make ours distinct.
        title = f"{doc.title} (#{doc.review_id})"
        existing = api.find(space_id, title)
    if existing is not None:
        page.external_id, page.url = str(existing["id"]), api.url(existing)
        page.save()
        updated = api.update(page.external_id, title, body, message)
        page.url = api.url(updated) or page.url
        return
    page.state = "creating"
    page.save()
    created = api.create(space_id, str(week["id"]), title, body)
    page.external_id, page.url = str(created["id"]), api.url(created)
    page.save()


def mark_status(target: Target, doc: ReviewDoc, page: PageRef) -> None:
    api = Api(target)
    api.update(page.external_id, None, storage_page(doc),
               f"Worklog: {doc.status_label}")


def test_connection(target: Target) -> list[tuple[bool, str]]:
    api = Api(target)
    results: list[tuple[bool, str]] = []
    try:
        space = api.space(target.get("space_key"))
        results.append((True, f"Signed in; the space “{space.get('name') or target.get('space_key')}” "
                              "is visible."))
        parent = target.get("parent_page_id")
        if parent:
            found = api.call("GET", f"/pages/{parent}", "parent page")
            results.append((True, f"The parent page “{found.get('title', parent)}” exists."))
        else:
            results.append((True, "Reviews go under the space's home page (no parent page set)."))
    except PublishError as exc:
        results.append((False, exc.reason))
    return results

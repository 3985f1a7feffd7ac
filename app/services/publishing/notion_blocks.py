"""Review Markdown to Notion blocks, from the app's own Markdown parser's token stream
(app/services/markdown.py), never with regexes over the text.

Supported: headings (h4–h6 become heading_3), paragraphs, bulleted and numbered lists,
bold/italic/strikethrough/inline code/links, code blocks, quotes, dividers and tables.
Citations `[#123]` become links to the entry in Worklog (`link_for(123)`); ids it does not
know stay as written. Only http(s) and mailto links stay links. Every text item is at most
2,000 characters and a block holds at most 100 of them (longer text is split). Notion takes
children two levels deep in one request, so list items nested deeper are hoisted to the
second level, prefixed with "↳ " per extra level, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markdown_it.token import Token

from app.services.markdown import CITATION, _parser

TEXT_MAX = 2000
RICH_TEXT_ITEMS_MAX = 100
CHILDREN_MAX = 100
REQUEST_BLOCKS_MAX = 1000
_SCHEMES = ("http://", "https://", "mailto:")
_CODE_LANGUAGES = {"python", "javascript", "typescript", "java", "go", "rust", "sql", "bash",
                   "shell", "json", "yaml", "html", "css", "c", "c++", "c#", "ruby", "kotlin",
                   "swift", "php", "markdown", "plain text"}

Block = dict[str, Any]


def _annotations(state: dict[str, bool]) -> dict[str, Any]:
    return {"bold": state["bold"], "italic": state["italic"],
            "strikethrough": state["strikethrough"], "underline": False,
            "code": state["code"], "color": "default"}


def _items(content: str, state: dict[str, bool], link: str | None) -> list[dict[str, Any]]:
    out = []
    for start in range(0, len(content), TEXT_MAX):
        text: dict[str, Any] = {"content": content[start:start + TEXT_MAX]}
        if link:
            text["link"] = {"url": link}
        out.append({"type": "text", "text": text, "annotations": _annotations(state)})
    return out


def inline_rich_text(children: list[Token], link_for: Callable[[int], str | None]) -> list[dict]:
    state = {"bold": False, "italic": False, "strikethrough": False, "code": False}
    links: list[str | None] = []
    out: list[dict[str, Any]] = []

    def emit(text: str, link: str | None = None, cite: bool = True) -> None:
        if not text:
            return
        current = link or (links[-1] if links else None)
        if not cite or current:
            out.extend(_items(text, state, current))
            return
        position = 0
        for match in CITATION.finditer(text):
            href = link_for(int(match.group(1)))
            if not href:
                continue
            out.extend(_items(text[position:match.start()], state, None))
            out.extend(_items(f"#{match.group(1)}", state, href))
            position = match.end()
        out.extend(_items(text[position:], state, None))

    for token in children:
        kind = token.type
        if kind == "text":
            emit(token.content)
        elif kind == "code_inline":
            state["code"] = True
            emit(token.content, cite=False)
            state["code"] = False
        elif kind in ("strong_open", "strong_close"):
            state["bold"] = kind == "strong_open"
        elif kind in ("em_open", "em_close"):
            state["italic"] = kind == "em_open"
        elif kind in ("s_open", "s_close"):
            state["strikethrough"] = kind == "s_open"
        elif kind == "link_open":
            href = str(token.attrs.get("href") or "")
            links.append(href if href.lower().startswith(_SCHEMES) and len(href) <= 2000 else None)
        elif kind == "link_close":
            if links:
                links.pop()
        elif kind in ("softbreak",):
            emit(" ", cite=False)
        elif kind == "hardbreak":
            emit("\n", cite=False)
        elif kind == "image":
            emit(token.content or "", cite=False)
        elif token.content:
            emit(token.content)
    return _merge(out)


def _merge(items: list[dict]) -> list[dict]:
    """Join neighbouring items with the same style and link (fewer items), keeping ≤ TEXT_MAX."""
    merged: list[dict] = []
    for item in items:
        last = merged[-1] if merged else None
        if (last and last["annotations"] == item["annotations"]
                and last["text"].get("link") == item["text"].get("link")
                and len(last["text"]["content"]) + len(item["text"]["content"]) <= TEXT_MAX):
            last["text"]["content"] += item["text"]["content"]
        else:
            merged.append({**item, "text": dict(item["text"])})
    return merged


def _text_blocks(kind: str, rich: list[dict], extra: dict | None = None) -> list[Block]:
    """One block of `kind`, or several when the text has more than 100 items."""
    chunks = [rich[i:i + RICH_TEXT_ITEMS_MAX] for i in range(0, len(rich), RICH_TEXT_ITEMS_MAX)] or [[]]
    return [{"object": "block", "type": kind, kind: {"rich_text": chunk, **(extra or {})}}
            for chunk in chunks]


def _plain(content: str) -> list[dict]:
    return _items(content, {"bold": False, "italic": False, "strikethrough": False,
                            "code": False}, None)


def _find_close(tokens: list[Token], start: int) -> int:
    """Index of the token closing tokens[start] (same level, nesting -1)."""
    depth = 0
    for i in range(start, len(tokens)):
        depth += tokens[i].nesting
        if depth == 0:
            return i
    return len(tokens) - 1


def _convert(tokens: list[Token], link_for: Callable[[int], str | None]) -> list[Block]:
    blocks: list[Block] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            level = min(int(token.tag[1]), 3)
            rich = inline_rich_text(tokens[i + 1].children or [], link_for)
            blocks.extend(_text_blocks(f"heading_{level}", rich))
            i = _find_close(tokens, i) + 1
        elif kind == "paragraph_open":
            rich = inline_rich_text(tokens[i + 1].children or [], link_for)
            blocks.extend(_text_blocks("paragraph", rich))
            i = _find_close(tokens, i) + 1
        elif kind in ("bullet_list_open", "ordered_list_open"):
            item_kind = "bulleted_list_item" if kind == "bullet_list_open" else "numbered_list_item"
            end = _find_close(tokens, i)
            j = i + 1
            while j < end:
                if tokens[j].type == "list_item_open":
                    close = _find_close(tokens, j)
                    inner = _convert(tokens[j + 1:close], link_for)
                    first_rich: list[dict] = []
                    if inner and inner[0]["type"] == "paragraph":
                        first_rich = inner.pop(0)["paragraph"]["rich_text"]
                    item = _text_blocks(item_kind, first_rich)
                    if inner:
                        item[-1][item_kind]["children"] = inner
                    blocks.extend(item)
                    j = close + 1
                else:
                    j += 1
            i = end + 1
        elif kind == "blockquote_open":
            end = _find_close(tokens, i)
            inner = _convert(tokens[i + 1:end], link_for)
            rich: list[dict] = []
            if inner and inner[0]["type"] == "paragraph":
                rich = inner.pop(0)["paragraph"]["rich_text"]
            quote = _text_blocks("quote", rich)
            if inner:
                quote[-1]["quote"]["children"] = inner
            blocks.extend(quote)
            i = end + 1
        elif kind in ("fence", "code_block"):
            language = (token.info or "").strip().split(" ")[0].lower() if kind == "fence" else ""
            language = language if language in _CODE_LANGUAGES else "plain text"
            blocks.extend(_text_blocks("code", _plain(token.content.rstrip("\n")),
                                       {"language": language}))
            i += 1
        elif kind == "hr":
            blocks.append({"object": "block", "type": "divider", "divider": {}})
            i += 1
        elif kind == "table_open":
            end = _find_close(tokens, i)
            rows: list[list[list[dict]]] = []
            j = i + 1
            while j < end:
                if tokens[j].type == "tr_open":
                    tr_end = _find_close(tokens, j)
                    cells = [inline_rich_text(tokens[k + 1].children or [], link_for)[:RICH_TEXT_ITEMS_MAX]
                             for k in range(j, tr_end) if tokens[k].type in ("th_open", "td_open")]
                    rows.append(cells)
                    j = tr_end + 1
                else:
                    j += 1
            width = max((len(r) for r in rows), default=1)
            blocks.append({"object": "block", "type": "table", "table": {
                "table_width": width, "has_column_header": True, "has_row_header": False,
                "children": [{"object": "block", "type": "table_row", "table_row": {
                    "cells": row + [[] for _ in range(width - len(row))]}} for row in rows]}})
            i = end + 1
        elif kind == "inline":
            blocks.extend(_text_blocks("paragraph", inline_rich_text(token.children or [], link_for)))
            i += 1
        else:
            i += 1
    return blocks


def _prefix(block: Block, text: str) -> Block:
    body = block[block["type"]]
    if "rich_text" in body:
        body["rich_text"] = _merge(_plain(text) + body["rich_text"])[:RICH_TEXT_ITEMS_MAX]
    return block


def _limit_depth(blocks: list[Block], depth: int = 1) -> list[Block]:
    """At most two levels (a block and its children); deeper children are hoisted, marked ↳."""
    out: list[Block] = []
    for block in blocks:
        body = block[block["type"]]
        children = body.pop("children", None)
        out.append(block)
        if not children:
            continue
        if block["type"] == "table" or depth == 1:
            kept = children if block["type"] == "table" else _limit_depth(children, depth + 1)
            body["children"] = kept[:CHILDREN_MAX]
            # More than 100 children: the rest follow as siblings (same order).
            out.extend(kept[CHILDREN_MAX:])
        else:
            for child in _flatten(children, 1):
                out.append(child)
    return out


def _flatten(blocks: list[Block], level: int) -> list[Block]:
    out: list[Block] = []
    for block in blocks:
        body = block[block["type"]]
        children = body.pop("children", None)
        out.append(_prefix(block, "↳ " * level))
        if children:
            out.extend(_flatten(children, level + 1))
    return out


def markdown_to_blocks(text: str, link_for: Callable[[int], str | None]) -> list[Block]:
    return _limit_depth(_convert(_parser.parse(text or ""), link_for))


def _count(block: Block) -> int:
    children = block[block["type"]].get("children") or []
    return 1 + sum(_count(c) for c in children)


def batches(blocks: list[Block]) -> list[list[Block]]:
    """Blocks in requests of at most 100 top-level children and 1,000 blocks in all."""
    out: list[list[Block]] = []
    current: list[Block] = []
    total = 0
    for block in blocks:
        size = _count(block)
        if current and (len(current) >= CHILDREN_MAX or total + size > REQUEST_BLOCKS_MAX):
            out.append(current)
            current, total = [], 0
        current.append(block)
        total += size
    if current:
        out.append(current)
    return out

"""The offline provider: deterministic, no network, and useful enough to demo every AI feature.

It reads the same fenced data block a real model would get, so it sees exactly what a real
model would be sent, and writes its answer with citations to those entries only.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

from babel.dates import format_skeleton

from app.services.llm.base import LLM, LLMTask, Usage
from app.services.llm.prompts import build_messages, read_data_block
from app.services.llm.structure import propose_star
from app.services.llm.text import first_sentence, terms

IMPACT_RANK = {"High": 0, "Medium": 1, "Low": 2}
MAX_TOTAL_DELAY = 0.5  # seconds of pretend thinking per answer, however long it is
ASK_MAX_ENTRIES = 5

_WORDS = {
    "en": {
        "title": "Week {week}", "entries": "{n} entries", "one_entry": "1 entry",
        "high": "{n} high impact", "results": "Results", "by_category": "By category",
        "tech": "Tech", "none": "No entries were logged this week, so there is nothing to review yet.",
        "uncategorised": "Uncategorised", "High": "High", "Medium": "Medium", "Low": "Low",
        "no_result": "no result recorded yet",
        "ask_none": "I found nothing in your log about that. Try other words or a wider date range.",
        "ask_found": "From your log ({n} matching):", "ask_closest":
            "No entry mentions that directly. The closest entries you gave me:",
        "ask_period": "Your log from {start} to {end} ({n}):",
        "ask_period_one": "Your log on {start} ({n}):",
    },
    "ko": {
        "title": "{week} 주간 회고", "entries": "항목 {n}개", "one_entry": "항목 1개",
        "high": "높은 영향 {n}개", "results": "성과", "by_category": "분류별",
        "tech": "기술", "none": "이번 주에 기록된 항목이 없어 아직 회고할 내용이 없습니다.",
        "uncategorised": "미분류", "High": "높음", "Medium": "중간", "Low": "낮음",
        "no_result": "결과 미기록",
        "ask_none": "기록에서 관련 내용을 찾지 못했습니다. 다른 단어나 더 넓은 기간으로 찾아 보세요.",
        "ask_found": "기록에서 찾은 내용 ({n}건):", "ask_closest":
            "질문을 직접 언급한 항목은 없습니다. 주어진 항목 중 가장 가까운 것:",
        "ask_period": "{start}부터 {end}까지의 기록 ({n}건):",
        "ask_period_one": "{start}의 기록 ({n}건):",
    },
}


class OfflineLLM(LLM):
    provider = "offline"

    def __init__(self, *, chunk_delay: float = 0.02) -> None:
        super().__init__("offline")
        self.chunk_delay = max(0.0, chunk_delay)

    def _generate(self, task: LLMTask, usage: Usage, *, streaming: bool) -> Iterator[str]:
        data = read_data_block(build_messages(task)[1]["content"])
        words = _WORDS["ko" if task.locale.startswith("ko") else "en"]
        if task.purpose == "weekly_review":
            text = weekly_review(data, words)
        elif task.purpose == "structure":
            text = json.dumps(propose_star(str(data.get("text", "")), data.get("categories") or []),
                              ensure_ascii=False, indent=2)
        else:
            text = answer(task.question or "", data, words, task.locale)
        if not streaming:
            yield text
            return
        chunks = text.splitlines(keepends=True) or [text]
        delay = min(self.chunk_delay, MAX_TOTAL_DELAY / len(chunks))
        for i, chunk in enumerate(chunks):
            if i and delay:
                time.sleep(delay)
            yield chunk


def _entries(data: Any) -> list[dict[str, Any]]:
    items = data.get("entries", []) if isinstance(data, dict) else data
    return [e for e in (items or []) if isinstance(e, dict) and "id" in e]


def _cite(entry: dict[str, Any]) -> str:
    return f"[#{int(entry['id'])}]"


def _order(entry: dict[str, Any]) -> tuple[int, str, int]:
    return (IMPACT_RANK.get(entry.get("impact") or "Medium", 1), entry.get("date") or "",
            int(entry["id"]))


def _summary(entry: dict[str, Any]) -> str:
    for part in ("result", "action", "task", "situation"):
        sentence = first_sentence(entry.get(part) or "")
        if sentence:
            return sentence
    return ""


def weekly_review(data: Any, words: dict[str, str]) -> str:
    """Markdown: results first, then by category (highest impact first), each line cited."""
    entries = sorted(_entries(data), key=_order)
    week = data.get("week", "") if isinstance(data, dict) else ""
    if not entries:
        return words["none"] + "\n"
    high = sum(1 for e in entries if e.get("impact") == "High")
    count = words["one_entry"] if len(entries) == 1 else words["entries"].format(n=len(entries))
    header = [words["title"].format(week=week) if week else "", count]
    if high:
        header.append(words["high"].format(n=high))
    lines = [f"**{' · '.join(h for h in header if h)}**", ""]

    with_results = [e for e in entries if first_sentence(e.get("result") or "")][:6]
    if with_results:
        lines += [f"## {words['results']}", ""]
        lines += [f"- {first_sentence(e['result'])} {_cite(e)}" for e in with_results]
        lines.append("")

    lines += [f"## {words['by_category']}", ""]
    for category, group in _by_category(entries, words["uncategorised"]):
        lines += [f"### {category}", ""]
        for e in group:
            impact = words.get(e.get("impact") or "Medium", e.get("impact") or "")
            summary = _summary(e) or words["no_result"]
            lines.append(f"- **{impact}** · {e.get('title', '').strip()}: {summary} {_cite(e)}")
        lines.append("")

    tech: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        for tag in e.get("tags") or []:
            tech.setdefault(str(tag), []).append(e)
    if tech:
        lines += [f"## {words['tech']}", ""]
        lines.append(" · ".join(f"{tag} {' '.join(_cite(e) for e in cited)}"
                                for tag, cited in sorted(tech.items(), key=lambda kv: (-len(kv[1]),
                                                                                       kv[0].lower()))))
        lines.append("")
    return "\n".join(lines)


def _by_category(entries: list[dict[str, Any]], fallback: str) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in entries:  # already in impact order, so each group is too
        groups.setdefault((e.get("category") or "").strip() or fallback, []).append(e)
    # Categories with the most important work first, then the busiest.
    return sorted(groups.items(), key=lambda kv: (min(_order(e)[0] for e in kv[1]), -len(kv[1]),
                                                  kv[0].lower()))


def answer(question: str, data: Any, words: dict[str, str], locale: str = "en") -> str:
    """Ask your log: the entries that best match the question, each cited; honest when none.
    When the question named dates, that period's entries are the answer, grouped by day."""
    entries = _entries(data)
    if not entries:
        return words["ask_none"] + "\n"
    period = data.get("period") if isinstance(data, dict) else None
    if isinstance(period, dict):
        return _period_answer(entries, period, words, locale)
    wanted = terms(question)
    texts = {e["id"]: _searchable(e) for e in entries}
    frequency = {t: sum(1 for text in texts.values() if t in text) for t in wanted}
    n = len(entries)

    def score(entry: dict[str, Any]) -> float:
        text = texts[entry["id"]]
        return sum(math.log((n + 1) / frequency[t]) for t in wanted if frequency[t] and t in text)

    scored = sorted(((score(e), e) for e in entries), key=lambda se: (-se[0], se[1].get("date") or "",
                                                                       se[1]["id"]))
    matching = [e for s, e in scored if s > 0][:ASK_MAX_ENTRIES]
    if matching:
        lines = [words["ask_found"].format(n=len(matching)), ""]
        chosen = matching
    else:
        lines = [words["ask_closest"], ""]
        chosen = sorted(entries, key=lambda e: (e.get("date") or ""), reverse=True)[:3]
    for e in chosen:
        lines.append(_answer_line(e, with_date=True))
    return "\n".join(lines) + "\n"


def _answer_line(e: dict[str, Any], *, with_date: bool) -> str:
    when = f" ({e['date']})" if with_date and e.get("date") else ""
    return f"- **{e.get('title', '').strip()}**{when}: {_summary(e)} {_cite(e)}".replace(":  [", ": [")


def _day_label(text: str, locale: str) -> str:
    try:
        return format_skeleton("MMMEd", date.fromisoformat(text), locale=locale.replace("-", "_"))
    except (ValueError, TypeError):
        return text


def _period_answer(entries: list[dict[str, Any]], period: dict[str, Any], words: dict[str, str],
                   locale: str) -> str:
    start, end = str(period.get("from") or ""), str(period.get("to") or "")
    header = words["ask_period_one" if start == end else "ask_period"]
    lines = [header.format(start=_day_label(start, locale), end=_day_label(end, locale),
                           n=len(entries)), ""]
    by_day: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_day.setdefault(str(e.get("date") or ""), []).append(e)
    for day in sorted(by_day, reverse=True):
        if start != end:
            lines += [f"**{_day_label(day, locale)}**", ""]
        lines += [_answer_line(e, with_date=False) for e in sorted(by_day[day], key=_order)]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _searchable(entry: dict[str, Any]) -> str:
    pieces = [entry.get(k) or "" for k in ("title", "situation", "task", "action", "result",
                                           "category")]
    pieces += [str(t) for t in entry.get("tags") or []]
    return "\n".join(pieces).lower()

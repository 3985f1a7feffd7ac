"""Structure with AI: free text -> a STAR draft. The offline heuristics and the answer parser."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app

from app.models.log import CATEGORY_MAX, PART_MAX, STAR_PARTS, TAG_MAX, TAGS_MAX, Impact
from app.services.llm.base import LLM, LLMError
from app.services.llm.text import first_sentence, is_korean, sentences
from app.services.log.entries import parse_tags

TITLE_CHARS = 80

# Cue words per STAR part; English matched on lower-cased text, Korean as substrings.
_CUES: dict[str, tuple[str, ...]] = {
    "situation": (
        "because", "problem", "issue", "was slow", "were slow", "complain", "incident", "outage",
        "legacy", "bottleneck", "error rate", "kept failing", "broke", "flaky", "customers reported",
        "문제", "이슈", "장애", "느려", "느렸", "불만", "배경", "상황", "때문", "발생", "잦았", "잦아",
        "부족", "어려움", "레거시", "병목", "불편",
    ),
    "task": (
        "needed to", "need to", "had to", "goal", "asked to", "was asked", "must", "in order to",
        "responsible for", "my job", "objective", "tasked", "so that",
        "목표", "해야", "요청", "필요", "과제", "담당", "맡아", "맡았", "위해", "하기로",
    ),
    "action": (
        "implemented", "added", "refactored", "built", "fixed", "migrated", "wrote", "introduced",
        "replaced", "rewrote", "designed", "set up", "created", "moved", "changed", "optimized",
        "optimised", "cached", "split", "automated", "reviewed", "investigated", "profiled",
        "구현", "추가", "리팩터링", "리팩토링", "수정", "도입", "작성", "적용", "변경", "마이그레이션",
        "설계", "구축", "교체", "분리", "자동화", "캐시", "캐싱", "최적화", "분석", "조사",
    ),
    "result": (
        "reduced", "improved", "decreased", "increased", "saved", "as a result", "resulting",
        "shipped", "released", "launched", "cut ", "dropped", "faster", "fewer", "down from",
        "up from", "went from", "now ",
        "결과", "감소", "개선되", "개선됐", "단축", "증가", "절감", "출시", "줄었", "줄였", "늘었", "빨라",
        "향상", "완료", "해결",
    ),
}
# A goal with a number ("get p95 under 400 ms") is a task, not a result; a change with a
# number ("added a cache; p95 fell 40%") is a result.
_TIE_ORDER = ("task", "result", "action", "situation")
_METRIC = re.compile(r"\d+(?:[.,]\d+)?\s*(?:%|ms|s\b|x\b|배|초|분|건|퍼센트)", re.IGNORECASE)

_CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (English, Korean, cues)
    ("Performance", "성능", ("performance", "latency", "slow", "p95", "p99", "throughput", "성능",
                             "속도", "지연", "느려", "최적화")),
    ("Bug fix", "버그 수정", ("bug", "error", "incident", "outage", "hotfix", "crash", "regression",
                              "버그", "오류", "장애", "에러", "핫픽스")),
    ("Refactoring", "리팩터링", ("refactor", "cleanup", "clean up", "tech debt", "리팩터링",
                                 "리팩토링", "기술 부채", "정리")),
    ("Infrastructure", "인프라", ("deploy", "pipeline", "docker", "kubernetes", "terraform",
                                  "infra", "monitoring", "배포", "인프라", "파이프라인", "모니터링")),
    ("Collaboration", "협업", ("meeting", "mentor", "interview", "onboard", "presentation",
                               "code review", "회의", "멘토링", "면접", "온보딩", "발표", "협업",
                               "코드 리뷰")),
    ("Documentation", "문서화", ("document", "docs", "wiki", "runbook", "문서", "위키", "가이드")),
    ("Feature", "기능 개발", ("feature", "implement", "launch", "new ", "기능", "구현", "개발", "출시")),
)

_HIGH = ("critical", "outage", "revenue", "all users", "every user", "company-wide", "major",
         "significantly", "security", "data loss", "production incident", "장애", "매출", "전사",
         "크게", "대폭", "핵심", "보안", "전체 사용자", "모든 사용자")
_LOW = ("minor", "small", "typo", "tweak", "trivial", "cosmetic", "사소", "간단", "오타", "소소")

# canonical name -> lower-case aliases (ASCII ones matched as whole words; Korean as substrings)
TECH_NAMES: dict[str, tuple[str, ...]] = {
    "Python": ("python", "파이썬"), "Flask": ("flask", "플라스크"), "Django": ("django", "장고"),
    "FastAPI": ("fastapi",), "SQLAlchemy": ("sqlalchemy",), "Alembic": ("alembic",),
    "Celery": ("celery",), "pandas": ("pandas",), "NumPy": ("numpy",),
    "PostgreSQL": ("postgresql", "postgres", "포스트그레스"), "MySQL": ("mysql",),
    "SQLite": ("sqlite",), "Redis": ("redis", "레디스"), "MongoDB": ("mongodb", "몽고디비"),
    "Elasticsearch": ("elasticsearch", "엘라스틱서치"), "Kafka": ("kafka", "카프카"),
    "RabbitMQ": ("rabbitmq",), "Docker": ("docker", "도커"),
    "Kubernetes": ("kubernetes", "k8s", "쿠버네티스"), "Terraform": ("terraform", "테라폼"),
    "AWS": ("aws", "lambda", "s3", "ec2", "cloudwatch"), "GCP": ("gcp", "bigquery"),
    "Azure": ("azure",), "Nginx": ("nginx",), "Linux": ("linux", "리눅스"),
    "GitHub Actions": ("github actions",), "Jenkins": ("jenkins", "젠킨스"),
    "React": ("react", "리액트"), "Vue": ("vue", "vue.js"), "Next.js": ("next.js", "nextjs"),
    "TypeScript": ("typescript", "타입스크립트"), "JavaScript": ("javascript", "자바스크립트"),
    "Node.js": ("node.js", "nodejs"), "HTMX": ("htmx",), "GraphQL": ("graphql",),
    "gRPC": ("grpc",), "Java": ("java", "자바"), "Kotlin": ("kotlin", "코틀린"),
    "Spring": ("spring boot", "spring", "스프링"), "Rust": ("rust",), "Go": ("golang",),
    "Swift": ("swift",), "Airflow": ("airflow",), "Spark": ("pyspark", "apache spark"),
    "Prometheus": ("prometheus", "프로메테우스"), "Grafana": ("grafana", "그라파나"),
    "Sentry": ("sentry",), "OpenAI": ("openai", "gpt-4", "chatgpt"), "Notion": ("notion", "노션"),
    "Slack": ("slack", "슬랙"), "Playwright": ("playwright",), "pytest": ("pytest",),
}
# Names that are also ordinary words: only their exact spelling counts.
_CASE_SENSITIVE = {"Go": re.compile(r"(?<![A-Za-z0-9])Go(?![A-Za-z0-9])")}


def tech_tags(text: str) -> list[str]:
    """Technology names found in `text`, in order of first appearance."""
    lowered = text.lower()
    found: list[tuple[int, str]] = []
    for name, aliases in TECH_NAMES.items():
        positions = [_find(lowered, alias) for alias in aliases]
        hits = [p for p in positions if p >= 0]
        if hits:
            found.append((min(hits), name))
    for name, pattern in _CASE_SENSITIVE.items():
        match = pattern.search(text)
        if match:
            found.append((match.start(), name))
    names = dict.fromkeys(name for _, name in sorted(found))  # first appearance wins
    return list(names)[:TAGS_MAX]


def _find(lowered: str, alias: str) -> int:
    if not alias.isascii():
        return lowered.find(alias)
    match = re.search(rf"(?<![a-z0-9]){re.escape(alias)}(?![a-z0-9])", lowered)
    return match.start() if match else -1


def _cue_score(sentence: str, part: str) -> int:
    lowered = sentence.lower()
    score = sum(1 for cue in _CUES[part] if cue in lowered)
    if part == "result" and _METRIC.search(sentence):
        score += 1
    return score


def propose_star(text: str, categories: Iterable[str] = ()) -> dict[str, Any]:
    """The offline structurer: sentences sorted into STAR parts by cue words, plus the rest."""
    found = sentences(text)
    parts: dict[str, list[str]] = {part: [] for part in STAR_PARTS}
    for index, sentence in enumerate(found):
        scores = {part: _cue_score(sentence, part) for part in STAR_PARTS}
        best = max(scores.values())
        if best == 0:
            # No cue: an opening sentence sets the scene; anything later is most likely work done.
            part = "situation" if index == 0 and len(found) > 1 else "action"
        else:
            part = next(p for p in _TIE_ORDER if scores[p] == best)
        parts[part].append(sentence)
    korean = is_korean(text)
    return {
        "title": first_sentence(text, TITLE_CHARS).rstrip(".。"),
        **{part: " ".join(lines) for part, lines in parts.items()},
        "category": _category(text, list(categories), korean),
        "impact": _impact(text),
        "tags": tech_tags(text),
    }


def _category(text: str, known: list[str], korean: bool) -> str | None:
    lowered = text.lower()
    for name in known:  # the user's own categories first, when the text names one
        if name and name.lower() in lowered:
            return name
    best, best_score = None, 0
    for english, hangul, cues in _CATEGORIES:
        score = sum(1 for cue in cues if cue in lowered)
        if score > best_score:
            best, best_score = (hangul if korean else english), score
    return best


def _impact(text: str) -> str:
    lowered = text.lower()
    if any(cue in lowered for cue in _HIGH):
        return Impact.HIGH.value
    percents = [float(p) for p in re.findall(r"(\d+(?:\.\d+)?)\s*(?:%|퍼센트)", text)]
    if any(p >= 30 for p in percents) or re.search(r"\b\d+(?:\.\d+)?\s*(?:x|배)\b", lowered):
        return Impact.HIGH.value
    if any(cue in lowered for cue in _LOW):
        return Impact.LOW.value
    return Impact.MEDIUM.value


# -- reading a model's answer ----------------------------------------------------------

_IMPACT_WORDS = {
    "high": Impact.HIGH.value, "높음": Impact.HIGH.value, "상": Impact.HIGH.value,
    "medium": Impact.MEDIUM.value, "med": Impact.MEDIUM.value, "중간": Impact.MEDIUM.value,
    "보통": Impact.MEDIUM.value, "중": Impact.MEDIUM.value,
    "low": Impact.LOW.value, "낮음": Impact.LOW.value, "하": Impact.LOW.value,
}


def parse_structure(text: str) -> dict[str, Any]:
    """A model's "structure" answer as form values: title, STAR parts, category, impact, tags.

    Accepts a bare JSON object, one inside ```json fences, or one with prose around it.
    Raises LLMError(outcome="malformed") when there is no usable object.
    """
    obj = _first_json_object(text or "")
    if not isinstance(obj, Mapping):
        raise LLMError("malformed", "bad_structure", "no JSON object in the structure answer")
    result: dict[str, Any] = {"title": _text(obj.get("title"), 200)}
    for part in STAR_PARTS:
        result[part] = _text(obj.get(part), PART_MAX)
    category = _text(obj.get("category"), CATEGORY_MAX)
    result["category"] = category or None
    result["impact"] = _IMPACT_WORDS.get(_text(obj.get("impact"), 20).lower(), Impact.MEDIUM.value)
    raw_tags = obj.get("tags") or []
    if isinstance(raw_tags, str):
        raw_tags = raw_tags.split(",")
    tags = parse_tags([str(t) for t in raw_tags if isinstance(t, str | int | float)])
    result["tags"] = [t[:TAG_MAX] for t in tags][:TAGS_MAX]
    if not any(result[part] for part in STAR_PARTS) and not result["title"]:
        raise LLMError("malformed", "empty_structure", "the structure answer has no content")
    return result


def _text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = "\n".join(f"- {item}" for item in value)
    return str(value).strip()[:limit]


def _first_json_object(text: str) -> Any:
    text = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    candidates = [fenced.group(1).strip()] if fenced else []
    candidates.append(text)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for match in re.finditer(r"\{", candidate):
            try:
                obj, _ = decoder.raw_decode(candidate, match.start())
            except ValueError:
                continue
            if isinstance(obj, Mapping):
                return obj
    return None


def propose_structure(text: str, *, user_id: int | None, categories: Iterable[str] = (),
                      locale: str = "en", llm: LLM | None = None) -> dict[str, Any]:
    """The "Structure with AI" service: free text in, proposed form values out. Raises LLMError."""
    from app.services.llm import get_llm
    from app.services.llm.prompts import structure_task

    model = llm or get_llm(current_app.config)
    answer = model.complete(structure_task(text, categories=categories, locale=locale),
                            user_id=user_id)
    return parse_structure(answer)

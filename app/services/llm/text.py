"""Small text helpers shared by the offline provider's writers (Korean and English)."""

from __future__ import annotations

import re

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n+")
_MARKDOWN = re.compile(r"^\s*(?:[-*+>]|#{1,6}|\d+[.)])\s+|[*_`]+")


def is_korean(text: str) -> bool:
    """Mostly Hangul among the letters."""
    hangul = len(_HANGUL.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return hangul > 0 and hangul * 2 >= latin / 2


def plain(text: str) -> str:
    """Markdown markers stripped, whitespace collapsed."""
    lines = [_MARKDOWN.sub("", line) for line in (text or "").splitlines()]
    return re.sub(r"\s+", " ", " ".join(lines)).strip()


def sentences(text: str) -> list[str]:
    pieces = []
    for line in (text or "").splitlines():
        line = _MARKDOWN.sub("", line).strip()
        pieces.extend(p.strip() for p in _SENTENCE_END.split(line) if p.strip())
    return pieces


def first_sentence(text: str, limit: int = 180) -> str:
    found = sentences(text)
    first = found[0] if found else ""
    if len(first) > limit:
        cut = first[: limit - 1]
        if " " in cut[limit // 2:]:  # end on a whole word when there is one near the limit
            cut = cut[: cut.rindex(" ")]
        first = cut.rstrip(" ,;:") + "…"
    return first


def terms(text: str) -> set[str]:
    """Search terms: English words (no stop words) and Hangul bigrams, so 결제 finds 결제모듈."""
    found: set[str] = set()
    lowered = (text or "").lower()
    for word in re.findall(r"[a-z0-9][a-z0-9+#.\-]*[a-z0-9+#]|[a-z0-9]", lowered):
        if word not in _STOP_WORDS and len(word) > 1:
            found.add(_stem(word))
    for run in re.findall(r"[\uac00-\ud7a3]+", lowered):
        if len(run) == 1:
            continue
        found.update(run[i:i + 2] for i in range(len(run) - 1))
    return found - _KOREAN_STOP_BIGRAMS


def _stem(word: str) -> str:
    # Matching is by substring, so a crude stem is enough: "payments" and "shipped" find
    # "payment" and "ship".
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


_STOP_WORDS = frozenset("""
a about after all also an and any are as at be been before by can could did do does done for from
had has have how i in into is it its last me my of on or our so than that the their them then there
these this those to up us was we were what when where which who why will with work worked you your
week month year day today yesterday
""".split())  # noqa: SIM905 - a word list reads better as text
_KOREAN_STOP_BIGRAMS = frozenset("""
에서 에게 으로 하고 했다 했나 했는 했던 하는 하기 무엇 어떤 언제 관련 대해 대한 있는 있었 없는 그리
이번 지난 저번 내가 제가 우리 주에 달에 했어 했지 알려 보여 정리
""".split())  # noqa: SIM905

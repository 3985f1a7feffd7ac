"""The offline provider, prompts and ledger: deterministic answers that cite what they were given."""

from __future__ import annotations

import json
import re
import time

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import LLMCall, LogEntry, User
from app.services.llm import (
    DATA_CLOSE,
    DATA_OPEN,
    LLMError,
    LLMTask,
    OfflineLLM,
    ask_task,
    build_messages,
    get_llm,
    parse_structure,
    propose_structure,
    structure_task,
    weekly_review_task,
)
from tests.llm_server import INJECTION, WEEK, make_week

CITATION = re.compile(r"\[#(\d+)\]")


def cited(text: str) -> set[int]:
    return {int(n) for n in CITATION.findall(text)}


def entries_of(user_id: int) -> list[LogEntry]:
    return list(db.session.scalars(
        sa.select(LogEntry).where(LogEntry.user_id == user_id).order_by(LogEntry.id)))


def ledger() -> list[LLMCall]:
    return list(db.session.scalars(sa.select(LLMCall).order_by(LLMCall.id)))


def test_it_is_the_default_provider(app: Flask) -> None:
    assert isinstance(get_llm(app.config), OfflineLLM)


def test_it_drafts_a_week_that_cites_every_entry_and_only_those(app: Flask, actors) -> None:
    ids = make_week(app, actors.member)
    make_week(app, actors.teammate)  # someone else's week: must not appear
    with app.app_context():
        task = weekly_review_task(entries_of(actors.member.id), week=WEEK)
        started = time.monotonic()
        chunks = list(get_llm(app.config).stream(task, user_id=actors.member.id))
        elapsed = time.monotonic() - started
        draft = "".join(chunks)
        rows = ledger()

    assert len(chunks) > 5 and elapsed < 1.0
    assert cited(draft) == set(ids)
    # Leads with results, then categories: the high-impact ones first.
    assert draft.index("## Results") < draft.index("## By category")
    categories = re.findall(r"^### (.+)$", draft, re.MULTILINE)
    assert categories[:2] == ["Payments", "Reliability"]
    assert "Uncategorised" in categories
    payments = draft.split("### Payments")[1].split("###")[0]
    assert payments.index("**High**") < payments.index("**Medium**") < payments.index("**Low**")
    assert f"p95 dropped from 900 ms to 310 ms. [#{ids[0]}]" in draft
    assert "2 high impact" in draft
    # Each line that makes a claim carries its citation.
    for line in draft.splitlines():
        if line.startswith("- "):
            assert CITATION.search(line), line
    [row] = rows
    assert (row.purpose, row.provider, row.model, row.outcome) == ("weekly_review", "offline",
                                                                  "offline", "ok")
    assert row.user_id == actors.member.id and row.usage_estimated
    assert row.prompt_tokens > 100 and row.completion_tokens > 50 and row.attempts == 1


def test_it_writes_the_review_in_korean_for_a_korean_reader(app: Flask, actors) -> None:
    ids = make_week(app, actors.member)
    with app.app_context():
        task = weekly_review_task(entries_of(actors.member.id), week=WEEK, locale="ko")
        draft = get_llm(app.config).complete(task, user_id=actors.member.id)
    assert "주간 회고" in draft and "## 성과" in draft and "미분류" in draft
    assert cited(draft) == set(ids)


def test_it_says_so_when_the_week_is_empty(app: Flask, actors) -> None:
    with app.app_context():
        draft = get_llm(app.config).complete(weekly_review_task([], week=WEEK),
                                             user_id=actors.member.id)
    assert "No entries" in draft and not cited(draft)


def test_an_injected_instruction_is_only_data(app: Flask, actors) -> None:
    ids = make_week(app, actors.member)
    with app.app_context():
        entries = entries_of(actors.member.id)
        task = weekly_review_task(entries, week=WEEK)
        clean = weekly_review_task([e for e in entries if INJECTION not in e.action], week=WEEK)
        draft = get_llm(app.config).complete(task, user_id=actors.member.id)
    system, user = build_messages(task)
    assert system["role"] == "system" and INJECTION not in system["content"]
    assert system == build_messages(clean)[0]  # the instructions do not depend on the data
    # The injected text sits inside the one fenced block; its "</data>" cannot close the fence.
    assert user["content"].startswith(DATA_OPEN) and user["content"].count(DATA_CLOSE) == 1
    fenced = user["content"][len(DATA_OPEN):user["content"].rindex(DATA_CLOSE)]
    assert INJECTION in [e["action"] for e in json.loads(fenced)["entries"]]
    assert "HACKED" not in draft.replace(INJECTION, "")
    assert cited(draft) == set(ids)


def test_it_answers_from_matching_entries_with_citations(app: Flask, actors) -> None:
    ids = make_week(app, actors.member)
    with app.app_context():
        entries = entries_of(actors.member.id)
        llm = get_llm(app.config)
        english = llm.complete(ask_task("What did I do about checkout latency?", entries),
                               user_id=actors.member.id)
        korean = llm.complete(ask_task("결제 관련해서 뭐 했지?", entries, locale="ko"),
                              user_id=actors.member.id)
        nothing = llm.complete(ask_task("What about payments?", []), user_id=actors.member.id)
        assert [r.purpose for r in ledger()] == ["ask", "ask", "ask"]
    assert cited(english) == {ids[0]}
    assert ids[1] in cited(korean) and cited(korean) <= set(ids)
    assert "found nothing" in nothing and not cited(nothing)


def test_it_structures_english_free_text(app: Flask, actors) -> None:
    text = ("Checkout was slow because every request hit PostgreSQL for card metadata. "
            "I needed to get p95 under 400 ms before Black Friday. "
            "I added a Redis cache in front of the lookups and moved the job to Celery. "
            "p95 dropped by 60% and we shipped it on Tuesday.")
    with app.app_context():
        proposal = propose_structure(text, user_id=actors.member.id)
        [row] = ledger()
    assert proposal["situation"].startswith("Checkout was slow")
    assert proposal["task"].startswith("I needed to")
    assert "Redis cache" in proposal["action"]
    assert "60%" in proposal["result"]
    assert proposal["tags"] == ["PostgreSQL", "Redis", "Celery"]
    assert proposal["impact"] == "High" and proposal["category"] == "Performance"
    assert proposal["title"].startswith("Checkout was slow")
    assert row.purpose == "structure" and row.outcome == "ok"


def test_it_structures_korean_free_text_with_the_users_own_category(app: Flask, actors) -> None:
    text = ("결제 API 응답이 느려서 고객 불만이 많았다.\n"
            "이번 주 목표는 응답 시간을 절반으로 줄이는 것이었다.\n"
            "레디스 캐시를 도입하고 쿼리를 최적화했다.\n"
            "결과적으로 평균 응답 시간이 800ms에서 300ms로 단축되었다.")
    with app.app_context():
        proposal = propose_structure(text, user_id=actors.member.id, categories=["결제", "채용"],
                                     locale="ko")
    assert proposal["situation"].startswith("결제 API 응답이 느려서")
    assert proposal["task"].startswith("이번 주 목표는")
    assert proposal["action"].startswith("레디스 캐시를 도입")
    assert "단축" in proposal["result"]
    assert proposal["tags"] == ["Redis"]
    assert proposal["category"] == "결제"  # one of the user's own categories, named in the text


def test_it_picks_a_korean_category_and_impact_without_known_categories() -> None:
    from app.services.llm.structure import propose_star

    proposal = propose_star("배포 파이프라인에서 도커 이미지를 캐싱하도록 변경했다. 사소한 수정이다.")
    assert proposal["category"] == "인프라"
    assert proposal["impact"] == "Low"
    assert proposal["tags"] == ["Docker"]


@pytest.mark.parametrize("answer", [
    '{"title": "Cache", "situation": "Slow", "task": "", "action": "Added Redis", '
    '"result": "Faster", "category": "Performance", "impact": "high", "tags": ["Redis", "redis"]}',
    'Here is the entry:\n```json\n{"title": "Cache", "situation": "Slow", "action": "Added Redis",'
    ' "result": "Faster", "category": "Performance", "impact": "High", "tags": "Redis"}\n```\nDone.',
])
def test_it_parses_a_models_structure_answer(answer: str) -> None:
    parsed = parse_structure(answer)
    assert parsed["title"] == "Cache" and parsed["action"] == "Added Redis"
    assert parsed["impact"] == "High" and parsed["tags"] == ["Redis"]
    assert parsed["task"] == "" and parsed["category"] == "Performance"


def test_it_parses_korean_structure_answers() -> None:
    parsed = parse_structure('{"title": "결제 캐시", "situation": "결제가 느렸다", "action": '
                             '["레디스 도입", "쿼리 최적화"], "impact": "높음", "tags": ["Redis"]}')
    assert parsed["impact"] == "High"
    assert parsed["action"] == "- 레디스 도입\n- 쿼리 최적화"
    assert parsed["category"] is None


@pytest.mark.parametrize("answer", ["", "Sorry, I can't help with that.", "[1, 2]", "{}"])
def test_an_unreadable_structure_answer_is_a_clear_error(app: Flask, answer: str) -> None:
    with pytest.raises(LLMError) as caught, app.test_request_context():
        parse_structure(answer)
    assert caught.value.outcome == "malformed"
    with app.test_request_context():
        assert "could not be read" in str(caught.value.user_message)


def test_structure_task_round_trips_through_the_parser(app: Flask, actors) -> None:
    with app.app_context():
        answer = get_llm(app.config).complete(structure_task("Fixed a typo in the docs."),
                                              user_id=actors.member.id)
    parsed = parse_structure(answer)
    assert parsed["impact"] == "Low" and parsed["category"] == "Documentation"


def test_a_task_refuses_unknown_purposes_and_unserialisable_data() -> None:
    with pytest.raises(ValueError):
        LLMTask(purpose="poem", instructions="x", data=[])
    with pytest.raises(TypeError):
        LLMTask(purpose="ask", instructions="x", data={"when": object()})


def test_a_call_inside_a_read_transaction_does_not_block(app: Flask, actors) -> None:
    with app.app_context():
        user = db.session.get(User, actors.member.id)  # a (SQLite: locking) transaction is open now
        started = time.monotonic()
        get_llm(app.config).complete(ask_task("anything", []), user_id=user.id)
        assert time.monotonic() - started < 2
        assert len(ledger()) == 1


def test_a_call_with_unsaved_writes_is_refused_and_commits_nothing(app: Flask, actors) -> None:
    from app.services.llm.base import UncommittedWork

    with app.app_context():
        user = db.session.get(User, actors.member.id)
        user.display_name = "Renamed before the call"  # an unsaved change of the caller's
        with pytest.raises(UncommittedWork):
            get_llm(app.config).complete(ask_task("anything", []), user_id=user.id)
        assert user.display_name == "Renamed before the call"  # still the caller's to commit
        db.session.rollback()
        assert db.session.get(User, actors.member.id).display_name != "Renamed before the call"
        assert ledger() == []  # no call was made


def test_closing_a_stream_early_records_a_cancelled_call(app: Flask, actors) -> None:
    make_week(app, actors.member)
    with app.app_context():
        stream = get_llm(app.config).stream(
            weekly_review_task(entries_of(actors.member.id), week=WEEK), user_id=actors.member.id)
        next(stream)
        stream.close()
        [row] = ledger()
    assert row.outcome == "cancelled" and row.completion_tokens > 0


def test_the_ledger_keeps_calls_of_a_deleted_user(app: Flask, actors) -> None:
    with app.app_context():
        get_llm(app.config).complete(ask_task("anything", []), user_id=actors.outsider.id)
        db.session.execute(sa.delete(User).where(User.id == actors.outsider.id))
        db.session.commit()
        [row] = ledger()
    assert row.user_id is None and row.purpose == "ask"


def test_each_call_is_counted_in_the_metrics(app: Flask, client, actors) -> None:
    from tests.ops_support import samples, value

    def scrape() -> dict:
        return samples(client.get("/metrics").get_data(as_text=True))

    before = scrape()
    with app.app_context():
        get_llm(app.config).complete(ask_task("anything", []), user_id=actors.member.id)
        [row] = ledger()
    after = scrape()
    assert value(after, "llm_requests_total", purpose="ask", outcome="ok") \
        - value(before, "llm_requests_total", purpose="ask", outcome="ok") == 1
    assert value(after, "llm_tokens_total", purpose="ask", kind="completion") \
        - value(before, "llm_tokens_total", purpose="ask", kind="completion") == row.completion_tokens

"""Realistic demo log entries: eight weeks of Korean and English work, per demo user."""

from __future__ import annotations

import random
from datetime import date, timedelta

from app.models import User
from app.services.log.entries import EntryData, create_entry

# (title, situation, task, action, result, category, impact, tags)
_TEMPLATES: list[tuple[str, str, str, str, str, str, str, list[str]]] = [
    ("결제모듈을 리팩터링", "결제 승인 로직이 세 군데에 중복되어 장애 때마다 수정 범위가 컸다.",
     "승인·취소 흐름을 하나의 서비스로 모은다.", "PaymentService로 추출하고 기존 호출부를 단계적으로 교체했다. 회귀 테스트 42개 추가.",
     "중복 코드 1,200줄 제거, 결제 오류 문의가 주당 9건에서 2건으로 줄었다.", "결제", "High", ["Python", "PostgreSQL"]),
    ("Cut CI time for the monorepo", "Pull requests waited ~25 minutes for CI, so people batched changes.",
     "Bring the median CI run under 10 minutes.", "Split the test suite across 4 runners, cached wheels and node_modules, skipped docs-only changes.",
     "Median CI time went from 24m to 8m; PRs per day up 30%.", "Developer experience", "High", ["GitHub Actions", "pytest"]),
    ("온보딩 문서 정리", "신규 입사자가 개발 환경 세팅에 평균 이틀이 걸렸다.", "하루 안에 첫 PR을 올릴 수 있게 한다.",
     "README와 setup 스크립트를 정리하고 자주 막히는 부분에 FAQ를 추가했다.", "이번 주 입사자 2명이 당일 첫 PR을 올렸다.", "문서", "Medium", ["Docs"]),
    ("Investigated slow dashboard queries", "The sales dashboard timed out every Monday morning.",
     "Find the slow queries and fix the worst ones.", "Ran EXPLAIN ANALYZE on the top 5 queries, added two composite indexes, rewrote one N+1 loop.",
     "p95 load time fell from 11s to 1.4s.", "Performance", "High", ["PostgreSQL", "SQLAlchemy"]),
    ("장애 회고 진행", "지난주 배포 후 30분간 로그인 장애가 있었다.", "원인과 재발 방지책을 팀과 합의한다.",
     "타임라인을 정리하고 5 Whys로 원인을 찾았다. 배포 전 스모크 테스트를 CI에 추가하기로 했다.", "재발 방지 액션 아이템 4개 합의, 담당자 지정.", "운영", "Medium", ["Incident"]),
    ("Reviewed API design for webhooks", "Partners asked for order-status webhooks.",
     "Agree on payload shape, retries and signing before building.", "Wrote a one-page proposal, reviewed it with two partners, added HMAC signing.",
     "Design approved; build starts next sprint.", "API", "Medium", ["OpenAPI", "Design"]),
    ("Redis 캐시 도입 검토", "상품 조회 API 응답이 피크 시간에 느려졌다.", "캐시가 효과적인지 측정한다.",
     "조회 패턴을 분석하고 TTL 5분 캐시를 스테이징에 적용해 부하 테스트를 했다.", "p95 응답 시간 420ms → 95ms, 캐시 적중률 87%.", "성능", "Medium", ["Redis", "k6"]),
    ("Mentored a new teammate", "A new engineer joined the payments squad.",
     "Help them ship their first feature with confidence.", "Paired twice on the refund flow and reviewed their first three PRs in detail.",
     "They shipped the partial-refund feature on their own.", "Team", "Low", ["Mentoring"]),
    ("의존성 보안 업데이트", "보안 스캐너가 취약한 패키지 6개를 보고했다.", "이번 주 안에 모두 패치한다.",
     "영향 범위를 확인하고 패키지를 올린 뒤 통합 테스트를 돌렸다.", "취약점 6건 모두 해소, 장애 없음.", "보안", "Medium", ["Dependabot", "Python"]),
    ("Wrote the Q4 migration plan", "The old job scheduler is end-of-life in March.",
     "Plan the move of 40 cron jobs with no missed runs.", "Inventoried every job, grouped by risk, and wrote a week-by-week cut-over plan.",
     "Plan reviewed and accepted by ops and two product teams.", "Planning", "Medium", ["Kubernetes", "CronJob"]),
    ("로그 마스킹 규칙 추가", "운영 로그에 이메일과 전화번호가 그대로 남고 있었다.", "개인정보를 로그에서 가린다.",
     "로깅 필터에 정규식 기반 마스킹을 추가하고 샘플 로그로 검증했다.", "개인정보 노출 0건, 보안 점검 통과.", "보안", "High", ["Logging", "Privacy"]),
    ("Fixed flaky checkout test", "One end-to-end test failed about 1 run in 10.",
     "Make it deterministic.", "Found a race between the cart update and the page render; waited on the network response instead of a timer.",
     "Zero failures in 200 runs.", "Quality", "Low", ["Playwright"]),
]

DEMO_WEEKS = 8


def demo_entries_for(user: User, today: date) -> list[EntryData]:
    rng = random.Random(user.email)  # noqa: S311 - demo data, reproducible per user
    entries = []
    start = today - timedelta(weeks=DEMO_WEEKS)
    day = start
    while day <= today:
        if day.weekday() < 5 and rng.random() < 0.7:
            for _ in range(rng.choice((1, 1, 1, 2))):
                t = rng.choice(_TEMPLATES)
                entries.append(EntryData(
                    work_date=day, title=t[0], situation=t[1], task=t[2], action=t[3],
                    result=t[4], category=t[5], impact=t[6], tags=list(t[7]),
                ))
        day += timedelta(days=1)
    return entries


def seed_entries(user: User, today: date) -> int:
    created = 0
    for data in demo_entries_for(user, today):
        create_entry(user, data)
        created += 1
    return created

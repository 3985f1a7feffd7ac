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
    ("Added idempotency keys to the orders API", "Mobile clients retried POST /orders on timeouts and created duplicates.",
     "Make retries safe without changing the clients much.", "Accepted an Idempotency-Key header, stored keys for 24 h, returned the first response on repeats.",
     "Duplicate orders dropped from ~15 a week to none.", "API", "High", ["Python", "PostgreSQL"]),
    ("정산 배치 실패 원인 분석", "월말 정산 배치가 두 달 연속 새벽에 실패했다.", "실패 원인을 찾고 재실행 절차를 만든다.",
     "배치 로그와 DB 락 대기를 분석해 대용량 UPDATE를 1만 건 단위로 나눴다.", "11월 정산 배치가 40분 만에 정상 종료, 재실행 런북 작성.", "운영", "High", ["Batch", "PostgreSQL"]),
    ("Ran the sprint planning for the payments squad", "The backlog had 60 tickets with no clear order.",
     "Leave planning with a realistic two-week commitment.", "Grouped tickets by goal, sized the top 15 with the team, cut scope on two risky ones.",
     "Committed to 11 tickets; carried over only one at the end of the sprint.", "Planning", "Low", ["Agile"]),
    ("검색 API 한글 형태소 처리 개선", "'결제내역'처럼 붙여 쓴 검색어가 결과를 못 찾았다.", "띄어쓰기 없이도 찾을 수 있게 한다.",
     "n-gram 색인을 추가하고 자주 쓰는 검색어 200개로 회귀 테스트를 만들었다.", "검색 결과 없음 비율 18% → 6%.", "검색", "Medium", ["Elasticsearch", "Korean"]),
    ("Upgraded the web app to Python 3.12", "We were two minor versions behind and missing security fixes.",
     "Upgrade without downtime.", "Fixed 14 deprecation warnings, rebuilt images, rolled out behind a canary for a day.",
     "All services on 3.12; cold start 12% faster.", "Maintenance", "Medium", ["Python", "Docker"]),
    ("고객 문의 대응: 환불 지연", "대형 고객사에서 환불이 3일째 처리되지 않는다는 문의가 왔다.", "원인을 찾고 고객에게 설명한다.",
     "PG사 응답 로그를 확인해 웹훅 서명 오류를 찾고 수동으로 재처리했다.", "환불 27건 당일 처리, 웹훅 서명 검증 모니터링 추가.", "고객 지원", "High", ["Webhook", "PG"]),
    ("Set up error budgets for checkout", "Alerts fired on every blip and people had started ignoring them.",
     "Alert on what users feel, not on every error.", "Defined a 99.9% availability SLO, built burn-rate alerts, removed 9 noisy alerts.",
     "Pages per week down from 12 to 2, none missed.", "Reliability", "Medium", ["Prometheus", "SLO"]),
    ("프런트엔드 번들 크기 줄이기", "모바일 첫 화면 로딩이 4초를 넘었다.", "초기 JS 번들을 절반으로 줄인다.",
     "차트 라이브러리를 지연 로딩하고 moment.js를 date-fns로 교체했다.", "초기 번들 820KB → 390KB, LCP 4.1초 → 2.3초.", "성능", "Medium", ["React", "Webpack"]),
    ("Interviewed two backend candidates", "We are hiring for the platform team.",
     "Give a fair, consistent signal.", "Ran the system-design interview, wrote structured feedback the same day.",
     "One strong hire recommendation, one no-hire with clear reasons.", "Hiring", "Low", ["Interviewing"]),
    ("데이터베이스 백업 복구 훈련", "백업은 매일 돌지만 실제 복구를 해본 적이 없었다.", "복구 시간을 측정하고 절차를 문서화한다.",
     "스테이징에 어제 백업을 복구하고 앱 동작을 확인했다.", "복구 47분, 누락 테이블 1개 발견해 백업 설정 수정.", "운영", "High", ["PostgreSQL", "Backup"]),
    ("Wrote the feature-flag cleanup script", "Over 80 feature flags were left in the code, half of them fully rolled out.",
     "Remove dead flags safely.", "Listed flags at 100% for 30+ days and opened one small PR per flag.",
     "Removed 37 flags and about 900 lines of code.", "Developer experience", "Low", ["TypeScript"]),
    ("사내 기술 세미나 발표", "팀 밖에서는 이벤트 소싱 도입 배경을 잘 몰랐다.", "다른 팀과 경험을 공유한다.",
     "30분 발표 자료를 만들고 질의응답을 정리해 위키에 올렸다.", "참석 45명, 두 팀이 후속 논의를 요청했다.", "공유", "Low", ["Event sourcing"]),
    ("Moved image uploads to presigned URLs", "Uploads went through the app servers and spiked their memory.",
     "Take uploads off the app servers.", "Issued presigned S3 URLs, uploaded from the browser, validated on a callback.",
     "App memory peaks down 40%; uploads up to 50 MB now work.", "Infrastructure", "Medium", ["S3", "Python"]),
    ("쿠폰 중복 사용 버그 수정", "같은 쿠폰이 동시에 두 번 적용되는 경우가 있었다.", "동시 요청에서도 한 번만 쓰이게 한다.",
     "쿠폰 사용을 조건부 UPDATE로 바꾸고 동시성 테스트를 추가했다.", "중복 사용 0건, 월 손실 약 120만 원 방지.", "결제", "High", ["PostgreSQL", "Concurrency"]),
    ("Reviewed the data retention policy", "Legal asked how long we keep user activity logs.",
     "Give an accurate answer and fix any gaps.", "Mapped every table with personal data and its retention; added a nightly purge for two tables.",
     "Policy document signed off; 2 tables now purged after 90 days.", "Compliance", "Medium", ["GDPR", "Privacy"]),
    ("모니터링 대시보드 정리", "대시보드가 50개가 넘어 장애 때 무엇을 봐야 할지 몰랐다.", "장애 대응용 핵심 대시보드를 만든다.",
     "서비스별 골든 시그널 4개로 한 장짜리 대시보드를 만들고 나머지는 보관 처리했다.", "온콜 담당자 설문에서 만족도 2.8 → 4.3.", "운영", "Low", ["Grafana"]),
    ("Paired with support on the refund tool", "Support needed engineers for every partial refund.",
     "Let support handle common refunds themselves.", "Watched three support sessions, then added a guarded partial-refund button to the admin tool.",
     "Engineer escalations for refunds down 70%.", "Tooling", "Medium", ["Admin", "Django"]),
    ("알림 발송 큐 분리", "마케팅 알림이 몰리면 결제 알림이 늦게 나갔다.", "중요 알림이 밀리지 않게 한다.",
     "큐를 우선순위별로 나누고 워커를 따로 배치했다.", "결제 알림 지연 p95 6분 → 8초.", "인프라", "High", ["RabbitMQ", "Celery"]),
    ("Triaged the accessibility audit", "An external audit listed 31 accessibility issues.",
     "Decide what to fix first.", "Grouped the issues by page and severity, fixed the 6 blockers the same week.",
     "Keyboard users can now finish checkout; plan for the rest agreed.", "Quality", "Medium", ["Accessibility", "axe"]),
    ("코드 리뷰 가이드 작성", "리뷰 코멘트 톤과 기준이 사람마다 달라 갈등이 있었다.", "팀 공통 기준을 만든다.",
     "좋은 리뷰 사례를 모아 한 페이지 가이드를 쓰고 팀 회의에서 합의했다.", "리뷰 평균 왕복 횟수 3.1 → 2.2회.", "팀", "Low", ["Code review"]),
]


DEMO_WEEKS = 8


def demo_entries_for(user: User, today: date) -> list[EntryData]:
    """A few entries on most workdays of the last eight weeks; each piece of work once (a
    person does not do the same thing five times), in an order of its own per user."""
    rng = random.Random(user.email)  # noqa: S311 - demo data, reproducible per user
    work = rng.sample(_TEMPLATES, len(_TEMPLATES))
    entries = []
    day = today - timedelta(weeks=DEMO_WEEKS)
    while day <= today and work:
        if day.weekday() < 5 and rng.random() < 0.6:
            for _ in range(rng.choice((1, 1, 2))):
                if not work:
                    break
                t = work.pop()
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

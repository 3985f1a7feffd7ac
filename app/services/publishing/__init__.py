"""Publishing approved weekly reviews to systems of record (Notion, Confluence), as jobs only.

    from app.services.publishing import queue_publications
    queue_publications(review)          # in the transition's transaction, before the commit
    db.session.commit()

One job (task `publish.review`, queue `publishing`) per configured destination carries the
review id and the destination; it reads the review when it runs. An approved review is
created or updated in place (the page id is kept per (review, destination) in `publications`);
any other status of an already published review is written to the page's status. A retried or
re-run job never makes a second page: the id is saved right after the create, and a run that
finds a create in flight without an id first looks the page up (Notion: by its Worklog link
property; Confluence: by title and link). Two runs for the same page never overlap (an
advisory lock per publication on PostgreSQL). Retryable failures (429, 5xx, timeouts) wait at
least Retry-After; after PUBLISH_MAX_ATTEMPTS, or at once for a permanent failure (bad token,
not shared, missing property), the publication is `failed` with a reason people can read,
and `on_publish_failed()` runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.models import Publication, ReviewStatus, User, WeeklyReview
from app.models.base import utcnow
from app.security.secrets import SecretUnreadable
from app.services.publishing import confluence, destinations, notion
from app.services.publishing.common import PageRef, PublishError, ReviewDoc

log = logging.getLogger("app.publishing")

TASK = "publish.review"
MAX_ATTEMPTS = 6
PUBLISHERS = {"notion": notion, "confluence": confluence}


# -- queueing ----------------------------------------------------------------------------------


def _publication(review: WeeklyReview, kind: str) -> Publication:
    row = db.session.scalar(sa.select(Publication).where(
        Publication.review_id == review.id, Publication.destination == kind))
    if row is None:
        row = Publication(review_id=review.id, owner_id=review.user_id, destination=kind,
                          state="queued", attempts=0)
        db.session.add(row)
    return row


def queue_publications(review: WeeklyReview, kinds: list[str] | None = None) -> int:
    """Queue one publish job per configured destination; returns how many (call before commit).

    An approved review is published; a review in any other status is queued only where a page
    exists already (to mark its status)."""
    count = 0
    for kind in kinds or destinations.configured_kinds():
        if kind not in PUBLISHERS or not destinations.configured(kind):
            continue
        existing = db.session.scalar(sa.select(Publication).where(
            Publication.review_id == review.id, Publication.destination == kind))
        if review.status != ReviewStatus.APPROVED.value and (existing is None
                                                             or not existing.external_id):
            continue
        row = existing or _publication(review, kind)
        if row.state != "creating":
            row.state = "queued"
        row.attempts = 0  # last_error stays until the next failure: the admin page shows it
        row.updated_at = utcnow()
        db.session.flush()
        jobs.enqueue(TASK, review_id=review.id, destination=kind, **_base_arg())
        count += 1
    return count


def _base_arg() -> dict[str, str]:
    """Without BASE_URL (development), the links in the page are built on the address of the
    request that queued the job; BASE_URL is required in production and always wins."""
    from flask import has_request_context, request

    if current_app.config.get("BASE_URL") or current_app.config.get("SERVER_NAME"):
        return {}
    return {"base": request.url_root} if has_request_context() else {}


def on_publish_failed(review: WeeklyReview, destination: str, reason: str) -> None:
    """Runs once when publishing `review` to `destination` failed for good (no more retries):
    the author and the admins get a "publishing failed" notification (and e-mail, by their
    preferences), committed here because the failing job's own transaction is over."""
    from app.services.notifications import notify_publish_failed
    from app.services.publishing.destinations import LABELS

    log.warning("publishing failed for good", extra={
        "review_id": review.id, "destination": destination, "reason": reason})
    try:
        notify_publish_failed(review, LABELS.get(destination, destination), reason)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


# -- the job -----------------------------------------------------------------------------------


def review_doc(review: WeeklyReview) -> ReviewDoc:
    from app.services.isoweek import IsoWeek
    from app.services.reviews.workflow import entry_count, verified_ids
    from app.urls import external_url

    author = review.user
    allowed = verified_ids(review, author)
    reviewer = db.session.get(User, review.reviewer_id) if review.reviewer_id else None
    approved = review.status == ReviewStatus.APPROVED.value
    return ReviewDoc(
        review_id=review.id, week=review.week, author=author.display_name or author.email,
        team=author.team.name if author.team else "", status=review.status,
        approved_by=(reviewer.display_name if reviewer and approved else ""),
        approved_at=review.reviewed_at if approved else None,
        entries_count=entry_count(author.id, IsoWeek.parse(review.week)),
        link=external_url("reviews.review", review_id=review.id), body=review.body or "",
        version=review.version,
        # Built now (links may need the request context this is built in), looked up later.
        link_for={i: external_url("log.detail", entry_id=i) for i in allowed}.get,
    )


@contextmanager
def _exclusive(review_id: int, kind: str) -> Iterator[bool]:
    """Whether this run may work on the page now (no other run of it is in flight)."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    key = f"publish:{review_id}:{kind}"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": key}).scalar()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": key})


def _max_attempts() -> int:
    return max(1, int(current_app.config.get("PUBLISH_MAX_ATTEMPTS") or MAX_ATTEMPTS))


@jobs.task(TASK, queue="publishing", max_attempts=MAX_ATTEMPTS,
           attempts_setting="PUBLISH_MAX_ATTEMPTS")
def publish_review(*, review_id: int, destination: str, base: str | None = None) -> str:
    """The job: bring `destination`'s page of the review in step with the review."""
    from app.metrics import observe_publish

    where = {"review_id": review_id, "destination": destination}
    review = db.session.get(WeeklyReview, review_id)
    if review is None or destination not in PUBLISHERS:
        log.info("publish skipped: the review no longer exists", extra=where)
        return "gone"
    with _exclusive(review_id, destination) as mine:
        if not mine:
            raise jobs.RetryLater("another run is publishing this review", retry_after=5)
        row = _publication(review, destination)
        row.attempts = (row.attempts or 0) + 1
        db.session.commit()

        page = PageRef.over(row)
        publisher = PUBLISHERS[destination]
        try:
            try:
                target = destinations.target(destination, review.user.team_id)
            except destinations.NotConfigured as exc:
                raise PublishError(str(exc) + ".") from None
            except SecretUnreadable as exc:
                raise PublishError(str(exc)) from None
            cfg = current_app.config
            if cfg.get("BASE_URL") or cfg.get("SERVER_NAME"):
                doc = review_doc(review)
            elif base:
                with current_app.test_request_context(base_url=base):
                    doc = review_doc(review)
            else:
                raise PublishError("Set BASE_URL: links back to Worklog cannot be built here.")
            if review.status == ReviewStatus.APPROVED.value:
                publisher.publish(target, doc, page)
                row.published_version = review.version
            elif page.external_id:
                publisher.mark_status(target, doc, page)
            else:
                row.state = "queued" if row.state == "failed" else row.state
                db.session.commit()
                return "nothing_to_do"
        except PublishError as exc:
            return _failed(review, row, page, exc, where)
        except Exception as exc:  # a bug or an unexpected answer: retried like a 5xx
            log.exception("publish attempt failed unexpectedly", extra=where)
            return _failed(review, row, page, PublishError(
                f"Unexpected error ({type(exc).__name__}); trying again.", retryable=True), where)
        row.external_id, row.url = page.external_id, page.url
        row.state, row.page_status = "published", review.status
        row.attempts = 0  # last_error stays: the admin page shows the last failure
        row.last_success_at = row.updated_at = utcnow()
        db.session.commit()
        observe_publish(destination, "published")
        log.info("review published", extra=where | {"page_id": row.external_id})
        return "published"


def _failed(review: WeeklyReview, row: Publication, page: PageRef, exc: PublishError,
            where: dict) -> str:
    from app.metrics import observe_publish

    db.session.rollback()
    row = db.session.get(Publication, row.id) or row
    row.external_id = page.external_id or row.external_id
    row.url = page.url or row.url
    row.last_error = exc.reason
    row.last_failure_at = row.updated_at = utcnow()
    final = not exc.retryable or row.attempts >= _max_attempts()
    if final:
        row.state = "failed"
    elif page.state == "creating" and not row.external_id:
        row.state = "creating"
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    log.warning("publish attempt failed: %s", exc.reason, extra=where | {"final": final})
    if not final:
        observe_publish(row.destination, "retried")
        raise jobs.RetryLater(exc.reason, exc.retry_after)
    observe_publish(row.destination, "failed")
    try:
        on_publish_failed(review, row.destination, exc.reason)
    except Exception:  # noqa: BLE001 - the hook must not hide the failure
        log.exception("on_publish_failed raised")
    raise jobs.GiveUp(exc.reason)


# -- reading -----------------------------------------------------------------------------------


def publications_for(review: WeeklyReview) -> list[Publication]:
    rows = db.session.scalars(sa.select(Publication).where(Publication.review_id == review.id))
    order = {kind: i for i, kind in enumerate(destinations.KINDS)}  # Notion · Confluence
    return sorted(rows, key=lambda row: order.get(row.destination, 99))


def stats() -> dict[str, dict]:
    """Per destination: counts by state, last success and last failure (with its reason)."""
    out: dict[str, dict] = {}
    for kind in destinations.KINDS:
        counts = dict(db.session.execute(sa.select(Publication.state, sa.func.count())
                                         .where(Publication.destination == kind)
                                         .group_by(Publication.state)).all())
        last_ok = db.session.scalar(sa.select(sa.func.max(Publication.last_success_at))
                                    .where(Publication.destination == kind))
        last_bad = db.session.scalar(sa.select(Publication).where(
            Publication.destination == kind, Publication.last_failure_at.is_not(None))
            .order_by(Publication.last_failure_at.desc()).limit(1))
        failed = list(db.session.scalars(sa.select(Publication).where(
            Publication.destination == kind, Publication.state == "failed")
            .order_by(Publication.last_failure_at.desc()).limit(20)))
        out[kind] = {"counts": counts, "last_success_at": last_ok, "last_failure": last_bad,
                     "failed": failed}
    return out


def backfill(since: str, kinds: list[str], dry_run: bool = False) -> list[tuple[int, str, str]]:
    """Approved reviews of week `since` and later not yet published at their current version
    (so an interrupted backfill resumes where it stopped): (review id, week, destination)."""
    reviews = db.session.scalars(sa.select(WeeklyReview).where(
        WeeklyReview.status == ReviewStatus.APPROVED.value, WeeklyReview.week >= since)
        .order_by(WeeklyReview.week, WeeklyReview.id)).all()
    done = {(r, d) for r, d in db.session.execute(sa.select(
        Publication.review_id, Publication.destination).join(
        WeeklyReview, WeeklyReview.id == Publication.review_id).where(
        Publication.state == "published",
        Publication.published_version == WeeklyReview.version)).all()}
    planned = [(r.id, r.week, kind) for r in reviews for kind in kinds if (r.id, kind) not in done]
    if not dry_run:
        by_id = {r.id: r for r in reviews}
        for review_id, _week, kind in planned:
            queue_publications(by_id[review_id], [kind])
    return planned


__all__ = ["TASK", "PublishError", "backfill", "on_publish_failed", "publications_for",
           "queue_publications", "review_doc", "stats"]

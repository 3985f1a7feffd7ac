"""E-mail over SMTP, sent by background jobs (task `mail.send`, queue `notifications`).

Settings: SMTP_URL (`smtp://user:password@host:587?starttls=1`, `smtps://…:465`) or SMTP_HOST,
SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS; MAIL_FROM. Without a host nothing is queued.

A message is rendered when the job runs, in the recipient's language (their locale, else the
default), as multipart text + HTML, with a signed one-click unsubscribe link in the body and
in `List-Unsubscribe` / `List-Unsubscribe-Post` (RFC 8058). It names the object and links to
it; it never quotes entry or review text, so nothing another person wrote reaches someone who
may not read it. A notification whose object the recipient can no longer see is dropped.

Temporary SMTP failures (4xx, connection errors) are retried by the job engine up to
MAIL_MAX_ATTEMPTS; permanent ones (5xx) fail the job. Each message has an idempotency key
written to job_effects after the server accepted it, so a re-run job does not send it twice.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.models import User

log = logging.getLogger("app.mail")

TASK = "mail.send"
UNSUBSCRIBE_SALT = "worklog-unsubscribe"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    starttls: bool
    ssl: bool
    timeout: float


def smtp_settings(cfg: dict | None = None) -> SmtpSettings | None:
    cfg = cfg if cfg is not None else current_app.config
    timeout = float(cfg.get("SMTP_TIMEOUT_SECONDS") or 10)
    url = (cfg.get("SMTP_URL") or "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            return None
        query = parse_qs(parts.query)
        secure = parts.scheme == "smtps"
        starttls = (query.get("starttls", ["1" if parts.port in (None, 587) else "0"])[0]
                    in ("1", "true", "yes")) and not secure
        return SmtpSettings(parts.hostname, parts.port or (465 if secure else 587),
                            unquote(parts.username) if parts.username else None,
                            unquote(parts.password) if parts.password else None,
                            starttls, secure, timeout)
    host = (cfg.get("SMTP_HOST") or "").strip()
    if not host:
        return None
    port = int(cfg.get("SMTP_PORT") or 587)
    return SmtpSettings(host, port, cfg.get("SMTP_USER") or None, cfg.get("SMTP_PASSWORD") or None,
                        bool(cfg.get("SMTP_STARTTLS", True)) and port != 465, port == 465, timeout)


def configured() -> bool:
    return smtp_settings() is not None


# --- unsubscribe ----------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user_id: int, topic: str) -> str:
    return _serializer().dumps({"u": user_id, "t": topic})


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    try:
        data = _serializer().loads(token[:500])
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("t"), str):
        return None
    return data["u"], data["t"]


def absolute(endpoint: str, **values: Any) -> str:
    from app.urls import external_url

    try:
        return external_url(endpoint, **values)
    except RuntimeError:  # no BASE_URL and no SERVER_NAME outside a request
        from flask import url_for

        with current_app.test_request_context(base_url="http://localhost"):
            return url_for(endpoint, _external=True, **values)


# --- queueing ---------------------------------------------------------------------------------


def queue_notification_email(user: User, kind: str, *, target_type: str, target_id: int,
                             actor_id: int | None, details: dict[str, Any]) -> bool:
    if not configured() or not user.email:
        return False
    jobs.enqueue(TASK, user_id=user.id, template="notification", topic=kind,
                 values={"target_type": target_type, "target_id": target_id,
                          "actor_id": actor_id, "details": details},
                 key=f"mail:{kind}:{user.id}:{uuid.uuid4().hex}")
    return True


def queue_reminder_email(user: User, kind: str, context: dict[str, Any], key: str) -> bool:
    if not configured() or not user.email:
        return False
    jobs.enqueue(TASK, user_id=user.id, template="reminder", topic=kind, values=context,
                 key=f"mail:{key}")
    return True


# --- rendering ----------------------------------------------------------------------------------


def locale_of(user: User) -> str:
    languages = current_app.config.get("LANGUAGES") or ["en"]
    return user.locale if user.locale in languages else current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def render(user: User, template: str, topic: str, context: dict[str, Any]) -> tuple[str, str, str] | None:
    """(subject, text, html) in the user's language, or None when there is nothing to send."""
    from app.services import notifications as notes

    unsubscribe = absolute("notifications.unsubscribe", token=unsubscribe_token(
        user.id, "reminders" if template == "reminder" else topic))
    with force_locale(locale_of(user)):
        values: dict[str, Any] = {"user": user, "unsubscribe_url": unsubscribe, "topic": topic,
                                  "settings_url": absolute("account.notification_settings")}
        if template == "notification":
            target_type, target_id = context["target_type"], int(context["target_id"])
            if not notes.can_see(user, topic, target_type, target_id):
                return None
            actor = db.session.get(User, context["actor_id"]) if context.get("actor_id") else None
            subject = notes.headline(topic, actor.display_name if actor else None,
                                     context.get("details") or {})
            endpoint, args = notes.target_endpoint(topic, target_type, target_id, user)
            values |= {"subject": subject, "link": absolute(endpoint, **args),
                       "details": context.get("details") or {}, "kind_label": notes.kind_label(topic)}
        else:
            from app.services.reminders import reminder_text

            subject, body, link = reminder_text(topic, context)
            values |= {"subject": subject, "body": body, "link": link}
        text = render_template(f"email/{template}.txt", **values)
        html = render_template(f"email/{template}.html", **values)
    return subject, text, html


def build_message(user: User, subject: str, text: str, html: str, unsubscribe_url: str,
                  key: str) -> EmailMessage:
    cfg = current_app.config
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = cfg.get("MAIL_FROM") or "worklog@localhost"
    msg["To"] = formataddr((user.display_name or "", user.email))
    msg["Message-ID"] = make_msgid(idstring=uuid.uuid5(uuid.NAMESPACE_URL, key).hex[:16])
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def deliver(settings: SmtpSettings, msg: EmailMessage) -> None:
    """Hand the message to the SMTP server; raises smtplib/OS errors."""
    context = ssl.create_default_context()
    cls = smtplib.SMTP_SSL if settings.ssl else smtplib.SMTP
    kwargs: dict[str, Any] = {"timeout": settings.timeout}
    if settings.ssl:
        kwargs["context"] = context
    with cls(settings.host, settings.port, **kwargs) as smtp:
        if settings.starttls:
            smtp.starttls(context=context)
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(msg)


@jobs.task(TASK, queue="notifications", max_attempts=6, attempts_setting="MAIL_MAX_ATTEMPTS")
def send_mail(*, user_id: int, template: str, topic: str, values: dict, key: str) -> str:
    # `values`, not `context`: procrastinate passes its job context positionally as `context`.
    from app.models import JobEffect

    if db.session.get(JobEffect, key) is not None:
        return "already_sent"
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or not user.email:
        return "no_recipient"
    settings = smtp_settings()
    if settings is None:
        return "not_configured"
    rendered = render(user, template, topic, values)
    if rendered is None:
        log.info("e-mail dropped: the recipient can no longer see its object", extra={"topic": topic})
        return "not_visible"
    subject, text, html = rendered
    unsubscribe = absolute("notifications.unsubscribe", token=unsubscribe_token(
        user.id, "reminders" if template == "reminder" else topic))
    msg = build_message(user, subject, text, html, unsubscribe, key)
    try:
        deliver(settings, msg)
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise jobs.RetryLater(f"smtp_{exc.smtp_code}") from None
        raise jobs.GiveUp(f"smtp_{exc.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _msg in exc.recipients.values()]
        if all(400 <= c < 500 for c in codes):
            raise jobs.RetryLater("recipient_deferred") from None
        raise jobs.GiveUp("recipient_refused") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise jobs.RetryLater(f"smtp_error: {type(exc).__name__}") from None
    db.session.add(JobEffect(key=key, task=TASK))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    log.info("e-mail sent", extra={"topic": topic, "template": template})
    return "sent"

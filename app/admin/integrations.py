"""/admin/integrations: where approved reviews are published (Notion, Confluence).

Settings in the environment win and are shown read-only. A token typed here is encrypted
(app/security/secrets.py) and never shown again (only its hint, e.g. ••••abcd); leaving the
field empty keeps the stored one. "Test connection" checks the credentials and the target and
says what is wrong. Teams may override the target. The page also shows, per destination, the
last success and failure, counts, the failed publications and the failed jobs.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app import jobs
from app.admin import bp
from app.admin.guard import recent_login_required
from app.extensions import db
from app.models import IntegrationDestination, Team
from app.models.base import utcnow
from app.security import secrets
from app.security.roles import admin_required
from app.services import publishing
from app.services.publishing import confluence, destinations, notion
from app.web import audit, redirect_for

FIELDS = {
    "notion": ("database_id", "data_source_id", "entries_database_id", "base_url"),
    "confluence": ("base_url", "email", "space_key", "parent_page_id"),
}
FIELD_MAX = 300


def _kind_or_404(kind: str) -> str:
    if kind not in destinations.KINDS:
        abort(404)
    return kind


def _failed_jobs() -> list:
    if jobs.backend() != "queue":
        return []
    from app.jobs import admin as job_admin
    from app.models import Publication

    failed = {(p.review_id, p.destination) for p in db.session.scalars(
        sa.select(Publication).where(Publication.state == "failed"))}
    # A failed job whose publication was published since (a retry) is no longer a problem.
    return [job for job in job_admin.failed(200) if job.task == publishing.TASK
            and (job.args.get("review_id"), job.args.get("destination")) in failed][:20]


def _page(results: dict[str, list[tuple[bool, str]]] | None = None, status: int = 200):
    teams = list(db.session.scalars(sa.select(Team).order_by(Team.name)))
    rows = {kind: destinations.org_row(kind) for kind in destinations.KINDS}
    overrides = {kind: {row.team_id: row for row in db.session.scalars(
        sa.select(IntegrationDestination).where(IntegrationDestination.kind == kind,
                                                IntegrationDestination.team_id.is_not(None)))}
        for kind in destinations.KINDS}
    return render_template(
        "admin/integrations.html", rows=rows, env={k: destinations.env_values(k)
                                                   for k in destinations.KINDS},
        env_names=destinations.ENV, fields=FIELDS, team_fields=destinations.TEAM_FIELDS,
        configured={k: destinations.configured(k) for k in destinations.KINDS},
        stats=publishing.stats(), failed_jobs=_failed_jobs(), teams=teams, overrides=overrides,
        results=results or {}, storable=secrets.storable(), labels=destinations.LABELS,
        notion_version=notion.NOTION_VERSION,
    ), status


@bp.get("/integrations")
@admin_required
def integrations() -> tuple[str, int]:
    return _page()


@bp.post("/integrations/<kind>")
@admin_required
@recent_login_required
def save_integration(kind: str) -> Response | tuple[str, int]:
    kind = _kind_or_404(kind)
    row = destinations.org_row(kind)
    if row is None:
        row = IntegrationDestination(kind=kind, team_id=None, settings={})
        db.session.add(row)
    settings = dict(row.settings or {})
    for name in FIELDS[kind]:
        value = (request.form.get(name) or "").strip()[:FIELD_MAX]
        if value:
            settings[name] = value
        else:
            settings.pop(name, None)
    row.settings = settings
    row.mirror_entries = request.form.get("mirror_entries") == "1"
    token = (request.form.get("token") or "").strip()
    changed_secret = False
    if request.form.get("clear_token") == "1":
        row.secret_encrypted, row.secret_hint, changed_secret = None, None, True
    elif token:
        try:
            secrets.require_storable()
        except secrets.SecretsUnavailable as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return _page(status=422)
        row.secret_encrypted = secrets.encrypt(token)
        row.secret_hint = secrets.hint(token)
        changed_secret = True
    row.updated_at = utcnow()
    audit("admin.integration_saved", target_type="integration", target_id=None,
          details={"kind": kind, "fields": sorted(settings), "secret_changed": changed_secret})
    db.session.commit()
    flash(_("%(name)s settings saved.", name=destinations.LABELS[kind]), "success")
    return redirect_for(url_for("admin.integrations"))


@bp.post("/integrations/<kind>/test")
@admin_required
def test_integration(kind: str) -> tuple[str, int]:
    kind = _kind_or_404(kind)
    add = kind == "notion" and request.form.get("add_missing") == "1"
    try:
        target = destinations.target(kind)
    except destinations.NotConfigured as exc:
        return _page({kind: [(False, str(exc) + ".")]})
    except secrets.SecretUnreadable as exc:
        return _page({kind: [(False, str(exc))]})
    results = notion.test_connection(target, add_missing=add) if kind == "notion" \
        else confluence.test_connection(target)
    audit("admin.integration_tested", target_type="integration", target_id=None,
          details={"kind": kind, "ok": all(ok for ok, _m in results), "added_properties": add})
    db.session.commit()
    return _page({kind: results})


@bp.post("/integrations/<kind>/teams")
@admin_required
@recent_login_required
def save_team_override(kind: str) -> Response:
    kind = _kind_or_404(kind)
    team = db.session.get(Team, request.form.get("team_id", type=int) or 0)
    if team is None:
        abort(404)
    values = {name: (request.form.get(name) or "").strip()[:FIELD_MAX]
              for name in destinations.TEAM_FIELDS[kind]}
    values = {k: v for k, v in values.items() if v}
    row = destinations.team_row(kind, team.id)
    if not values:
        if row is not None:
            db.session.delete(row)
    else:
        if row is None:
            row = IntegrationDestination(kind=kind, team_id=team.id)
            db.session.add(row)
        row.settings = values
        row.updated_at = utcnow()
    audit("admin.integration_team_saved", target_type="team", target_id=team.id,
          details={"kind": kind, "fields": sorted(values)})
    db.session.commit()
    flash(_("Override for %(team)s saved.", team=team.name) if values
          else _("Override for %(team)s removed.", team=team.name), "success")
    return redirect_for(url_for("admin.integrations"))

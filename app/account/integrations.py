"""Your repository connections (GitHub / GitHub Enterprise, GitLab) and your Slack link."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from app.account import bp
from app.extensions import db
from app.models import RepoConnection, SlackLink
from app.security.secrets import SecretsUnavailable
from app.services import repos
from app.web import audit, me, redirect_for


def _context() -> dict:
    user = me()
    rows = {row.provider: row for row in db.session.scalars(
        sa.select(RepoConnection).where(RepoConnection.user_id == user.id))}
    slack = db.session.scalars(sa.select(SlackLink).where(SlackLink.user_id == user.id)).all()
    return {"connections": rows, "slack_links": slack,
            "defaults": {p: repos.default_base_url(p) for p in repos.PROVIDERS},
            "provider_names": {"github": "GitHub", "gitlab": "GitLab"}}


@bp.get("/integrations")
@login_required
def integrations() -> str:
    """Connect GitHub or GitLab for suggestions; see your Slack link."""
    return render_template("account/integrations.html", **_context())


@bp.post("/integrations/<provider>")
@login_required
def connect_repo(provider: str) -> str | Response | tuple[str, int]:
    if provider not in repos.PROVIDERS:
        abort(404)
    token = (request.form.get("token") or "").strip()
    if not token or len(token) > 500:
        flash(_("Paste an access token."), "error")
        return render_template("account/integrations.html", **_context()), 422
    try:
        repos.connect(me(), provider, token, request.form.get("base_url"))
    except ValueError:
        db.session.rollback()
        flash(_("The address must start with http:// or https://."), "error")
        return render_template("account/integrations.html", **_context()), 422
    except SecretsUnavailable:
        db.session.rollback()
        flash(_("Tokens cannot be stored until the administrator sets INTEGRATIONS_KEY."), "error")
        return render_template("account/integrations.html", **_context()), 503
    audit("account.repository_connected", target_type="user", target_id=me().id,
          details={"provider": provider})
    db.session.commit()
    flash(_("Connected. Suggestions will appear on your work log shortly."), "success")
    return redirect_for(url_for("account.integrations"))


@bp.post("/integrations/<provider>/disconnect")
@login_required
def disconnect_repo(provider: str) -> Response:
    row = db.session.scalar(sa.select(RepoConnection).where(
        RepoConnection.user_id == me().id, RepoConnection.provider == provider))
    if row is None:
        abort(404)
    db.session.delete(row)
    audit("account.repository_disconnected", target_type="user", target_id=me().id,
          details={"provider": provider})
    db.session.commit()
    flash(_("Disconnected; the token was deleted."), "success")
    return redirect_for(url_for("account.integrations"))


@bp.post("/integrations/slack/<int:link_id>/unlink")
@login_required
def unlink_slack(link_id: int) -> Response:
    row = db.session.get(SlackLink, link_id)
    if row is None or row.user_id != me().id:
        abort(404)
    db.session.delete(row)
    audit("integrations.slack_unlinked", target_type="user", target_id=me().id, details={})
    db.session.commit()
    flash(_("Slack unlinked."), "success")
    return redirect_for(url_for("account.integrations"))

"""/admin/usage: LLM calls and tokens per day, per user and per purpose."""

from __future__ import annotations

from flask import render_template, request

from app.admin import bp
from app.models.base import utcnow
from app.security.roles import admin_required
from app.services.admin.usage import Period, usage_report


@bp.get("/usage")
@admin_required
def usage() -> str:
    """Usage for a period (?from=&to=, default the last 30 days), from the llm_calls ledger."""
    period = Period.from_args(request.args, utcnow().date())
    return render_template("admin/usage.html", report=usage_report(period))

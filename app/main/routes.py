"""The home page."""

from flask import render_template
from flask_login import current_user, login_required

from app.main import bp


@bp.get("/")
@login_required
def index() -> str:
    """Where a signed-in user lands."""
    return render_template("main/index.html", user=current_user)

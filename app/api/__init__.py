"""The JSON API under /api: Bearer personal API tokens only, no cookies, no CSRF."""

from flask import Blueprint

from app.extensions import csrf

bp = Blueprint("api", __name__)
# Cookies never authenticate here (see app/api/auth.py), so there is nothing for CSRF to protect.
csrf.exempt(bp)

from app.api import auth, routes  # noqa: E402,F401

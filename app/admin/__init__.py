from flask import Blueprint

bp = Blueprint("admin", __name__)

from app.admin import feedback, routes  # noqa: E402,F401

from flask import Blueprint

bp = Blueprint("suggestions", __name__)

from app.suggestions import routes  # noqa: E402,F401

from flask import Blueprint

bp = Blueprint("log", __name__)

from app.log import routes  # noqa: E402,F401

from flask import Blueprint

bp = Blueprint("log", __name__)

from app.log import routes, structure  # noqa: E402,F401
from app.log.pages import row_strings  # noqa: E402

bp.add_app_template_global(row_strings)

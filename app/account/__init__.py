from flask import Blueprint

bp = Blueprint("account", __name__)

from app.account import identities, integrations, notification_settings, routes, tokens  # noqa: E402,F401

"""Typed SQLAlchemy models, one module per aggregate."""

from app.models.audit import AuditEvent
from app.models.session import UserSession
from app.models.user import Role, Team, User

__all__ = ["AuditEvent", "Role", "Team", "User", "UserSession"]

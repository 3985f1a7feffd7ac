"""Typed SQLAlchemy models, one module per aggregate."""

from app.models.audit import AuditEvent
from app.models.llm import LLMCall
from app.models.log import Impact, LogEntry, LogEntryTag, LogEntryVersion
from app.models.session import UserSession
from app.models.user import Role, Team, User

__all__ = [
    "AuditEvent", "Impact", "LLMCall", "LogEntry", "LogEntryTag", "LogEntryVersion", "Role", "Team",
    "User", "UserSession",
]

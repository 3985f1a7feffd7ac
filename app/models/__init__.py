"""Typed SQLAlchemy models, one module per aggregate."""

from app.models.ask import AskQuestion
from app.models.audit import AuditEvent
from app.models.embedding import EntryEmbedding
from app.models.identity import UserIdentity
from app.models.invite import Invite
from app.models.job import JobEffect, JobError
from app.models.llm import LLMCall
from app.models.log import Impact, LogEntry, LogEntryTag, LogEntryVersion
from app.models.notification import (
    Notification,
    NotificationSettings,
    ReminderClaim,
    RepoConnection,
    SlackLink,
    Suggestion,
)
from app.models.publishing import EntryMirror, IntegrationDestination, Publication, PublishRate
from app.models.review import ReviewComment, ReviewStatus, WeeklyReview
from app.models.session import UserSession
from app.models.token import ApiToken
from app.models.user import Role, Team, User

__all__ = [
    "ApiToken", "AskQuestion", "AuditEvent", "EntryEmbedding", "EntryMirror", "Impact",
    "IntegrationDestination", "Invite", "JobEffect", "JobError", "LLMCall", "LogEntry",
    "Notification", "NotificationSettings", "Publication", "PublishRate", "ReminderClaim",
    "RepoConnection", "SlackLink", "Suggestion",
    "LogEntryTag", "LogEntryVersion", "ReviewComment", "ReviewStatus", "Role", "Team", "User",
    "UserIdentity", "UserSession", "WeeklyReview",
]

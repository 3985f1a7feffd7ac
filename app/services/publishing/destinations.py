"""Where reviews are published: the environment wins, then /admin/integrations; a team may
override the target (its own Notion database, its own Confluence space or parent page)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import IntegrationDestination
from app.security import secrets

KINDS = ("notion", "confluence")
LABELS = {"notion": "Notion", "confluence": "Confluence"}
# Settings a team may override, per kind.
TEAM_FIELDS = {"notion": ("database_id",), "confluence": ("space_key", "parent_page_id")}
# Environment variable of each setting (these win over the admin page).
ENV = {
    "notion": {"token": "NOTION_API_KEY", "database_id": "NOTION_DATABASE_ID",
               "entries_database_id": "NOTION_ENTRIES_DATABASE_ID", "base_url": "NOTION_BASE_URL"},
    "confluence": {"token": "CONFLUENCE_API_TOKEN", "base_url": "CONFLUENCE_BASE_URL",
                   "email": "CONFLUENCE_USER_EMAIL", "space_key": "CONFLUENCE_SPACE_KEY",
                   "parent_page_id": "CONFLUENCE_PARENT_PAGE_ID"},
}
REQUIRED = {"notion": ("token", "database_id"),
            "confluence": ("token", "base_url", "email", "space_key")}


class NotConfigured(Exception):  # noqa: N818
    pass


@dataclass(frozen=True)
class Target:
    kind: str
    token: str = field(repr=False)
    values: dict[str, str]
    # Which settings came from the environment (the admin page shows them read-only).
    from_env: frozenset[str] = frozenset()
    mirror_entries: bool = False

    def get(self, name: str) -> str:
        return (self.values.get(name) or "").strip()


def org_row(kind: str) -> IntegrationDestination | None:
    return db.session.scalar(sa.select(IntegrationDestination).where(
        IntegrationDestination.kind == kind, IntegrationDestination.team_id.is_(None)))


def team_row(kind: str, team_id: int) -> IntegrationDestination | None:
    return db.session.scalar(sa.select(IntegrationDestination).where(
        IntegrationDestination.kind == kind, IntegrationDestination.team_id == team_id))


def env_values(kind: str) -> dict[str, str]:
    cfg = current_app.config
    return {name: str(cfg.get(var) or "").strip() for name, var in ENV[kind].items()
            if str(cfg.get(var) or "").strip()}


def target(kind: str, team_id: int | None = None) -> Target:
    """The resolved destination for a review of `team_id`'s member; NotConfigured if incomplete.

    Raises secrets.SecretUnreadable when the stored token no longer opens (key changed)."""
    env = env_values(kind)
    row = org_row(kind)
    values: dict[str, str] = {}
    token = ""
    if row is not None:
        values.update({k: str(v) for k, v in (row.settings or {}).items() if v})
        if row.secret_encrypted and "token" not in env:
            token = secrets.decrypt(row.secret_encrypted)
    values.update({k: v for k, v in env.items() if k != "token"})
    token = env.get("token") or token
    if team_id is not None:
        override = team_row(kind, team_id)
        if override is not None:
            values.update({k: str(v) for k, v in (override.settings or {}).items()
                           if k in TEAM_FIELDS[kind] and v})
    missing = [name for name in REQUIRED[kind] if name != "token" and not values.get(name)]
    if not token or missing:
        raise NotConfigured(f"{LABELS[kind]} is not configured"
                            + (f" (missing: {', '.join(missing)})" if missing else ""))
    return Target(kind, token, values, frozenset(env), bool(row.mirror_entries) if row else False)


def complete(kind: str, env: dict[str, str], settings: dict | None, has_secret: bool) -> bool:
    """Whether the environment and an organisation row's settings make a usable destination."""
    merged = {k: v for k, v in (settings or {}).items() if v} | env
    has_token = "token" in env or has_secret
    return has_token and all(merged.get(n) for n in REQUIRED[kind] if n != "token")


def configured(kind: str) -> bool:
    """Whether `kind` has an organisation destination (environment or admin page); no network."""
    env = env_values(kind)
    if complete(kind, env, None, False):
        return True
    row = org_row(kind)
    return row is not None and complete(kind, env, row.settings, bool(row.secret_encrypted))


def configured_kinds() -> list[str]:
    return [kind for kind in KINDS if configured(kind)]

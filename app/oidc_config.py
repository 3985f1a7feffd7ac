"""OpenID Connect providers from the environment: OIDC_PROVIDERS=google,corp and OIDC_<NAME>_*.

Kept beside config.py (which calls `load_oidc_settings`) so the sign-in code and
`flask config check` read one description of a provider.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

DEFAULT_SCOPES = "openid email profile"
PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9]{0,31}$")
# Per-provider variables, after OIDC_<NAME>_.
PROVIDER_FIELDS = ("ISSUER", "CLIENT_ID", "CLIENT_SECRET", "LABEL", "SCOPES", "TRUST_EMAIL",
                   "ROLES_CLAIM", "ROLE_MAP", "TEAM_MAP")


class OidcConfigError(ValueError):
    """A provider variable is malformed; the message names it."""


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value not in (None, "") and value.strip() else None


def _truthy(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _mapping(name: str, raw: str | None) -> dict[str, str]:
    """`group:value,group2:value2` (a group name may not hold a comma or a colon)."""
    pairs: dict[str, str] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        group, sep, value = item.rpartition(":")
        if not sep or not group.strip() or not value.strip():
            raise OidcConfigError(f"{name} must look like 'group:value,other-group:value'; got {raw!r}.")
        pairs[group.strip()] = value.strip()
    return pairs


def provider_from_env(name: str) -> dict[str, Any]:
    prefix = f"OIDC_{name.upper()}_"
    values = {field: _env(prefix + field) for field in PROVIDER_FIELDS}
    scopes = (values["SCOPES"] or DEFAULT_SCOPES).replace(",", " ").split()
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    return {
        "name": name,
        "issuer": (values["ISSUER"] or "").rstrip("/"),
        "client_id": values["CLIENT_ID"] or "",
        "client_secret": values["CLIENT_SECRET"] or "",
        "label": values["LABEL"] or name.capitalize(),
        "scopes": " ".join(scopes),
        # Entra ID sends no email_verified; only a provider that checks every email may say so.
        "trust_email": _truthy(values["TRUST_EMAIL"], False),
        "roles_claim": values["ROLES_CLAIM"],
        "role_map": _mapping(prefix + "ROLE_MAP", values["ROLE_MAP"]),
        "team_map": _mapping(prefix + "TEAM_MAP", values["TEAM_MAP"]),
    }


def load_oidc_settings() -> dict[str, Any]:
    """The OIDC_* and PASSWORD_LOGIN settings, raising OidcConfigError on malformed ones."""
    names = [n.strip().lower() for n in (_env("OIDC_PROVIDERS") or "").split(",") if n.strip()]
    for name in names:
        if not PROVIDER_NAME.match(name):
            raise OidcConfigError(
                f"OIDC_PROVIDERS names must be letters and digits starting with a letter; got {name!r}."
            )
    if len(set(names)) != len(names):
        raise OidcConfigError("OIDC_PROVIDERS names a provider twice.")
    domains = [d.strip().lower().lstrip("@") for d in (_env("OIDC_ALLOWED_DOMAINS") or "").split(",")
               if d.strip()]
    return {
        "OIDC_PROVIDERS": [provider_from_env(name) for name in names],
        "OIDC_ALLOWED_DOMAINS": domains,
        "OIDC_LINK_BY_EMAIL": _truthy(_env("OIDC_LINK_BY_EMAIL"), True),
        "PASSWORD_LOGIN": _truthy(_env("PASSWORD_LOGIN"), True),
    }


def oidc_problems(settings: dict[str, Any]) -> list[str]:
    """What makes a configured provider unusable (issuer https outside development, secrets)."""
    problems = []
    production_like = settings.get("APP_ENV") in ("staging", "production")
    for provider in settings.get("OIDC_PROVIDERS") or []:
        prefix = f"OIDC_{provider['name'].upper()}_"
        issuer = provider["issuer"]
        parts = urlsplit(issuer)
        if not issuer:
            problems.append(f"{prefix}ISSUER is not set (e.g. https://accounts.google.com).")
        elif parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"{prefix}ISSUER must be an https URL; got {issuer!r}.")
        elif production_like and parts.scheme != "https":
            problems.append(f"{prefix}ISSUER must be https in {settings['APP_ENV']}; got {issuer!r}.")
        if not provider["client_id"]:
            problems.append(f"{prefix}CLIENT_ID is not set.")
        if not provider["client_secret"]:
            problems.append(f"{prefix}CLIENT_SECRET is not set.")
        for group, role in provider["role_map"].items():
            if role not in ("member", "lead", "admin"):
                problems.append(f"{prefix}ROLE_MAP maps {group!r} to {role!r}; use member, lead or admin.")
        if (provider["role_map"] or provider["team_map"]) and not provider["roles_claim"]:
            problems.append(f"{prefix}ROLE_MAP/TEAM_MAP need {prefix}ROLES_CLAIM (e.g. groups).")
    if settings.get("PASSWORD_LOGIN") is False and not settings.get("OIDC_PROVIDERS"):
        problems.append("PASSWORD_LOGIN is false but OIDC_PROVIDERS is empty: only break-glass "
                        "admins could sign in.")
    return problems


def describe_providers(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """(variable, shown value) for each provider, the secret masked."""
    rows = []
    for provider in settings.get("OIDC_PROVIDERS") or []:
        prefix = f"OIDC_{provider['name'].upper()}_"
        secret = provider["client_secret"]
        rows += [
            (prefix + "ISSUER", provider["issuer"] or "(not set)"),
            (prefix + "CLIENT_ID", provider["client_id"] or "(not set)"),
            (prefix + "CLIENT_SECRET",
             f"****** ({len(secret)} characters)" if secret else "(not set)"),
            (prefix + "LABEL", provider["label"]),
            (prefix + "SCOPES", provider["scopes"]),
        ]
        if provider["roles_claim"]:
            rows.append((prefix + "ROLES_CLAIM", provider["roles_claim"]))
    return rows

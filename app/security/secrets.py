"""Integration secrets at rest: Notion/Confluence tokens, GitHub/GitLab tokens, SMTP passwords.

They are stored encrypted with INTEGRATIONS_KEY (Fernet: AES-128-CBC + HMAC-SHA256, a
timestamp and a version byte). INTEGRATIONS_KEY may hold several keys separated by commas:
the first encrypts, all of them decrypt, so a key is rotated by putting the new one first
(secrets saved from then on use it; `rotate()` re-encrypts a stored value) and dropping the old
key once nothing needs it. Each key is any string of at least 32 characters (for example the output of
`python -c "import secrets; print(secrets.token_urlsafe(32))"`); a Fernet key is derived from it.

Without INTEGRATIONS_KEY, development and tests use a key derived from SECRET_KEY so the embedded
default works; production and staging refuse to store a secret (`SecretsUnavailable`, with a
message that says what to set). A stored secret is never shown again: pages show `hint()` only.

    from app.security import secrets
    secrets.require_storable()            # before accepting a secret from a form
    row.token_encrypted = secrets.encrypt(token)
    token = secrets.decrypt(row.token_encrypted)
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

MIN_KEY_LENGTH = 32
_PREFIX = "fernet:"
_DERIVATION_LABEL = b"worklog integrations key v1\x00"


class SecretsUnavailable(RuntimeError):
    """No key to encrypt with here; the message says what to set."""


class SecretUnreadable(RuntimeError):
    """A stored secret that none of the configured keys opens (the key changed)."""


def _fernet_key(material: str) -> bytes:
    digest = hashlib.sha256(_DERIVATION_LABEL + material.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest)


def configured_keys(config: dict | None = None) -> list[str]:
    config = config if config is not None else current_app.config
    raw = config.get("INTEGRATIONS_KEY") or ""
    return [k.strip() for k in raw.split(",") if k.strip()]


def key_problem(config: dict) -> str | None:
    """What is wrong with INTEGRATIONS_KEY for this environment, or None (for config check)."""
    keys = configured_keys(config)
    short = [k for k in keys if len(k) < MIN_KEY_LENGTH]
    if short:
        return f"INTEGRATIONS_KEY: every key must be at least {MIN_KEY_LENGTH} characters."
    if not keys and config.get("APP_ENV") in ("production", "staging"):
        return ("INTEGRATIONS_KEY is not set: integration secrets (Notion, Confluence, GitHub, "
                "SMTP) cannot be stored.")
    return None


def _fernet(config: dict | None = None) -> MultiFernet | None:
    config = config if config is not None else current_app.config
    keys = configured_keys(config)
    if not keys:
        if config.get("APP_ENV") in ("production", "staging") or not config.get("SECRET_KEY"):
            return None
        keys = ["derived-from-secret-key:" + str(config["SECRET_KEY"])]
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def storable(config: dict | None = None) -> bool:
    return _fernet(config) is not None


def require_storable(config: dict | None = None) -> None:
    if _fernet(config) is None:
        raise SecretsUnavailable(
            "Secrets cannot be stored: set INTEGRATIONS_KEY (at least 32 random characters) "
            "on every app instance and worker, then try again."
        )


def encrypt(plaintext: str, config: dict | None = None) -> str:
    fernet = _fernet(config)
    if fernet is None:
        require_storable(config)
    assert fernet is not None
    return _PREFIX + fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(stored: str, config: dict | None = None) -> str:
    fernet = _fernet(config)
    if fernet is None or not stored.startswith(_PREFIX):
        raise SecretUnreadable("This secret cannot be read: INTEGRATIONS_KEY is missing or changed.")
    try:
        return fernet.decrypt(stored[len(_PREFIX):].encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(
            "This secret cannot be read with the configured INTEGRATIONS_KEY; enter it again "
            "(or put the previous key back, after the new one)."
        ) from exc


def rotate(stored: str, config: dict | None = None) -> str:
    """The same secret encrypted with the first (newest) key."""
    fernet = _fernet(config)
    if fernet is None:
        require_storable(config)
    assert fernet is not None
    try:
        return _PREFIX + fernet.rotate(stored[len(_PREFIX):].encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise SecretUnreadable("A stored secret does not open with any configured key.") from exc


def hint(plaintext: str | None) -> str:
    """What a page may show of a stored secret: its length class and last 4 characters at most."""
    if not plaintext:
        return ""
    if len(plaintext) < 12:
        return "••••"
    return "••••" + plaintext[-4:]

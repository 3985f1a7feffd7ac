"""Argon2id password hashing.

Production uses argon2-cffi's defaults (Argon2id with the RFC 9106 low-memory parameters).
An app built with ``TESTING=True`` hashes with the cheapest parameters Argon2 allows, so a
test suite that signs in thousands of times does not spend its time in the hash; the
parameters are part of every stored hash, so either kind verifies under both.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

PRODUCTION_HASHER = PasswordHasher()
# For tests only (TESTING=True): one pass over 8 KiB.
TESTING_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def hasher() -> PasswordHasher:
    """The hasher for the current app: the production one unless the app is a test app."""
    if has_app_context() and current_app.config.get("TESTING"):
        return TESTING_HASHER
    return PRODUCTION_HASHER


@cache
def _dummy_hash(which: PasswordHasher) -> str:
    # Verifying against this when an email is unknown makes both answers take as long.
    return which.hash("worklog-timing-equaliser")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


def burn_verification_time(password: str) -> None:
    which = hasher()
    verify_password(_dummy_hash(which), password)

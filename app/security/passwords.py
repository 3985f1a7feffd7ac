"""Argon2id password hashing."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2-cffi's defaults are Argon2id with RFC 9106 parameters
# Verifying against this when an email is unknown makes both answers take as long.
_DUMMY_HASH = _hasher.hash("worklog-timing-equaliser")

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def burn_verification_time(password: str) -> None:
    verify_password(_DUMMY_HASH, password)

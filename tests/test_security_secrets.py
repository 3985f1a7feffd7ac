"""Integration secrets at rest: encrypted with INTEGRATIONS_KEY, rotatable, refused without a key."""

from __future__ import annotations

import pytest

from app.security import secrets

KEY_A = "integrations-key-a-0123456789-abcdefghijkl"
KEY_B = "integrations-key-b-0123456789-abcdefghijkl"


def test_a_secret_round_trips_and_is_not_stored_in_clear():
    config = {"APP_ENV": "production", "INTEGRATIONS_KEY": KEY_A}
    stored = secrets.encrypt("secret_notion_token_123", config)
    assert "secret_notion_token_123" not in stored
    assert stored != secrets.encrypt("secret_notion_token_123", config)  # fresh IV each time
    assert secrets.decrypt(stored, config) == "secret_notion_token_123"


def test_korean_and_long_values_round_trip():
    config = {"APP_ENV": "production", "INTEGRATIONS_KEY": KEY_A}
    value = "비밀번호-" + "x" * 5000
    assert secrets.decrypt(secrets.encrypt(value, config), config) == value


def test_rotation_keeps_old_secrets_readable_and_rotate_moves_them_to_the_new_key():
    old = {"APP_ENV": "production", "INTEGRATIONS_KEY": KEY_A}
    both = {"APP_ENV": "production", "INTEGRATIONS_KEY": f"{KEY_B}, {KEY_A}"}
    new_only = {"APP_ENV": "production", "INTEGRATIONS_KEY": KEY_B}
    stored = secrets.encrypt("token", old)
    assert secrets.decrypt(stored, both) == "token"
    with pytest.raises(secrets.SecretUnreadable, match="enter it again"):
        secrets.decrypt(stored, new_only)
    rotated = secrets.rotate(stored, both)
    assert secrets.decrypt(rotated, new_only) == "token"


def test_production_without_a_key_refuses_to_store_with_a_clear_message():
    config = {"APP_ENV": "production", "SECRET_KEY": "s" * 40}
    assert not secrets.storable(config)
    with pytest.raises(secrets.SecretsUnavailable, match="set INTEGRATIONS_KEY"):
        secrets.encrypt("token", config)


def test_development_without_a_key_uses_one_derived_from_the_secret_key():
    config = {"APP_ENV": "development", "SECRET_KEY": "s" * 40}
    stored = secrets.encrypt("token", config)
    assert secrets.decrypt(stored, config) == "token"
    with pytest.raises(secrets.SecretUnreadable):
        secrets.decrypt(stored, {"APP_ENV": "development", "SECRET_KEY": "t" * 40})


def test_a_value_that_was_never_encrypted_is_unreadable_not_returned():
    config = {"APP_ENV": "production", "INTEGRATIONS_KEY": KEY_A}
    with pytest.raises(secrets.SecretUnreadable):
        secrets.decrypt("plain-token", config)


def test_hint_shows_at_most_the_last_four_characters():
    assert secrets.hint("ntn_1234567890abcdef") == "••••cdef"
    assert secrets.hint("short") == "••••"
    assert secrets.hint("") == ""

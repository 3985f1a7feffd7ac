"""Password hashing: production parameters outside tests, cheap ones only in test apps."""

from __future__ import annotations

import argon2
from argon2.profiles import RFC_9106_LOW_MEMORY

from app import create_app
from app.extensions import db
from app.models import User
from app.security import passwords


def _parameters(encoded: str) -> argon2.Parameters:
    return argon2.extract_parameters(encoded)


def test_an_app_outside_tests_hashes_with_the_rfc_9106_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKLOG_INSTANCE_PATH", str(tmp_path))
    app = create_app({"APP_ENV": "development", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert not app.config["TESTING"]
    with app.app_context():
        encoded = passwords.hash_password("a long enough password")
    found = _parameters(encoded)
    assert found.type is argon2.Type.ID
    assert (found.time_cost, found.memory_cost, found.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism)
    # Without an app (a script, say) it is the production hasher too.
    assert _parameters(passwords.hash_password("x" * 12)).memory_cost == RFC_9106_LOW_MEMORY.memory_cost


def test_a_test_hash_is_upgraded_at_the_first_sign_in_outside_tests(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKLOG_INSTANCE_PATH", str(tmp_path))
    cheap = passwords.TESTING_HASHER.hash("a long enough password")
    app = create_app({"APP_ENV": "development", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    with app.app_context():
        user = User(email="someone@example.com", display_name="Someone", role="member", password_hash=cheap)
        db.session.add(user)
        assert user.check_password("a long enough password")
        assert _parameters(user.password_hash).memory_cost == RFC_9106_LOW_MEMORY.memory_cost
        assert user.check_password("a long enough password")
        db.session.rollback()


def test_the_test_apps_use_the_cheap_hasher(app):
    with app.app_context():
        assert _parameters(passwords.hash_password("a long enough password")).memory_cost == 8
